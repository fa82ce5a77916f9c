"""Light and dark themes: one style-sheet template, two sets of colours.

The choice ("system", "light" or "dark") is stored per user.  "system"
follows the desktop's colour scheme as Qt reports it, live; where the
platform does not say (Qt.ColorScheme.Unknown) the dark theme is used, the
look Labelloop always had.  Charts take their colours from the widget
palette the style sheet sets, so they follow a switch without knowing
about themes (see :mod:`app.gui.charts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtWidgets import QApplication

STYLE_TEMPLATE = Path(__file__).resolve().parents[2] / "assets" / "style.qss"
SETTING = "view/theme"
CHOICES = ("system", "light", "dark")


@dataclass(frozen=True)
class Theme:
    name: str
    colors: dict[str, str]


DARK = Theme("dark", {
    "window": "#25282c", "text": "#e6e6e6", "muted": "#b8c4d0", "sunken": "#1b1d20",
    "border": "#3a3f44", "button": "#34393f", "button_border": "#4a5058",
    "button_hover": "#3e444b", "field": "#1f2226", "selection": "#2d5b8a",
    "selection_text": "#ffffff", "accent": "#3d7bbf", "chosen": "#2f6f3e",
    "chosen_border": "#4caf50", "suggested": "#4a4128", "suggested_border": "#e0b040",
    "suggested_text": "#e0c070", "alert": "#ff8a80", "disabled_text": "#7c848c",
    "labeled": "#7fd17f", "placeholder": "#3a3f44",
})
LIGHT = Theme("light", {
    "window": "#f3f4f6", "text": "#1d2125", "muted": "#44525f", "sunken": "#ffffff",
    "border": "#c5cad0", "button": "#e3e6ea", "button_border": "#b4bac2",
    "button_hover": "#d6dbe0", "field": "#ffffff", "selection": "#bcd4f0",
    "selection_text": "#10151a", "accent": "#3d7bbf", "chosen": "#cfe9d4",
    "chosen_border": "#3d9a50", "suggested": "#fbeec8", "suggested_border": "#b98500",
    "suggested_text": "#7a5600", "alert": "#c62828", "disabled_text": "#9aa1a8",
    # The pale green of the dark theme is unreadable on white (1.9:1): 5.1:1 here.
    "labeled": "#2e7d32", "placeholder": "#d6dbe0",
})
THEMES = {theme.name: theme for theme in (LIGHT, DARK)}


def resolve_theme(choice: str, scheme: Qt.ColorScheme) -> Theme:
    """The theme ``choice`` means under the desktop's colour ``scheme``."""
    if choice in THEMES:
        return THEMES[choice]
    return LIGHT if scheme == Qt.ColorScheme.Light else DARK


def style_sheet(theme: Theme) -> str:
    return Template(STYLE_TEMPLATE.read_text(encoding="utf-8")).substitute(theme.colors)


class ThemeManager(QObject):
    """Applies the chosen theme to the application and keeps following the system.

    Signals
    -------
    changed(str)
        The name of the theme now applied.
    """

    changed = Signal(str)

    def __init__(self, app: QApplication, settings: QSettings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.settings = settings
        saved = str(settings.value(SETTING, "system"))
        self.choice = saved if saved in CHOICES else "system"
        self.theme = DARK
        app.styleHints().colorSchemeChanged.connect(self._system_changed)

    def apply(self, choice: str | None = None) -> Theme:
        """Apply ``choice`` (remembered), or re-apply the current one."""
        if choice is not None:
            if choice not in CHOICES:
                raise ValueError(f"theme {choice!r}: choose one of {', '.join(CHOICES)}")
            self.choice = choice
            self.settings.setValue(SETTING, choice)
        self.theme = resolve_theme(self.choice, self.app.styleHints().colorScheme())
        self.app.setStyleSheet(style_sheet(self.theme))
        self.changed.emit(self.theme.name)
        return self.theme

    def _system_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self.choice == "system":
            self.apply()
