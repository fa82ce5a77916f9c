"""Light and dark themes: chosen in View, remembered, followed by the charts."""

from __future__ import annotations

import matplotlib.colors as mcolors
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.gui.charts import ChartCanvas
from app.gui.main_window import MainWindow
from app.gui.theme import DARK, LIGHT, THEMES, resolve_theme, style_sheet


def test_the_system_scheme_decides_unless_a_theme_is_chosen():
    assert resolve_theme("system", Qt.ColorScheme.Light) is LIGHT
    assert resolve_theme("system", Qt.ColorScheme.Dark) is DARK
    assert resolve_theme("system", Qt.ColorScheme.Unknown) is DARK  # the look it always had
    assert resolve_theme("light", Qt.ColorScheme.Dark) is LIGHT


def test_every_colour_of_the_template_is_defined_by_both_themes():
    for theme in THEMES.values():
        sheet = style_sheet(theme)  # substitute() raises on a colour a theme lacks
        assert "$" not in sheet and theme.colors["window"] in sheet


def _hex(rgba) -> str:
    return mcolors.to_hex(rgba)


def test_switching_to_light_restyles_the_window_and_its_charts_and_is_remembered(
        qtbot, settings):
    window = MainWindow(settings, "gui-tester")
    qtbot.addWidget(window)
    canvas = ChartCanvas()
    window.setCentralWidget(canvas)
    window.show()
    canvas.plot_curves({}, "Learning curve", empty_note="no model yet")
    assert _hex(canvas.figure.get_facecolor()) == DARK.colors["window"]

    window.actions_by_name["theme_light"].trigger()
    QApplication.processEvents()
    assert LIGHT.colors["window"] in QApplication.instance().styleSheet()
    qtbot.waitUntil(lambda: _hex(canvas.figure.get_facecolor()) == LIGHT.colors["window"])
    axes = canvas.figure.axes[0]
    assert _hex(axes.title.get_color()) == LIGHT.colors["text"]
    checked = [name for name in ("theme_system", "theme_light", "theme_dark")
               if window.actions_by_name[name].isChecked()]
    assert checked == ["theme_light"]
    window.close()

    again = MainWindow(settings, "gui-tester")
    qtbot.addWidget(again)
    assert again.theme.theme is LIGHT and again.actions_by_name["theme_light"].isChecked()
    again.actions_by_name["theme_system"].trigger()  # leave the application as tests expect
    again.close()


def _luminance(color) -> float:
    r, g, b = mcolors.to_rgb(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_confusion_matrices_are_drawn_in_the_theme_with_readable_counts(qtbot, settings):
    window = MainWindow(settings, "gui-tester")
    qtbot.addWidget(window)
    canvas = ChartCanvas(8, 3.5)
    window.setCentralWidget(canvas)
    window.actions_by_name["theme_dark"].trigger()
    window.show()
    qtbot.waitExposed(window)
    canvas.plot_confusions({"v1": [[5, 1], [0, 4]], "v2": [[9, 0], [2, 7]]}, ["cat", "dog"])

    def zero_colour() -> str:
        image = canvas.figure.axes[0].images[0]
        return _hex(image.cmap(image.norm(0)))

    # An empty cell is the chart's own background, not a white square on a dark chart.
    assert zero_colour() == DARK.colors["window"]
    heat_maps = [axes.images[0] for axes in canvas.figure.axes if axes.images]
    assert [image.norm.vmax for image in heat_maps] == [9, 9]  # one scale: 4 is 4 in both
    for axes in canvas.figure.axes[:1]:
        image = axes.images[0]
        for note in axes.texts:
            assert note.get_fontsize() >= 8  # readable, not x-small on a 300 px chart
            row, col = (round(v) for v in (note.get_position()[1], note.get_position()[0]))
            cell = image.cmap(image.norm(image.get_array()[row, col]))
            assert abs(_luminance(note.get_color()) - _luminance(cell)) > 0.35

    window.actions_by_name["theme_light"].trigger()
    qtbot.waitUntil(lambda: zero_colour() == LIGHT.colors["window"])
    window.actions_by_name["theme_system"].trigger()  # leave the application as tests expect
    window.close()


def _contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours."""
    def relative(color: str) -> float:
        channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
                    for c in mcolors.to_rgb(color)]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    high, low = sorted((relative(a), relative(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_labeled_captions_in_the_grid_are_readable_in_both_themes(qtbot, window):
    labeled = window.project.current.sample_id
    qtbot.keyClick(window, "1")
    model = window.workbench.grid_model
    row = next(r for r, item in enumerate(window.project.queue) if item.sample_id == labeled)
    for action, theme in (("theme_light", LIGHT), ("theme_dark", DARK)):
        window.actions_by_name[action].trigger()
        caption = model.data(model.index(row), Qt.ItemDataRole.ForegroundRole).name()
        assert caption == theme.colors["labeled"]
        # On the grid's background, the caption reads at least as well as large text must.
        assert _contrast(caption, theme.colors["sunken"]) >= 4.5
    window.actions_by_name["theme_system"].trigger()  # leave the application as tests expect
