"""Self-supervised pretraining from the window: started when the pool is new or grew.

The job is ``labelloop pretrain``'s (its own process, cancellable); this
panel starts it when :func:`app.learning.pretraining.pretrain_due` says so
(on opening a project and after an import), shows its progress and lets the
user cancel it or start it by hand. The project setting ``pretrain_growth``
(0: off) decides how much the pool must grow before it runs again.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.domain.annotator import resolve_annotator
from app.gui.job_runner import JobRunner
from app.gui.project_model import ProjectModel
from app.learning.job_events import PretrainDone, PretrainProgress
from app.learning.pretraining import latest_backbone, pretrain_due
from app.project.workspace import WorkspaceError


class PretrainPanel(QWidget):
    backbonesChanged = Signal()  # a new backbone was registered

    def __init__(self, project: ProjectModel, *, auto: bool = True) -> None:
        super().__init__()
        self.project = project
        self.runner = JobRunner(project.root, "pretrain")
        self.start_button = QPushButton("Pretrain now")
        self.start_button.setObjectName("pretrainButton")
        self.start_button.setToolTip("Learn the network body from every imported image, "
                                     "without labels; later training starts from it")
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("pretrainCancel")
        self.cancel.setEnabled(False)
        for widget in (self.start_button, self.cancel):
            widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.state = QLabel()
        self.state.setObjectName("pretrainState")
        self.state.setWordWrap(True)
        self._show_latest()

        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(QLabel("<b>Pretraining (unlabeled pool)</b>"))
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.state)

        self.start_button.clicked.connect(lambda: self.start("started by hand"))
        self.cancel.clicked.connect(self.runner.cancel)
        self.runner.progress.connect(self._on_progress)
        self.runner.succeeded.connect(self._on_done)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.unreadable.connect(project.message.emit)
        if auto:
            self.maybe_start()

    def maybe_start(self) -> bool:
        """Start a pretraining job if the pool is new or grew enough (see the module doc)."""
        if self.runner.running or self.project.workspace.read_only:
            return False
        try:
            reason = pretrain_due(self.project.workspace)
        except WorkspaceError as exc:  # a bad pretrain_growth setting: say so, start nothing
            self.project.message.emit(str(exc))
            return False
        return reason is not None and self.start(reason)

    def start(self, reason: str) -> bool:
        params = {"creator": resolve_annotator(self.project.annotator)}
        if not self.runner.start(self.project.workspace, params):
            return False
        self.start_button.setEnabled(False)
        self.cancel.setEnabled(True)
        self.progress.setValue(0)
        self.state.setText(f"Pretraining: {reason}. You can keep labeling.")
        self.project.message.emit(f"Pretraining started: {reason}")
        return True

    def _show_latest(self) -> None:
        latest = latest_backbone(self.project.workspace)
        self.state.setText(
            "No pretrained backbone yet." if latest is None else
            f"Backbone {latest.id}: {latest.n_images:,} images, {latest.steps_run:,} steps, "
            f"{latest.duration_s:.0f} s on {latest.device}.")

    def _on_progress(self, event: PretrainProgress) -> None:
        self.progress.setValue(int(1000 * event.fraction_done))
        self.state.setText(f"Pretraining · step {event.steps}/{event.total_steps} · "
                           f"loss {event.loss:.3f}")

    def _on_done(self, event: PretrainDone) -> None:
        self._idle()
        self.progress.setValue(1000)
        self._show_latest()
        self.project.message.emit(f"Backbone {event.backbone} registered: the next training "
                                  "starts from it")
        self.backbonesChanged.emit()

    def _on_failed(self, text: str) -> None:
        self._idle()
        self.state.setText("Pretraining failed; nothing changed.")
        self.project.error.emit(f"Pretraining failed: {text}")

    def _on_cancelled(self) -> None:
        self._idle()
        self.progress.setValue(0)
        self.state.setText("Pretraining cancelled; nothing changed.")

    def _idle(self) -> None:
        self.start_button.setEnabled(True)
        self.cancel.setEnabled(False)

    def shutdown(self) -> None:
        self.runner.cancel()
        self.runner.wait()
