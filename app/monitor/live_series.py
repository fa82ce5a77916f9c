"""Live accuracy as a time series, for the monitoring chart."""

from __future__ import annotations

from collections import deque
from typing import Any

from app.monitor.live_accuracy import RANDOM_SOURCE, LivePrediction


def running_accuracy(predictions: list[LivePrediction], window: int, *,
                     random_only: bool = False) -> list[dict[str, Any]]:
    """Accuracy over the last ``window`` counted labels, after each label.

    Points are ``{"n": labels so far, "accuracy": windowed accuracy,
    "created_at": time of the label}``, in label order.
    """
    recent: deque[bool] = deque(maxlen=window)
    points = []
    for prediction in predictions:
        if random_only and prediction.source != RANDOM_SOURCE:
            continue
        recent.append(prediction.correct)
        points.append({"n": len(points) + 1, "accuracy": sum(recent) / len(recent),
                       "created_at": prediction.created_at})
    return points
