"""One entry point for "has this import batch drifted?", with or without a model.

With a model, drift is how that model sees the batch against the pool it was
trained for (:func:`app.monitor.drift_report.drift_report`: embeddings,
predicted classes, confidence). Without one, or when asked, it is the
label-free embedding's view against the batches imported before
(:func:`app.monitor.label_free_drift.label_free_drift_report`). The CLI's
``drift``, the Monitor tab and the *Drifted* queue all come through here, so
they agree on which one a project gets.
"""

from __future__ import annotations

from collections.abc import Callable

from app.monitor.drift_report import (
    DEFAULT_ALPHA,
    DEFAULT_TOP,
    DriftReport,
    drift_report,
)
from app.monitor.label_free_drift import LabelFreeDriftReport, label_free_drift_report
from app.project.workspace import Workspace, WorkspaceError

FEATURES = ("auto", "model", "label-free")


def batch_drift(
    workspace: Workspace,
    batch_id: int | None = None,
    alpha: float = DEFAULT_ALPHA,
    top: int = DEFAULT_TOP,
    seed: int = 0,
    *,
    features: str = "auto",
    version_id: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DriftReport | LabelFreeDriftReport:
    """Drift of batch ``batch_id`` (default: the newest with samples).

    ``features``: ``"model"`` (the version's embeddings; needs a model),
    ``"label-free"`` (the pretrained backbone's embedding, else pixels +
    PCA; needs none) or ``"auto"``: the model's when the project has one
    (or ``version_id`` names one), else label-free.
    """
    if features not in FEATURES:
        raise WorkspaceError(f"features must be one of {', '.join(FEATURES)}, got {features!r}")
    if features == "auto":
        has_model = version_id is not None or workspace.latest_model() is not None
        features = "model" if has_model else "label-free"
    if features == "model":
        return drift_report(workspace, batch_id, alpha, top, seed, version_id=version_id,
                            progress=progress)
    if version_id is not None:
        raise WorkspaceError("--model names a version; label-free drift uses no model")
    return label_free_drift_report(workspace, batch_id, alpha, top, seed, progress=progress)
