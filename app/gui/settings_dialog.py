"""File ▸ Settings…: the person's settings and the project's, in one dialog.

The annotator's name and the thumbnail size belong to the person at this
desktop (``QSettings``); the queue batch size, auto-retrain and the training
recipe belong to the project (stored in it, the same for every door:
``labelloop settings`` shows and changes them too).  Nothing is written until
OK.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.gui.grid_view import TILE
from app.labeling.queues import (
    DEFAULT_BATCH_SIZE,
    MAX_QUEUE_BATCH,
    queue_batch_size,
    set_queue_batch_size,
)
from app.learning.model_registry import AUTO_RETRAIN_SETTING
from app.learning.training_settings import (
    TrainingSettings,
    save_training_settings,
    training_settings,
)
from app.project.workspace import Workspace
from models.train_config import JOB_DEFAULTS, SEMI_SUPERVISED_BELOW_PER_CLASS

ANNOTATOR_KEY = "annotator"
THUMBNAIL_KEY = "thumbnail_size"
DEFAULT_THUMBNAIL = TILE
THUMBNAIL_RANGE = (48, 256)

#: The semi-supervised choices of the training recipe: (shown, setting).
SEMI_SUPERVISED_CHOICES: tuple[tuple[str, bool | None], ...] = (
    (f"Automatic: while under {SEMI_SUPERVISED_BELOW_PER_CLASS} labels per class", None),
    ("Always (a retrain takes about twice as long)", True),
    ("Never: the labels alone", False),
)


def thumbnail_size(settings: QSettings) -> int:
    """The person's thumbnail size, within :data:`THUMBNAIL_RANGE`."""
    try:
        size = int(settings.value(THUMBNAIL_KEY, DEFAULT_THUMBNAIL))
    except (TypeError, ValueError):
        return DEFAULT_THUMBNAIL
    low, high = THUMBNAIL_RANGE
    return size if low <= size <= high else DEFAULT_THUMBNAIL


@dataclass(frozen=True)
class SettingsChange:
    """What OK changed, for the window to follow."""

    annotator: str | None = None
    thumbnail_size: int | None = None
    queue_size: int | None = None
    recipe: bool = False


