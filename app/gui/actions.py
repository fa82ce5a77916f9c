"""Every menu action of the main window, declared in one place."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu


@dataclass(frozen=True)
class ActionSpec:
    menu: str
    name: str          # the MainWindow method it calls: on_<name>
    text: str
    # Written out (not QKeySequence.StandardKey) so that the key list of the
    # overlay and the README says the same on every platform; Qt shows Ctrl
    # as Cmd on macOS.
    shortcut: str | None = None
    needs_project: bool = True
    checkable: bool = False


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("&File", "new_project", "&New project…", "Ctrl+N", False),
    ActionSpec("&File", "open_project", "&Open project…", "Ctrl+O", False),
    ActionSpec("&File", "import_images", "&Import images…", "Ctrl+I"),
    ActionSpec("&File", "import_labels", "Import &labels (CSV)…", "Ctrl+Shift+L"),
    ActionSpec("&File", "export", "&Export dataset…", "Ctrl+E"),
    ActionSpec("&File", "settings", "&Settings…", "Ctrl+,"),
    ActionSpec("&File", "quit", "&Quit", "Ctrl+Q", False),
    ActionSpec("&Label", "undo", "&Undo last label   (Backspace)", None),
    ActionSpec("&Label", "new_failure_set", "Choose &failure set for F…", None),
    ActionSpec("&Label", "suggest_mode", "&Suggest the model's class (Enter accepts)", "Ctrl+G",
               checkable=True),
    # No shortcuts here: the keys belong to the keyboard table (app.gui.key_bindings).
    ActionSpec("&Label", "review_accept", "&Accept label (review)   (Ctrl+Return)", None),
    ActionSpec("&Label", "review_reject", "Re&ject label (review)   (Ctrl+Backspace)", None),
    ActionSpec("&Label", "rebuild_queue", "&Rebuild queue", "F5"),
    ActionSpec("&Label", "go_to", "&Go to sample (id or file name)…", "Ctrl+L"),
    ActionSpec("&Label", "manage_classes", "&Classes (add, rename, order, keys, colours)…",
               "Ctrl+Shift+K"),
    ActionSpec("&View", "theme_system", "Theme: follow the &system", None, False, True),
    ActionSpec("&View", "theme_light", "Theme: &light", None, False, True),
    ActionSpec("&View", "theme_dark", "Theme: &dark", None, False, True),
    # No shortcut here: ? and F1 belong to the keyboard table (app.gui.key_bindings).
    ActionSpec("&Help", "show_keys", "&Keyboard shortcuts   (? or F1)", None, False),
)


def menu_shortcuts() -> list[tuple[str, str]]:
    """(key, "Menu ▸ Item") for every menu action that has a key, in menu order.

    Listed by the ``?`` overlay and the README's keyboard table beside the
    labeling keys, so that every key of the window is in one list.
    """
    return [(spec.shortcut, f"{_plain(spec.menu)} ▸ {_plain(spec.text)}")
            for spec in ACTIONS if spec.shortcut is not None]


def _plain(text: str) -> str:
    """A menu text without its mnemonic ``&`` or a key already named in it."""
    return text.replace("&", "").split("   (")[0]


def install_actions(window: QMainWindow) -> dict[str, QAction]:
    """Create the menus and actions; return them by name."""
    menus: dict[str, QMenu] = {}
    actions: dict[str, QAction] = {}
    for spec in ACTIONS:
        menu = menus.get(spec.menu) or menus.setdefault(
            spec.menu, window.menuBar().addMenu(spec.menu))
        action = QAction(spec.text, window)
        action.setObjectName(f"action_{spec.name}")
        if spec.shortcut is not None:
            action.setShortcut(QKeySequence(spec.shortcut))
        action.setCheckable(spec.checkable)
        action.triggered.connect(getattr(window, f"on_{spec.name}"))
        action.setProperty("needs_project", spec.needs_project)
        menu.addAction(action)
        actions[spec.name] = action
    return actions
