"""matplotlib canvases embedded in the window (learning curves, confusion matrices).

A canvas takes its colours from its own palette, which the theme's style
sheet sets, and redraws when the palette changes: charts follow a switch
between light and dark without knowing about themes.
"""

from __future__ import annotations

from typing import Any

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette

from app.learning.learning_curve import draw_curves


class ChartCanvas(FigureCanvasQTAgg):
    def __init__(self, width: float = 5, height: float = 3.5) -> None:
        super().__init__(Figure(figsize=(width, height), dpi=100))
        self._layout_due = False  # drawn while hidden: lay out when first shown

    def colors(self) -> tuple[str, str, str]:
        """(background, text, lines) from the palette the style sheet set.

        Lines (axes, grid) are the text colour 35% of the way from the
        background: visible on either theme without competing with the data.
        """
        palette = self.palette()
        background = palette.color(QPalette.ColorRole.Window)
        text = palette.color(QPalette.ColorRole.WindowText)
        lines = QColor.fromRgbF(*(0.35 * t + 0.65 * b for t, b in zip(
            (text.redF(), text.greenF(), text.blueF()),
            (background.redF(), background.greenF(), background.blueF()), strict=True)))
        return background.name(), text.name(), lines.name()

    def apply_colors(self) -> None:
        """Recolour the figure, its axes, labels and legends in the palette's colours."""
        background, text, lines = self.colors()
        self.figure.set_facecolor(background)
        for axes in self.figure.axes:
            axes.set_facecolor(background)
            for spine in axes.spines.values():
                spine.set_color(lines)
            axes.tick_params(colors=text, which="both")
            for label in (axes.title, axes.xaxis.label, axes.yaxis.label):
                label.set_color(text)
            for line in axes.get_xgridlines() + axes.get_ygridlines():
                line.set_color(lines)
            for note in axes.texts:
                if note.get_transform() == axes.transAxes:  # a note on the chart, not a cell value
                    note.set_color(text)
            legend = axes.get_legend()
            if legend is not None:
                legend.get_frame().set_facecolor(background)
                legend.get_frame().set_edgecolor(lines)
                for entry in legend.get_texts():
                    entry.set_color(text)
        for text_artist in self.figure.texts:
            text_artist.set_color(text)
        if self.isVisible():
            self.draw_idle()
        # else: drawn when shown (showEvent); a hidden tab's chart costs nothing at open.

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.lay_out_if_due()
        self.draw_idle()

    def lay_out_if_due(self) -> None:
        if self._layout_due:
            self._layout_due = False
            self.figure.tight_layout()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            self.apply_colors()

    def plot_curves(self, series: dict[str, list[dict[str, Any]]], title: str,
                    ylabel: str | None = None, empty_note: str | None = None) -> None:
        # A hidden tab's chart is laid out when shown: the two charts of the
        # tabs behind Label cost half a second of every project's opening.
        visible = self.isVisible()
        draw_curves(self.figure, series, title=title, ylabel=ylabel, empty_note=empty_note,
                    layout=visible)
        self._layout_due = not visible
        self.apply_colors()

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
        self._layout_due = not self.isVisible()
        if not self._layout_due:
            self.figure.tight_layout()
        self.apply_colors()

    def axes_count(self) -> int:
        return len(self.figure.axes)
