"""matplotlib canvases embedded in the window (learning curves, confusion matrices).

A canvas takes its colours from its own palette, which the theme's style
sheet sets, and redraws when the palette changes: charts follow a switch
between light and dark without knowing about themes.
"""

from __future__ import annotations

from typing import Any

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.colors import LinearSegmentedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette

from app.learning.learning_curve import draw_curves


class ChartCanvas(FigureCanvasQTAgg):
    def __init__(self, width: float = 5, height: float = 3.5) -> None:
        super().__init__(Figure(figsize=(width, height), dpi=100))
        self._layout_due = False  # drawn while hidden: lay out when first shown
        # The heat maps' colours come from the theme: drawn again on a switch.
        self._confusions: tuple[dict, list[str]] | None = None

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
            for image in axes.images:
                colorbar = getattr(image, "colorbar", None)
                if colorbar is not None:
                    colorbar.outline.set_edgecolor(lines)
        for text_artist in self.figure.texts:
            text_artist.set_color(text)
        if self.isVisible():
            self.draw_idle()
        # else: drawn when shown (showEvent); a hidden tab's chart costs nothing at open.

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.lay_out_if_due()
        self.draw_idle()

    def lay_out_if_visible(self) -> None:
        """Lay out again after adding to a chart (now if shown, else when shown)."""
        if self.isVisible():
            self.figure.tight_layout()
        else:
            self._layout_due = True

    def lay_out_if_due(self) -> None:
        if self._layout_due:
            self._layout_due = False
            self.figure.tight_layout()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            drawn = getattr(self, "_confusions", None)  # None during the base __init__
            if drawn is not None:
                self.plot_confusions(*drawn)  # recolours as it draws
            else:
                self.apply_colors()

    def plot_curves(self, series: dict[str, list[dict[str, Any]]], title: str,
                    ylabel: str | None = None, empty_note: str | None = None) -> None:
        # A hidden tab's chart is laid out when shown: the two charts of the
        # tabs behind Label cost half a second of every project's opening.
        visible = self.isVisible()
        self._confusions = None
        draw_curves(self.figure, series, title=title, ylabel=ylabel, empty_note=empty_note,
                    layout=visible)
        self._layout_due = not visible
        self.apply_colors()

    def plot_confusions(self, matrices: dict[str, list[list[int]] | None],
                        classes: list[str]) -> None:
        """Confusion matrices side by side as heat maps (rows: true class).

        One colour scale for all of them, so the same count looks the same in
        each; it runs from the theme's background (zero) to its accent, and
        is drawn again when the theme changes.
        """
        self._confusions = (matrices, classes)
        self.figure.clear()
        shown = {name: m for name, m in matrices.items() if m}
        background, text, _lines = self.colors()
        colormap = heat_colormap(background, text)
        highest = max((max(map(max, m)) for m in shown.values()), default=1) or 1
        size = cell_font_size(len(classes))
        for i, (name, matrix) in enumerate(shown.items(), start=1):
            axes = self.figure.add_subplot(1, len(shown), i)
            image = axes.imshow(matrix, cmap=colormap, vmin=0, vmax=highest)
            axes.set_title(name)
            axes.set_xlabel("predicted")
            axes.set_ylabel("true")
            ticks = range(len(classes))
            axes.set_xticks(list(ticks), classes, fontsize="small")
            axes.set_yticks(list(ticks), classes, fontsize="small")
            for row, values in enumerate(matrix):
                for col, value in enumerate(values):
                    if value:
                        cell = colormap(value / highest)
                        axes.text(col, row, str(value), ha="center", va="center",
                                  fontsize=size, color=readable_on(cell, background, text))
            bar = self.figure.colorbar(image, ax=axes, fraction=0.046)
            bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 2.5
        self._layout_due = not self.isVisible()
        if not self._layout_due:
            self.figure.tight_layout()
        self.apply_colors()

    def axes_count(self) -> int:
        return len(self.figure.axes)


ACCENT = "#3d7bbf"  # the themes' accent (app.gui.theme): one hue for counts in both


def heat_colormap(background: str, text: str) -> LinearSegmentedColormap:
    """Zero in the chart's own background, the most in the accent moved toward the text.

    On the dark theme an empty cell is dark and the fullest a light blue; on
    the light theme the other way round: never a white map on a dark chart
    that outshines every count.
    """
    strongest = tuple(0.7 * a + 0.3 * t for a, t in zip(to_rgb(ACCENT), to_rgb(text),
                                                         strict=True))
    return LinearSegmentedColormap.from_list("theme_heat", [background, strongest])


def readable_on(cell: tuple[float, ...], background: str, text: str) -> str:
    """Of the theme's text and background colours, the one that contrasts more with ``cell``."""
    def luminance(color) -> float:
        r, g, b = to_rgb(color)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    level = luminance(cell)
    return max((text, background), key=lambda c: abs(luminance(c) - level))


def cell_font_size(n_classes: int) -> float:
    """Points for the counts in the cells: 10 up to ten classes, smaller with more, never below 6."""
    return max(6.0, min(10.0, 100.0 / max(n_classes, 1)))
