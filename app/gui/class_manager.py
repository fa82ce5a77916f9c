"""Label ▸ Classes…: add, rename, remove, reorder, colour and key the project's classes.

Each change is written to the project at once (as ``labelloop classes`` does)
and the window follows through :attr:`ProjectModel.classesChanged`; a change
the project refuses (a name in use, a class still carried by samples, a key
another class has) is shown in the dialog and nothing changes.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.class_keys import CLASS_KEYS
from app.domain.errors import WorkspaceError
from app.gui.project_model import ProjectModel

#: The key box's first entry: no key chosen, the project's rule picks one.
NEXT_FREE_KEY = "next free"
OWN_KEY = "own name"
COLUMNS = ("Class", "Key", "Colour", "Labeled")


class ClassManager(QDialog):
    """A table of the classes with the actions on the selected one."""

    def __init__(self, project: ProjectModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.setWindowTitle("Classes")
        self.setObjectName("classManager")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemChanged.connect(self._name_edited)
        self.problem = QLabel()
        self.problem.setObjectName("classProblem")
        self.problem.setWordWrap(True)

        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for name, text, slot in (("add", "Add…", self._ask_add),
                                 ("remove", "Remove", self.remove_selected),
                                 ("up", "Move up", lambda: self.move_selected(-1)),
                                 ("down", "Move down", lambda: self.move_selected(+1)),
                                 ("close", "Close", self.accept)):
            button = QPushButton(text)
            button.setObjectName(f"class_{name}")
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[name] = button
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Double-click a name to rename it. A class that samples "
                                "carry cannot be removed: relabel them or rename it."))
        layout.addWidget(self.table)
        layout.addWidget(self.problem)
        layout.addLayout(buttons)
        self.resize(600, 560)
        self.reload()

    # -- the table ----------------------------------------------------------------

    def reload(self, select: str | None = None) -> None:
        styles = self.project.workspace.class_styles()
        keys = {name: key for key, name in self.project.shortcuts().items()}
        counts = self.project.status()["per_class"]
        self.table.blockSignals(True)  # filling cells is not renaming
        # Rows out first: their key boxes and colour buttons go with them
        # (deleted later, so a box may trigger the reload that removes it).
        self.table.setRowCount(0)
        self.table.setRowCount(len(styles))
        for row, (name, style) in enumerate(styles.items()):
            item = QTableWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.table.setItem(row, 0, item)
            self.table.setCellWidget(row, 1, self._key_box(name, style.key, keys.get(name)))
            self.table.setCellWidget(row, 2, self._colour_button(name, style.colour))
            count = QTableWidgetItem(f"{counts.get(name, 0):,}")
            count.setFlags(count.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, 3, count)
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        if select is not None and select in styles:
            self.table.selectRow(list(styles).index(select))

    def _key_box(self, name: str, chosen: str | None, effective: str | None) -> QComboBox:
        box = QComboBox()
        box.setObjectName(f"key_{name}")
        auto = NEXT_FREE_KEY
        if effective and not chosen:
            # A class named by a key keeps it ("3" labels class 3): say so, not "next free".
            rule = OWN_KEY if effective == name.lower() else NEXT_FREE_KEY
            auto = f"{rule} ({effective.upper()})"
        box.addItem(auto, None)
        for key in CLASS_KEYS:
            box.addItem(key.upper(), key)
        box.setCurrentIndex(max(0, box.findData(chosen)) if chosen else 0)
        box.activated.connect(lambda _i, n=name, b=box: self.set_key(n, b.currentData()))
        return box

    def _colour_button(self, name: str, colour: str | None) -> QPushButton:
        button = QPushButton(colour or "none")
        button.setObjectName(f"colour_{name}")
        if colour:
            text = "#000000" if QColor(colour).lightness() > 128 else "#ffffff"
            button.setStyleSheet(f"background: {colour}; color: {text};")
        button.clicked.connect(lambda _=False, n=name: self._ask_colour(n))
        return button

    def selected_class(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)

    # -- the changes (each one written at once) -------------------------------------

    def _apply(self, change, select: str | None) -> bool:
        try:
            change()
        except (WorkspaceError, ValueError) as exc:
            self.problem.setText(str(exc))
            self.reload(select)
            return False
        self.problem.setText("")
        self.project.classes_changed()
        self.reload(select)
        return True

    def add(self, names: str) -> bool:
        from app.project.workspace import parse_class_names

        def change() -> None:
            self.project.workspace.add_classes(parse_class_names(names))
        return self._apply(change, names.split(",")[-1].strip())

    def rename(self, old: str, new: str) -> bool:
        return self._apply(lambda: self.project.workspace.rename_class(old, new.strip()),
                           new.strip())

    def remove_selected(self) -> bool:
        name = self.selected_class()
        if name is None:
            return False
        return self._apply(lambda: self.project.workspace.remove_class(name), None)

    def move_selected(self, step: int) -> bool:
        name = self.selected_class()
        if name is None:
            return False
        position = self.project.classes().index(name) + step
        return self._apply(lambda: self.project.workspace.move_class(name, position), name)

    def set_key(self, name: str, key: str | None) -> bool:
        return self._apply(lambda: self.project.workspace.set_class_key(name, key), name)

    def set_colour(self, name: str, colour: str | None) -> bool:
        return self._apply(lambda: self.project.workspace.set_class_colour(name, colour), name)

    # -- asking the user ------------------------------------------------------------

    def _ask_add(self) -> None:
        text, ok = QInputDialog.getText(self, "Add classes", "Names, comma-separated:")
        if ok and text.strip():
            self.add(text)

    def _ask_colour(self, name: str) -> None:
        current = self.project.workspace.class_styles()[name].colour
        chosen = QColorDialog.getColor(QColor(current or "#808080"), self, f"Colour of {name}")
        if chosen.isValid():
            self.set_colour(name, chosen.name())

    def _name_edited(self, item: QTableWidgetItem) -> None:
        old = item.data(Qt.ItemDataRole.UserRole)
        if item.column() == 0 and old is not None and item.text() != old:
            self.rename(old, item.text())
