"""Self-supervised pretraining: the job, its registry row, its embedding, and lineage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.learning.cold_start import PoolEmbedding, cold_start_picks
from app.learning.job_events import (
    PretrainDone,
    PretrainProgress,
    event_from_fields,
    parse_event_line,
)
from app.learning.jobs import start_job
from app.learning.label_free import BackboneEmbedding, label_free_embeddings
from app.learning.pretraining import (
    GROWTH_SETTING,
    backbone_checkpoint_path,
    load_backbone_checkpoint,
    pool_version,
    pretrain_due,
    pretrain_pool,
)
from app.learning.ranking import unlabeled_ids
from app.pool.demo import digit_image, load_digits_arrays
from app.pool.importer import import_images
from app.project.workspace import Workspace, WorkspaceError
from app.targeted.failure_mining import mine_failures
from app.targeted.failure_sets import add_files, add_samples
from app.targeted.similar import similar_samples
from models.checkpoint import file_sha256
from tests.conftest import run_cli_in_process

N_IMAGES = 64  # models.pretrain_config.MIN_POOL: the smallest pool that pretrains


def _digits_project(root: Path, n_images: int = N_IMAGES) -> Path:
    """A project over ``n_images`` real digit images, 3 labels for each of 3 classes."""
    pixels, targets = load_digits_arrays()
    folder = root / "images"
    folder.mkdir(parents=True)
    for i in range(n_images):
        digit_image(pixels[i], 32).save(folder / f"d{i:04d}_{targets[i]}.png")
    with Workspace.init(root / "proj", ["0", "1", "2"]) as ws:
        import_images(ws, [folder], workers=1)
        by_name = {Path(s.path).name: s for s in ws.samples()}
        labeled: dict[str, int] = {}
        rows = []
        for name in sorted(by_name):
            digit = name.split("_")[1].split(".")[0]
            if digit in ("0", "1", "2") and labeled.get(digit, 0) < 3:
                labeled[digit] = labeled.get(digit, 0) + 1
                rows.append((by_name[name].id, digit))
        for sample_id, digit in rows:
            ws.label(sample_id, digit, "test")
    return root / "proj"


@pytest.fixture
def digits_project(tmp_path) -> Path:
    return _digits_project(tmp_path)


def _quick_pretrain(ws: Workspace, job_id: int = 1) -> int:
    outcome = pretrain_pool(ws, checkpoint=backbone_checkpoint_path(ws, job_id), creator="test",
                            epochs=1, time_budget_s=0)
    return outcome.backbone_id


def test_a_run_registers_its_pool_version_settings_and_a_checkpoint_whose_sha256_matches(
        digits_project):
    with Workspace.open(digits_project) as ws:
        backbone_id = _quick_pretrain(ws)
        (backbone,) = ws.backbones()
        assert backbone.id == backbone_id
        assert backbone.pool_version == pool_version(ws.samples())
        assert backbone.n_images == N_IMAGES
        assert backbone.creator == "test" and backbone.method == "simclr"
        assert backbone.steps_run == backbone.settings["planned_steps"] > 0
        assert backbone.epochs_run == 1 and backbone.duration_s > 0
        path = ws.resolve(backbone.checkpoint_path)
        assert file_sha256(path) == backbone.checkpoint_sha256
        state = load_backbone_checkpoint(ws, backbone)
        assert state and not any(k.startswith("fc.") for k in state)
        # One byte changed: refused before torch reads it.
        data = bytearray(path.read_bytes())
        data[-1] ^= 1
        path.write_bytes(bytes(data))
        with pytest.raises(WorkspaceError, match="sha256"):
            load_backbone_checkpoint(ws, backbone)


def test_label_free_embeddings_are_the_backbones_once_one_exists(digits_project):
    with Workspace.open(digits_project) as ws:
        before = label_free_embeddings(ws)
        assert isinstance(before, PoolEmbedding)
        backbone_id = _quick_pretrain(ws)
        after = label_free_embeddings(ws)
        assert isinstance(after, BackboneEmbedding) and after.backbone_id == backbone_id
        assert after.vectors.shape == (N_IMAGES, 512)
        assert np.allclose(np.linalg.norm(after.vectors, axis=1), 1, atol=1e-4)
        some = [int(i) for i in after.ids[[3, 1, 7]]]
        subset = label_free_embeddings(ws, some)
        assert subset.ids.tolist() == sorted(some)
        assert np.allclose(subset.vectors, after.vectors[after.rows_for(subset.ids)])
        # The cold-start batch now says which embedding it ran on.
        picks = cold_start_picks(ws, unlabeled_ids(ws), 5)
        assert len(picks.ids) == 5 and f"backbone {backbone_id}" in picks.embedding.describe()


def test_a_pretraining_is_due_for_a_new_pool_and_again_once_it_grew_by_the_setting(
        digits_project):
    with Workspace.open(digits_project) as ws:
        assert "no pretrained backbone" in pretrain_due(ws)
        _quick_pretrain(ws)
        assert pretrain_due(ws) is None
        assert pretrain_due(ws, pool_size=int(N_IMAGES * 1.24)) is None  # default 25 %
        assert "grew from 64 to 80" in pretrain_due(ws, pool_size=80)
        ws.set_setting(GROWTH_SETTING, "0")
        assert pretrain_due(ws, pool_size=10_000) is None  # off


def test_pretrain_events_read_back_as_their_own_types():
    progress = {"event": "progress", "epoch": 1, "epochs": 3, "loss": 4.2, "steps": 7,
                "total_steps": 21, "fraction_done": 1 / 3, "seconds": 0.5}
    assert isinstance(event_from_fields(progress), PretrainProgress)
    done = PretrainDone(backbone=2, n_images=10, steps_run=5, epochs_run=1, duration_s=1.0,
                        device="cpu", notes=("x",))
    assert parse_event_line(done.to_line()) == done


def test_cli_pretrain_then_train_records_the_backbone_and_no_pretrained_does_not(
        digits_project):
    # In this process (the job itself still runs in its own): the CLI's imports once.
    result = run_cli_in_process("pretrain", digits_project, "--epochs", "1", "--json")
    events = [json.loads(line) for line in result.splitlines()]
    assert events[0]["event"] == "progress" and events[0]["steps"] > 0
    assert events[-1]["event"] == "done" and events[-1]["n_images"] == N_IMAGES
    backbone_id = events[-1]["backbone"]
    fast = ["--epochs", "1", "--patience", "0", "--min-steps", "0", "--no-semi-supervised"]
    run_cli_in_process("train", digits_project, *fast)
    run_cli_in_process("train", digits_project, *fast, "--no-pretrained")
    versions = json.loads(run_cli_in_process("models", digits_project, "--json"))
    assert [v["backbone"] for v in versions] == [backbone_id, None]
    listed = json.loads(run_cli_in_process("pretrain", digits_project, "--list", "--json"))
    assert [b["id"] for b in listed] == [backbone_id]


def test_cancelling_a_pretraining_job_leaves_no_backbone_and_no_checkpoint(digits_project):
    with Workspace.open(digits_project) as ws:
        handle = start_job(ws, "pretrain", {"epochs": 400, "time_budget_s": 0})
        for event in handle.events():
            if isinstance(event, PretrainProgress):
                break
        handle.cancel()
        job = handle.wait(timeout=120)
        assert job.status == "cancelled"
        assert ws.backbones() == []
        assert not backbone_checkpoint_path(ws, handle.job_id).exists()


def _digit_folders(root: Path) -> tuple[Path, Path]:
    """ImageFolder pool (24 per class) and test set (5 per class) of three real digits."""
    pixels, targets = load_digits_arrays()
    counts: dict[tuple[str, int], int] = {}
    for i, target in enumerate(targets):
        if target > 2:
            continue
        split = "pool" if counts.get(("pool", target), 0) < 24 else "test"
        if counts.get((split, target), 0) >= (24 if split == "pool" else 5):
            continue
        counts[(split, target)] = counts.get((split, target), 0) + 1
        folder = root / split / str(target)
        folder.mkdir(parents=True, exist_ok=True)
        digit_image(pixels[i], 32).save(folder / f"{i:04d}.png")
    return root / "pool", root / "test"


def test_simulate_pretrained_starts_every_strategy_from_one_recorded_backbone(tmp_path):
    pool, test = _digit_folders(tmp_path)
    out = tmp_path / "out"
    args = ["simulate", "--pool", pool, "--test", test, "--strategies", "random,margin",
            "--init", "6", "--step", "3", "--rounds", "1", "--epochs", "1", "--min-steps", "0",
            "--out", out, "--json"]
    run_cli_in_process(*args, "--pretrained", "--pretrain-budget", "2")
    record = json.loads((out / "backbone.json").read_text())
    assert file_sha256(out / "backbone.pt") == record["sha256"] and record["steps_run"] > 0
    config = json.loads((out / "curves.json").read_text())["config"]
    assert config["recipe"]["pretrained"] is True
    # The same recipe for random and margin: one backbone file, both curves there.
    assert set(json.loads((out / "curves.json").read_text())["strategies"]) == {"random", "margin"}
    # Without the option: no backbone, and the settings differ from the pretrained run's.
    plain = tmp_path / "plain"
    run_cli_in_process(*[a if a != out else plain for a in args], "--no-pretrained")
    assert not (plain / "backbone.pt").exists()


def test_similar_before_any_model_searches_the_backbone_embedding(digits_project):
    with Workspace.open(digits_project) as ws:
        with pytest.raises(WorkspaceError, match="no model yet"):
            similar_samples(ws, 1, 5)
        backbone_id = _quick_pretrain(ws)
        found = similar_samples(ws, 1, 5)
        embedding = label_free_embeddings(ws)
        cosine = embedding.vectors @ embedding.vectors[embedding.rows_for(np.array([1]))[0]]
        order = [int(embedding.ids[i]) for i in np.argsort(-cosine) if embedding.ids[i] != 1]
        assert [r.sample_id for r in found] == order[:5]
        assert all(r.reason.backbone == backbone_id for r in found)


def test_mining_by_embedding_before_any_model_uses_the_backbone(digits_project, tmp_path):
    outside = tmp_path / "outside.png"
    pixels, _ = load_digits_arrays()
    digit_image(pixels[1500], 32).save(outside)  # not in the pool
    with Workspace.open(digits_project) as ws:
        add_samples(ws, "fails", [5, 9])
        add_files(ws, "fails", [outside])
        with pytest.raises(WorkspaceError, match="no model yet"):
            mine_failures(ws, "fails", 5, "embedding")
        _quick_pretrain(ws)
        found = mine_failures(ws, "fails", 5, "embedding")
        embedding = label_free_embeddings(ws)
        labeled = set(ws.current_labels())
        pool = [int(i) for i in embedding.ids if int(i) not in labeled | {5, 9}]
        vectors = embedding.vectors[embedding.rows_for(np.array(pool))]
        failures = embedding.vectors[embedding.rows_for(np.array([5, 9]))]
        best = (vectors @ failures.T).max(axis=1)
        assert found[0].reason.cosine is not None and len(found) == 5
        # The outside image may be the nearest failure; the pool ones alone bound it below.
        assert found[0].reason.cosine >= float(best.max()) - 1e-5
        assert {r.reason.nearest_failure.sample_id for r in found} <= {5, 9, None}


def test_settings_set_the_growth_that_makes_pretraining_due(digits_project):
    shown = json.loads(run_cli_in_process("settings", digits_project, "--pretrain-growth",
                                          "0.5", "--pretrain-budget", "60", "--json"))
    assert shown["pretrain_growth"] == 0.5 and shown["pretrain_budget_s"] == 60
    with Workspace.open(digits_project) as ws:
        _quick_pretrain(ws)
        assert pretrain_due(ws, pool_size=95) is None
        assert pretrain_due(ws, pool_size=96) is not None  # 64 * 1.5
