"""The training defaults: one torch-free home, and the epochs rule they share."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields, replace

import pytest

from models.train_config import (
    ARCHITECTURES,
    JOB_DEFAULTS,
    JOB_MIN_STEPS,
    TrainConfig,
    epochs_to_reach,
)


@pytest.mark.parametrize("module", ["models.train_config", "models.learner"])
def test_the_settings_import_without_torch(module):
    # A fresh interpreter: this one has long imported torch.
    code = f"import {module}; import sys; assert 'torch' not in sys.modules, sorted(sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_job_differs_from_the_library_in_its_step_floor_early_stopping_and_pool_use():
    assert TrainConfig().min_steps == 0
    assert JOB_DEFAULTS.min_steps == JOB_MIN_STEPS > 0
    # A job runs its whole learning-rate schedule; the library keeps patience for callers.
    assert TrainConfig().patience > 0 and JOB_DEFAULTS.patience == 0
    # A job decides from its labels whether to use the pool; the library does as told.
    assert TrainConfig().semi_supervised is False and JOB_DEFAULTS.semi_supervised is None
    assert JOB_DEFAULTS == replace(TrainConfig(), min_steps=JOB_MIN_STEPS, patience=0,
                                   semi_supervised=None)
    assert JOB_DEFAULTS.arch in ARCHITECTURES


def test_to_dict_names_every_setting_and_flags_a_warm_start():
    values = TrainConfig(warm_start_state={"w": object()}).to_dict()
    assert set(values) == {f.name for f in fields(TrainConfig)}
    assert values["warm_start_state"] is True
    assert TrainConfig().to_dict()["warm_start_state"] is False


@pytest.mark.parametrize(
    ("min_steps", "epochs", "batch_size", "n_train", "expected"),
    [
        (0, 5, 16, 400, 5),     # no floor
        (9, 1, 16, 40, 3),      # 3 steps per epoch: 3 epochs reach 9
        (9, 5, 16, 400, 5),     # already more steps than the floor
        (200, 10, 32, 20, 200),  # one step per epoch
        (7, 1, 32, 0, 7),       # no samples still counts one step per epoch
    ],
)
def test_epochs_to_reach_raises_the_epochs_to_the_step_floor(
        min_steps, epochs, batch_size, n_train, expected):
    assert epochs_to_reach(min_steps, epochs, batch_size, n_train) == expected
