"""Small dialogs: a new project, an export."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app.pool.exporter import EXPORT_FORMATS


def _folder_row(parent: QWidget, edit: QLineEdit, caption: str) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    browse = QPushButton("Browse…")
    browse.clicked.connect(lambda: edit.setText(
        QFileDialog.getExistingDirectory(parent, caption) or edit.text()))
    row.addWidget(browse)
    return row


class NewProjectDialog(QDialog):
    """Asks for a folder and the class names."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("folder for the new project")
        self.classes = QLineEdit()
        self.classes.setPlaceholderText("class names, comma-separated: cat, dog, bird")
        form = QFormLayout(self)
        form.addRow("Folder", _folder_row(self, self.folder, "Project folder"))
        form.addRow("Classes", self.classes)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class ExportDialog(QDialog):
    """Asks for the export format and the target folder."""

    def __init__(self, default_folder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export labeled dataset")
        self.format = QComboBox()
        self.format.addItems(EXPORT_FORMATS)
        self.folder = QLineEdit(default_folder)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("Folder", _folder_row(self, self.folder, "Export folder"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
