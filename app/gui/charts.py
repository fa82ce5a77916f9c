"""matplotlib canvases embedded in the window (learning curves, confusion matrices)."""

from __future__ import annotations

from typing import Any

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure

from app.learning.learning_curve import draw_curves


class ChartCanvas(FigureCanvasQTAgg):
    def __init__(self, width: float = 5, height: float = 3.5) -> None:
        super().__init__(Figure(figsize=(width, height), dpi=100))

    def plot_curves(self, series: dict[str, list[dict[str, Any]]], title: str,
                    ylabel: str | None = None, empty_note: str | None = None) -> None:
        draw_curves(self.figure, series, title=title, ylabel=ylabel, empty_note=empty_note)
        self.draw_idle()

    def plot_confusions(self, matrices: dict[str, list[list[int]] | None],
                        classes: list[str]) -> None:
        """Confusion matrices side by side as heat maps (rows: true class)."""
        self.figure.clear()
        shown = {name: m for name, m in matrices.items() if m}
        for i, (name, matrix) in enumerate(shown.items(), start=1):
            axes = self.figure.add_subplot(1, len(shown), i)
            image = axes.imshow(matrix, cmap="Blues")
            axes.set_title(name)
            axes.set_xlabel("predicted")
            axes.set_ylabel("true")
            ticks = range(len(classes))
            axes.set_xticks(list(ticks), classes, fontsize="x-small")
            axes.set_yticks(list(ticks), classes, fontsize="x-small")
            for row, values in enumerate(matrix):
                for col, value in enumerate(values):
                    if value:
                        axes.text(col, row, str(value), ha="center", va="center",
                                  fontsize="xx-small",
                                  color="white" if value > max(map(max, matrix)) / 2 else "black")
            self.figure.colorbar(image, ax=axes, fraction=0.046)
        self.figure.tight_layout()
        self.draw_idle()

    def axes_count(self) -> int:
        return len(self.figure.axes)
