"""Retraining from the labeling view: start, watch, cancel; optional auto-retrain.

Training runs in its own process; after it succeeds the pool is re-scored by
a second job and the current queue re-ranks, keeping the sample on screen.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.domain.annotator import resolve_annotator
from app.gui.compute_dialog import ComputeDialog
from app.gui.job_runner import JobRunner
from app.gui.project_model import ProjectModel
from app.learning.compute_setting import compute_address, describe_compute
from app.learning.job_events import EpochProgress, ScoringDone, TrainingDone, TrainingPlan
from app.learning.model_registry import AUTO_RETRAIN_SETTING, retrain_due
from app.learning.training_settings import save_training_settings, training_settings


class TrainingPanel(QWidget):
    modelsChanged = Signal()  # a new version was registered

    def __init__(self, project: ProjectModel) -> None:
        super().__init__()
        self.project = project
        self.trainer = JobRunner(project.root, "train")
        self.scorer = JobRunner(project.root, "score")
        self.retrain = QPushButton("Retrain now")
        self.retrain.setObjectName("retrainButton")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        # The project's training recipe (Settings dialog, `labelloop settings`),
        # which `labelloop train` also reads: edits here are written to it.
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100_000)
        self.min_steps = QSpinBox()
        self.min_steps.setRange(0, 10_000_000)
        self.min_steps.setToolTip("Train at least this many optimiser steps: with few labels "
                                  "the epochs are raised so the model leaves chance level")
        self.auto_every = QSpinBox()
        self.auto_every.setRange(0, 100_000)
        self.auto_every.setSpecialValueText("off")
        self.reload_settings()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self._plan = ""  # the running job's plan, from its first event
        self.state = QLabel("No training running")
        self.state.setObjectName("trainingState")
        self.state.setWordWrap(True)
        self.compute = QLabel(describe_compute(compute_address(project.workspace)))
        self.compute.setObjectName("computeTarget")
        self.change_compute = QPushButton("Change…")
        self.change_compute.setObjectName("changeCompute")
        self.change_compute.setToolTip("Run training and scoring on this machine or on a "
                                       "Ray cluster")
        for widget in (self.retrain, self.cancel, self.epochs, self.min_steps, self.auto_every):
            widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

        buttons = QHBoxLayout()
        buttons.addWidget(self.retrain)
        buttons.addWidget(self.cancel)
        form = QFormLayout()
        form.addRow("Epochs", self.epochs)
        form.addRow("At least N steps", self.min_steps)
        form.addRow("Auto every N labels", self.auto_every)
        compute_row = QHBoxLayout()
        compute_row.addWidget(self.compute, 1)
        compute_row.addWidget(self.change_compute)
        form.addRow("Compute", compute_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(QLabel("<b>Training</b>"))
        layout.addLayout(buttons)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.state)

        self.retrain.clicked.connect(self.start_training)
        self.change_compute.clicked.connect(self.choose_compute)
        self.cancel.clicked.connect(self.trainer.cancel)
        self.auto_every.valueChanged.connect(
            lambda n: project.workspace.set_setting(AUTO_RETRAIN_SETTING, str(n)))
        self.epochs.valueChanged.connect(lambda n: self._save_recipe(epochs=n))
        self.min_steps.valueChanged.connect(lambda n: self._save_recipe(min_steps=n))
        self.trainer.planned.connect(self._on_plan)
        self.trainer.progress.connect(self._on_progress)
        self.trainer.succeeded.connect(self._on_trained)
        self.trainer.failed.connect(self._on_failed)
        self.trainer.cancelled.connect(self._on_cancelled)
        self.scorer.progress.connect(
            lambda e: self.project.busy.emit("Scoring the pool", e.done, e.total))
        self.scorer.succeeded.connect(self._on_scored)
        self.scorer.failed.connect(self._on_failed)
        for runner in (self.trainer, self.scorer):
            runner.unreadable.connect(self.project.message.emit)
        project.labelsChanged.connect(self._maybe_auto_retrain)

    def reload_settings(self) -> None:
        """Show the project's recipe and auto-retrain setting (after the Settings dialog)."""
        recipe = training_settings(self.project.workspace).effective()
        for box, value in ((self.epochs, recipe["epochs"]),
                           (self.min_steps, recipe["min_steps"]),
                           (self.auto_every, int(self.project.workspace.setting(
                               AUTO_RETRAIN_SETTING, "0") or 0))):
            box.blockSignals(True)  # showing the stored value is not a change to store
            box.setValue(value)
            box.blockSignals(False)

    def _save_recipe(self, **change: int) -> None:
        workspace = self.project.workspace
        recipe = replace(training_settings(workspace), **change)
        save_training_settings(workspace, recipe)

    # -- training ---------------------------------------------------------

    def start_training(self) -> bool:
        # The recipe is the project's: the job reads it, as `labelloop train` does.
        params = {"creator": resolve_annotator(self.project.annotator)}
        if not self.trainer.start(self.project.workspace, params):
            return False
        self.retrain.setEnabled(False)
        self.cancel.setEnabled(True)
        self.progress.setValue(0)
        self._plan = ""
        self.state.setText("Training started… you can keep labeling.")
        return True

    def _maybe_auto_retrain(self) -> None:
        if not self.trainer.running and retrain_due(self.project.workspace):
            self.project.message.emit("Auto-retrain: enough new labels, training started")
            self.start_training()

    def _on_plan(self, event: TrainingPlan) -> None:
        # What the job will really do, shown for the whole run.
        self._plan = event.plan[:1].upper() + event.plan[1:] + "."
        self.progress.setValue(0)
        self.state.setText(self._plan)

    def _on_progress(self, event: EpochProgress) -> None:
        self.progress.setValue(int(1000 * event.fraction_done))
        accuracy = event.val_accuracy
        self.state.setText(
            f"Epoch {event.epoch}/{event.epochs} · loss {event.loss:.3f}"
            + (f" · val acc {accuracy:.3f}" if accuracy is not None else "")
            + (f"\n{self._plan}" if self._plan else ""))

    def _on_trained(self, event: TrainingDone) -> None:
        self._idle_buttons()
        self.progress.setValue(1000)
        version = event.model_version
        metrics = event.metrics
        accuracy = metrics.get("accuracy")
        quality = (f" · val acc {accuracy:.3f} (n={metrics.get('n')})" if accuracy is not None
                   else " · not validated: too few labels to hold some out")
        stopped = (f" · early stopping after epoch {event.epochs_run}"
                   if event.stopped_early else "")
        self.state.setText(f"Model v{version} registered{quality}{stopped}"
                           + " · re-scoring the pool…")
        self.modelsChanged.emit()
        self.project.labelsChanged.emit()  # status bar: new model, 0 labels since
        self.scorer.start(self.project.workspace, {"model": version, "mc_samples": 10})

    def _on_scored(self, _event: ScoringDone) -> None:
        self.project.idle.emit()
        self.state.setText(self.state.text().replace(" · re-scoring the pool…", ""))
        self.project.refresh_queue()  # re-rank with the new model, same sample on screen

    def _on_failed(self, text: str) -> None:
        self._idle_buttons()
        self.project.idle.emit()
        self.state.setText("Training failed; nothing changed.")
        self.project.error.emit(f"Training failed: {text}")

    def _on_cancelled(self) -> None:
        self._idle_buttons()
        self.progress.setValue(0)
        self.state.setText("Training cancelled; nothing changed.")

    def _idle_buttons(self) -> None:
        self.retrain.setEnabled(True)
        self.cancel.setEnabled(False)

    def shutdown(self) -> None:
        for runner in (self.trainer, self.scorer):
            runner.cancel()
            runner.wait()

    # -- where jobs run ----------------------------------------------------

    def choose_compute(self) -> None:
        """Open the compute dialog; show where jobs will run once it is closed."""
        ComputeDialog(self.project.workspace, self).exec()
        self.compute.setText(describe_compute(compute_address(self.project.workspace)))
