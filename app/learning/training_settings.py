"""A project's own training recipe: what a training job uses where its request is silent.

The window's Settings dialog and ``labelloop settings`` write it; every
training job -- the Retrain button, auto-retrain, ``labelloop train`` without
the option -- reads it, so one project trains the same way from both doors.
Anything not set falls back to :data:`models.train_config.JOB_DEFAULTS`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from app.domain.errors import WorkspaceError
from app.project.workspace import Workspace
from models.train_config import JOB_DEFAULTS

SETTING = "training_recipe"

# Limits of sense, the same as the CLI's (app.cli.validators).
_BOUNDS: dict[str, tuple[float, float]] = {
    "epochs": (1, 100_000), "min_steps": (0, 10_000_000), "batch_size": (1, 65_536),
    "lr": (1e-7, 10.0), "patience": (0, 100_000),
}


@dataclass(frozen=True)
class TrainingSettings:
    """The settings a project may fix; None leaves the job's default."""

    epochs: int | None = None
    min_steps: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    patience: int | None = None
    augment: bool | None = None
    semi_supervised: bool | None = None

    def __post_init__(self) -> None:
        for name, (low, high) in _BOUNDS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or not low <= value <= high:
                raise WorkspaceError(f"training setting {name} must be from {low:g} to "
                                     f"{high:g}, not {value!r}")
            if name != "lr" and int(value) != value:
                raise WorkspaceError(f"training setting {name} must be a whole number, "
                                     f"not {value!r}")
        for name in ("augment", "semi_supervised"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise WorkspaceError(f"training setting {name} must be true or false, "
                                     f"not {value!r}")

    def effective(self) -> dict[str, Any]:
        """Every setting with the job's default filled in where this one is None."""
        return {f.name: getattr(JOB_DEFAULTS, f.name) if getattr(self, f.name) is None
                else getattr(self, f.name) for f in fields(self)}

    def job_params(self) -> dict[str, Any]:
        """The settings that are set, as a training job's parameters."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def training_settings(workspace: Workspace) -> TrainingSettings:
    """The project's recipe; a damaged setting reads as none (the job's defaults)."""
    text = workspace.setting(SETTING)
    if not text:
        return TrainingSettings()
    try:
        raw = json.loads(text)
        known = {f.name for f in fields(TrainingSettings)}
        return TrainingSettings(**{k: v for k, v in raw.items() if k in known})
    except (ValueError, TypeError, AttributeError, WorkspaceError):
        return TrainingSettings()


def save_training_settings(workspace: Workspace, settings: TrainingSettings) -> None:
    workspace.set_setting(SETTING, json.dumps(settings.job_params(), sort_keys=True))