class SettingsDialog(QDialog):
    def __init__(self, workspace: Workspace, settings: QSettings, annotator: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self.workspace = workspace
        self.settings = settings
        self.old_annotator = annotator

        self.annotator = QLineEdit(annotator)
        self.thumbnail = _spin(*THUMBNAIL_RANGE, thumbnail_size(settings), step=16, suffix=" px")
        self.queue_size = _spin(1, MAX_QUEUE_BATCH, queue_batch_size(workspace), step=50)
        self.queue_size.setToolTip("How many samples a batch queue holds: the cold-start "
                                   "batch, batch strategies, failures, drift")
        self.auto_retrain = _spin(0, 10_000_000,
                                  int(workspace.setting(AUTO_RETRAIN_SETTING, "0") or 0))
        self.auto_retrain.setSpecialValueText("off")
        recipe = training_settings(workspace).effective()
        self.epochs = _spin(1, 100_000, recipe["epochs"])
        self.min_steps = _spin(0, 10_000_000, recipe["min_steps"], step=50)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(0.000001, 10.0)
        self.lr.setSingleStep(0.0001)
        self.lr.setValue(recipe["lr"])
        self.batch_size = _spin(1, 65_536, recipe["batch_size"], step=8)
        self.patience = _spin(0, 100_000, recipe["patience"])
        self.patience.setSpecialValueText("off")
        self.augment = QCheckBox("Random shifts, rotations and scales while training")
        self.augment.setChecked(recipe["augment"])
        self.semi_supervised = QComboBox()
        for text, value in SEMI_SUPERVISED_CHOICES:
            self.semi_supervised.addItem(text, value)
        self.semi_supervised.setToolTip(
            "After fitting the labels, keep training on the project's unlabeled samples "
            "with the model's confident guesses (pseudo-labels). It lifts first models "
            "the most; with many labels it gains little and doubles a retrain")
        self._choose_semi_supervised(recipe["semi_supervised"])

        you = QGroupBox("You (this computer)")
        you_form = QFormLayout(you)
        you_form.addRow("Annotator name", self.annotator)
        you_form.addRow("Thumbnail size", self.thumbnail)
        project = QGroupBox(f"This project ({workspace.root.name})")
        project_form = QFormLayout(project)
        project_form.addRow("Batch queue size", self.queue_size)
        project_form.addRow("Auto-retrain every N labels", self.auto_retrain)
        training = QGroupBox("Training recipe (this project; Retrain and labelloop train)")
        training_form = QFormLayout(training)
        training_form.addRow("Epochs (most)", self.epochs)
        training_form.addRow("At least N steps", self.min_steps)
        training_form.addRow("Learning rate", self.lr)
        training_form.addRow("Batch size", self.batch_size)
        training_form.addRow("Early-stopping patience", self.patience)
        training_form.addRow("Augmentation", self.augment)
        training_form.addRow("Semi-supervised", self.semi_supervised)
        self.problem = QLabel()
        self.problem.setObjectName("settingsProblem")
        self.problem.setWordWrap(True)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults)
        layout = QVBoxLayout(self)
        for widget in (you, project, training, self.problem):
            layout.addWidget(widget)
        layout.addWidget(buttons)
        self.change: SettingsChange | None = None

    def restore_defaults(self) -> None:
        """The built-in values in every field (written only on OK)."""
        self.thumbnail.setValue(DEFAULT_THUMBNAIL)
        self.queue_size.setValue(DEFAULT_BATCH_SIZE)
        self.auto_retrain.setValue(0)
        self.epochs.setValue(JOB_DEFAULTS.epochs)
        self.min_steps.setValue(JOB_DEFAULTS.min_steps)
        self.lr.setValue(JOB_DEFAULTS.lr)
        self.batch_size.setValue(JOB_DEFAULTS.batch_size)
        self.patience.setValue(JOB_DEFAULTS.patience)
        self.augment.setChecked(JOB_DEFAULTS.augment)
        self._choose_semi_supervised(JOB_DEFAULTS.semi_supervised)

    def _choose_semi_supervised(self, value: bool | None) -> None:
        self.semi_supervised.setCurrentIndex(
            [v for _, v in SEMI_SUPERVISED_CHOICES].index(value))

    def _ok(self) -> None:
        change = self.apply()
        if change is not None:
            self.change = change
            self.accept()

    def apply(self) -> SettingsChange | None:
        """Write what changed; None (and the reason shown) when something is refused."""
        name = " ".join(self.annotator.text().split())
        if not name:
            self.problem.setText("The annotator name is stored on every label: it cannot "
                                 "be empty.")
            return None
        old_recipe = training_settings(self.workspace)
        recipe = TrainingSettings(
            epochs=self.epochs.value(), min_steps=self.min_steps.value(), lr=self.lr.value(),
            batch_size=self.batch_size.value(), patience=self.patience.value(),
            augment=self.augment.isChecked(),
            semi_supervised=self.semi_supervised.currentData())
        # Only what differs from the defaults is stored, so a later change of a
        # default reaches projects that never chose otherwise.
        chosen = TrainingSettings(**{k: v for k, v in recipe.job_params().items()
                                     if v != getattr(JOB_DEFAULTS, k)})
        old_thumbnail = thumbnail_size(self.settings)
        old_queue = queue_batch_size(self.workspace)
        self.settings.setValue(ANNOTATOR_KEY, name)
        self.settings.setValue(THUMBNAIL_KEY, self.thumbnail.value())
        set_queue_batch_size(self.workspace, self.queue_size.value())
        self.workspace.set_setting(AUTO_RETRAIN_SETTING, str(self.auto_retrain.value()))
        save_training_settings(self.workspace, chosen)
        return SettingsChange(
            annotator=name if name != self.old_annotator else None,
            thumbnail_size=(self.thumbnail.value()
                            if self.thumbnail.value() != old_thumbnail else None),
            queue_size=self.queue_size.value() if self.queue_size.value() != old_queue else None,
            recipe=chosen.effective() != old_recipe.effective(),
        )


def _spin(low: int, high: int, value: int, *, step: int = 1, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setAlignment(Qt.AlignmentFlag.AlignRight)
    return box
