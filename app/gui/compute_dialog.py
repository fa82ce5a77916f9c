"""The project's compute setting: "this machine" or "a Ray cluster at ADDRESS".

Training and scoring jobs started from the window follow it
(:func:`app.learning.compute_setting.with_compute`); the job panel shows
their progress, cancel and errors the same way wherever they run.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.learning.compute_setting import compute_address, set_compute_address
from app.learning.ray_cluster import ClusterError
from app.project.workspace import Workspace


class ComputeDialog(QDialog):
    """Choose where the project's heavy jobs run; saved in the project on OK."""

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compute")
        self.workspace = workspace
        current = compute_address(workspace)
        self.this_machine = QRadioButton("This machine")
        self.this_machine.setObjectName("computeThisMachine")
        self.cluster = QRadioButton("Ray cluster at")
        self.cluster.setObjectName("computeCluster")
        self.address = QLineEdit(current or "")
        self.address.setObjectName("computeAddress")
        self.address.setPlaceholderText("HOST:PORT of the head, or local")
        self.error = QLabel("")
        self.error.setObjectName("computeError")
        self.error.setWordWrap(True)
        (self.cluster if current else self.this_machine).setChecked(True)
        self.address.setEnabled(current is not None)
        self.cluster.toggled.connect(self.address.setEnabled)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Where training and scoring jobs run:"))
        layout.addWidget(self.this_machine)
        layout.addWidget(self.cluster)
        layout.addWidget(self.address)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def accept(self) -> None:
        """Save the choice; a malformed address stays open with the reason shown."""
        try:
            set_compute_address(self.workspace,
                                self.address.text() if self.cluster.isChecked() else None)
        except ClusterError as exc:
            self.error.setText(str(exc))
            return
        super().accept()
