"""``labelloop train --semi-supervised`` and the project's setting: a real job on a real project."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from app.learning.training_settings import TrainingSettings, training_settings
from app.pool.importer import import_images
from app.project.workspace import Workspace, WorkspaceError
from tests.conftest import run_cli_in_process


@pytest.fixture
def digits_project(tmp_path: Path) -> Path:
    """Digits 0-2 at 16 px: 4 labeled per class and 12 unlabeled."""
    digits = load_digits()
    folder = tmp_path / "images"
    folder.mkdir()
    chosen = [i for c in range(3) for i in np.flatnonzero(digits.target == c)[:8]]
    for i in chosen:
        image = Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8), mode="L")
        image.resize((16, 16), Image.Resampling.BILINEAR).save(folder / f"{i:04d}.png")
    root = tmp_path / "proj"
    with Workspace.init(root, ["0", "1", "2"]) as ws:
        import_images(ws, [folder], workers=1)
        truth = {f"{i:04d}.png": str(digits.target[i]) for i in chosen}
        per_class: dict[str, int] = {}
        for sample in ws.samples():
            label = truth[Path(sample.path).name]
            if per_class.get(label, 0) < 4:
                ws.label(sample.id, label, "t")
                per_class[label] = per_class.get(label, 0) + 1
    return root


def test_the_projects_setting_trains_on_the_pool_and_the_option_turns_it_off(digits_project):
    run_cli_in_process("settings", digits_project, "--semi-supervised")
    with Workspace.open(digits_project) as ws:
        assert training_settings(ws).semi_supervised is True
    # No option: the project's setting applies, and the plan printed first says so.
    printed = run_cli_in_process("train", digits_project, "--epochs", "1", "--min-steps", "0",
                                 "--json")
    plan = json.loads(printed.splitlines()[0])
    assert plan["event"] == "plan"
    assert "semi-supervised steps over 12 unlabeled images" in plan["plan"]
    run_cli_in_process("train", digits_project, "--epochs", "1", "--min-steps", "0",
                       "--no-semi-supervised")
    with Workspace.open(digits_project) as ws:
        semi, supervised = ws.model_versions()[-2:]
    assert semi.hyperparameters["semi_supervised"] is True
    run = semi.hyperparameters["semi_supervised_run"]
    assert run["n_unlabeled"] == run["n_pool"] == 12 and run["steps"] >= 1
    assert semi.metrics["unlabeled_used"] == 12
    assert semi.metrics["history"][-1]["phase"] == "semi-supervised"
    assert supervised.hyperparameters["semi_supervised"] is False
    assert supervised.hyperparameters["semi_supervised_run"] is None
    assert supervised.metrics["unlabeled_used"] == 0


def test_by_default_a_run_on_few_labels_per_class_trains_on_the_pool(digits_project):
    # 4 labels per class: under the automatic threshold, so no option is needed.
    printed = run_cli_in_process("train", digits_project, "--epochs", "1", "--min-steps", "0",
                                 "--json")
    assert "semi-supervised steps over 12 unlabeled images" in json.loads(
        printed.splitlines()[0])["plan"]
    # A project that said never keeps to it, and --semi-supervised-auto overrides it.
    run_cli_in_process("settings", digits_project, "--no-semi-supervised")
    run_cli_in_process("train", digits_project, "--epochs", "1", "--min-steps", "0")
    run_cli_in_process("train", digits_project, "--epochs", "1", "--min-steps", "0",
                       "--semi-supervised-auto")
    with Workspace.open(digits_project) as ws:
        automatic, never, overridden = ws.model_versions()[-3:]
    assert automatic.hyperparameters["semi_supervised"] == "auto"
    assert automatic.hyperparameters["semi_supervised_run"]["n_unlabeled"] == 12
    assert never.hyperparameters["semi_supervised"] is False
    assert never.hyperparameters["semi_supervised_run"] is None
    assert overridden.hyperparameters["semi_supervised_run"]["n_unlabeled"] == 12
    # "auto" in the project's settings is no setting: the default decides again.
    shown = json.loads(run_cli_in_process("settings", digits_project, "--semi-supervised-auto",
                                          "--json"))
    assert shown["training"]["semi_supervised"] == "auto"
    assert "semi_supervised" not in shown["training_set"]


def test_by_default_a_run_on_ten_labels_per_class_trains_on_the_labels_alone(tmp_path):
    digits = load_digits()
    folder = tmp_path / "images"
    folder.mkdir()
    for c in (0, 1):
        for i in np.flatnonzero(digits.target == c)[:14]:
            image = Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8), mode="L")
            image.save(folder / f"{c}-{i:04d}.png")
    root = tmp_path / "proj"
    with Workspace.init(root, ["0", "1"]) as ws:
        import_images(ws, [folder], workers=1)
        counts = {"0": 0, "1": 0}
        for sample in ws.samples():
            label = Path(sample.path).name[0]
            if counts[label] < 10:
                ws.label(sample.id, label, "t")
                counts[label] += 1
    printed = run_cli_in_process("train", root, "--epochs", "1", "--min-steps", "0", "--json")
    assert "semi-supervised" not in json.loads(printed.splitlines()[0])["plan"]
    with Workspace.open(root) as ws:
        version = ws.model_versions()[-1]
    assert version.hyperparameters["semi_supervised"] == "auto"
    assert version.hyperparameters["semi_supervised_run"] is None


def test_a_setting_that_is_not_a_flag_is_refused():
    with pytest.raises(WorkspaceError, match="semi_supervised must be true or false"):
        TrainingSettings(semi_supervised="yes")  # type: ignore[arg-type]


def _digit_folders(root: Path) -> tuple[Path, Path]:
    """ImageFolder pool (12 per class) and test (4 per class) folders of digits 0 and 1."""
    digits = load_digits()
    for c in (0, 1):
        members = np.flatnonzero(digits.target == c)
        for split, chosen in (("pool", members[:12]), ("test", members[12:16])):
            folder = root / split / str(c)
            folder.mkdir(parents=True, exist_ok=True)
            for i in chosen:
                image = Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8), mode="L")
                image.resize((16, 16), Image.Resampling.BILINEAR).save(folder / f"{i:04d}.png")
    return root / "pool", root / "test"


def test_simulate_trains_every_round_on_the_rest_of_the_pool_when_asked(tmp_path):
    import json

    import torch

    from app.learning import simulation
    from app.learning.simulation_data import load_simulation_data

    pool, test = _digit_folders(tmp_path)
    run_cli_in_process("simulate", "--pool", pool, "--test", test, "--out", tmp_path / "out",
                       "--strategies", "random", "--init", "8", "--step", "4", "--rounds", "1",
                       "--epochs", "1", "--min-steps", "0", "--input-size", "16",
                       "--semi-supervised")
    config = json.loads((tmp_path / "out" / "curves.json").read_text())["config"]
    assert config["recipe"]["semi_supervised"] is True
    # The same labels train other weights when the 16 other pool images join in.
    data = load_simulation_data(pool, test, "small_cnn", 16)
    positions = [0, 1, 2, 3, 12, 13, 14, 15]
    labels = data.oracle.reveal(positions)
    recipe = simulation.Recipe(epochs=1, min_steps=0, input_size=16, semi_supervised=True)
    semi = simulation.train_model(data, positions, labels, recipe, 0, 0, None)
    supervised = simulation.train_model(data, positions, labels,
                                        simulation.Recipe(epochs=1, min_steps=0, input_size=16),
                                        0, 0, None)
    assert not all(torch.equal(semi[k], supervised[k]) for k in semi)
