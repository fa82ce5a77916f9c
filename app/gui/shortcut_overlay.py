"""The list of every key (``?`` or F1), built from the same table the keys run on."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.gui.actions import menu_shortcuts
from app.gui.key_bindings import BINDINGS, CLASS_KEYS_ROW


def shortcuts_html(class_keys: dict[str, str]) -> str:
    """The overlay's text: the bindings by group, the menus' keys, this project's class keys.

    ``class_keys`` maps a key to its class name (as ``class_shortcuts`` gives).
    """
    rows: list[str] = []
    groups: dict[str, list] = {}  # each group once, in the order of its first key
    for binding in BINDINGS:
        groups.setdefault(binding.group, []).append(binding)
    for group, bindings in groups.items():
        rows.append(f"<tr><td colspan=2><h3>{escape(group)}</h3></td></tr>")
        for binding in bindings:
            keys = " or ".join(f"<b>{escape(key)}</b>" for key in binding.keys)
            rows.append(f"<tr><td>{keys}</td><td>{escape(binding.description)}</td></tr>")
    rows.append("<tr><td colspan=2><h3>Menus</h3></td></tr>")
    for key, where in menu_shortcuts():
        rows.append(f"<tr><td><b>{escape(key)}</b></td><td>{escape(where)}</td></tr>")
    rows.append("<tr><td colspan=2><h3>Classes</h3></td></tr>")
    rows.append(f"<tr><td><b>{escape(CLASS_KEYS_ROW[0])}</b></td>"
                f"<td>{escape(CLASS_KEYS_ROW[1])}</td></tr>")
    for key, name in class_keys.items():
        rows.append(f"<tr><td><b>{escape(key.upper())}</b></td><td>{escape(name)}</td></tr>")
    return "<table cellspacing=4>" + "".join(rows) + "</table>"


class ShortcutOverlay(QDialog):
    """A dialog listing every key; Esc, Enter or ``?`` again closes it."""

    def __init__(self, parent: QWidget, class_keys: dict[str, str]) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutOverlay")
        self.setWindowTitle("Keyboard shortcuts")
        text = QLabel(shortcuts_html(class_keys))
        text.setObjectName("shortcutList")
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setWordWrap(True)  # long descriptions wrap instead of scrolling sideways
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scroll = QScrollArea()
        scroll.setWidget(text)
        scroll.setWidgetResizable(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(buttons)
        self.resize(640, 680)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.text() == "?" or event.key() == Qt.Key.Key_F1:
            self.reject()
            return
        super().keyPressEvent(event)
