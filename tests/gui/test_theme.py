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
