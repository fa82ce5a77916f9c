"""``labelloop simulate``: the A/B simulation of sampling strategies on the digits.

The runs here are tiny (16 px, one epoch, 2 rounds) so the whole file stays
well under a minute on 2 busy cores; the real A/B lives in
tests/bench/test_bench_simulate.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import simulate as simulate_cli
from app.learning import simulation, simulation_data
from app.learning.simulation_report import (
    average_runs,
    label_savings,
    labels_to_stay_above,
    savings_rows,
)
from app.project.workspace import WorkspaceError
from tests.conftest import write_noise_images

# "--workers 1": in this process, for the tests below count and intercept its trainings.
SMALL = ("--workers", "1", "--strategies", "random,margin", "--init", "20", "--step", "10",
         "--rounds", "2", "--seeds", "0,1", "--epochs", "1", "--min-steps", "0",
         "--input-size", "16")


def run_simulate(*args: object) -> int:
    """``labelloop simulate ARGS`` in-process, through the command's own parser."""
    parser = argparse.ArgumentParser(prog="labelloop")
    simulate_cli.register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["simulate", *map(str, args)])
    return parsed.run(parsed)


def folders(demo) -> tuple[str, ...]:
    return ("--pool", demo.simulate_pool, "--test", demo.simulate_test)


@pytest.fixture(scope="module")
def finished(digits_demo, tmp_path_factory) -> tuple[Path, dict]:
    """One complete small simulation (copied by tests that change it) and its stdout."""
    out = tmp_path_factory.mktemp("simulate") / "out"
    revealed: list[list[int]] = []
    original = simulation_data.Oracle.reveal

    def recording_reveal(self, positions):
        revealed.append(list(positions))
        return original(self, positions)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(simulation_data.Oracle, "reveal", recording_reveal)
        assert run_simulate(*folders(digits_demo), *SMALL, "--out", out, "--json") == 0
    return out, {"revealed": revealed}


def test_writes_curves_json_csv_and_png_with_the_documented_schema(finished):
    out, _ = finished
    document = json.loads((out / "curves.json").read_text())
    assert set(document) >= {"config", "strategies"}
    assert document["config"]["strategies"] == ["random", "margin"]
    assert document["config"]["seeds"] == [0, 1]
    assert list(document["strategies"]) == ["random", "margin"]
    for points in document["strategies"].values():
        assert [p["labels"] for p in points] == [20, 30, 40]  # initial set + 2 rounds
        for point in points:
            assert set(point) >= {"labels", "accuracy", "macro_f1", "std", "macro_f1_std"}
            assert 0 <= point["accuracy"] <= 1 and point["std"] >= 0
            assert point["seeds"] == 2

    with open(out / "curves.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["strategy", "round", "labels", "accuracy", "accuracy_std", "macro_f1",
                       "macro_f1_std", "seeds"]
    assert len(rows) == 1 + 2 * 3
    assert [r[:3] for r in rows[1:4]] == [["random", "0", "20"], ["random", "1", "30"],
                                          ["random", "2", "40"]]
    # The CSV keeps 6 decimals.
    assert float(rows[4][3]) == pytest.approx(document["strategies"]["margin"][0]["accuracy"],
                                              abs=5e-7)

    png = (out / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    with Image.open(out / "curves.png") as image:
        image.verify()


def test_every_strategy_starts_from_randoms_initial_set(finished):
    out, _ = finished
    curves = json.loads((out / "curves.json").read_text())["strategies"]
    assert curves["margin"][0] == curves["random"][0]
    for seed in (0, 1):
        runs = {name: json.loads((out / "runs" / f"{name}-seed{seed}.json").read_text())
                for name in ("random", "margin")}
        assert runs["margin"]["rounds"][0]["added"] == runs["random"]["rounds"][0]["added"]
        # ...and the strategies do pick differently afterwards.
        assert runs["margin"]["rounds"][1]["added"] != runs["random"]["rounds"][1]["added"]
    initial = json.loads((out / "runs" / "random-seed0.json").read_text())["rounds"][0]["added"]
    other = json.loads((out / "runs" / "random-seed1.json").read_text())["rounds"][0]["added"]
    assert initial != other  # a seed is a different initial set


def test_the_oracle_reveals_only_what_was_asked_for(finished):
    out, record = finished
    asked = []
    for seed in (0, 1):
        for name in ("random", "margin"):
            run = json.loads((out / "runs" / f"{name}-seed{seed}.json").read_text())
            added = [r["added"] for r in run["rounds"]]
            assert [len(a) for a in added] == [20, 10, 10]
            assert len({i for a in added for i in a}) == 40  # never the same sample twice
            asked.extend(added)
    # Each run first reveals nothing already known (the empty resume list), then each batch.
    assert [r for r in record["revealed"] if r] == asked


def test_savings_table_is_printed(digits_demo, finished, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(finished[0], out)
    assert run_simulate(*folders(digits_demo), *SMALL, "--out", out) == 0
    printed = capsys.readouterr().out
    assert "target: random's final accuracy" in printed
    assert "labels to reach target" in printed and "margin" in printed
    assert "0 rounds computed, 12 reused" in printed


def test_resume_recomputes_only_the_deleted_run(digits_demo, finished, tmp_path, monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(finished[0], out)
    deleted = out / "runs" / "margin-seed1.json"
    before = deleted.read_text()
    deleted.unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    trained = []
    original = simulation.train_model

    def counting_train_model(data, positions, labels, recipe, seed, round_index, warm):
        trained.append((seed, round_index))
        return original(data, positions, labels, recipe, seed, round_index, warm)

    monkeypatch.setattr(simulation, "train_model", counting_train_model)
    assert run_simulate(*folders(digits_demo), *SMALL, "--out", out, "--json") == 0
    # Seed 1's initial model (shared by all strategies) and margin's two rounds.
    assert trained == [(1, 0), (1, 1), (1, 2)]
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")
            if p.name != deleted.name} == kept
    # Training is deterministic, so the recomputed run is the same run.
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in json.loads(before)["rounds"]]
    again = [{k: v for k, v in r.items() if k != "seconds"}
             for r in json.loads(deleted.read_text())["rounds"]]
    assert again == strip


def test_an_interrupted_run_continues_from_its_last_round(digits_demo, finished, tmp_path,
                                                           monkeypatch):
    out = tmp_path / "out"
    config = simulation.SimulationConfig(
        pool=digits_demo.simulate_pool, test=digits_demo.simulate_test,
        strategies=("random", "margin"), init=20, step=10, rounds=2, seeds=(0, 1),
        recipe=simulation.Recipe(epochs=1, min_steps=0, input_size=16),
    )

    def stop_after_margin_round_1(event):
        if (event["strategy"], event["seed"], event["round"]) == ("margin", 0, 1):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulation.run_simulation(config, out, progress=stop_after_margin_round_1)
    assert (out / "runs" / "margin-seed0.pt").exists()  # weights to continue from
    assert not (out / "curves.json").exists()
    trained = []
    original = simulation.train_model
    monkeypatch.setattr(simulation, "train_model",
                        lambda *a: trained.append(a[4:6]) or original(*a))
    result = simulation.run_simulation(config, out)
    assert (result.computed_rounds, result.reused_rounds) == (1 + 6, 5)
    assert trained[0] == (0, 2)  # margin seed 0 picks up at round 2, nothing before it
    expected = json.loads((finished[0] / "curves.json").read_text())["strategies"]
    assert json.loads((out / "curves.json").read_text())["strategies"] == expected


def test_more_rounds_extend_the_runs_and_fewer_read_a_prefix(digits_demo, finished, tmp_path,
                                                             monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(finished[0], out)
    (out / "runs" / "random-seed1.pt").unlink()  # lost weights: retrained, not restarted
    trained = []
    original = simulation.train_model
    monkeypatch.setattr(simulation, "train_model",
                        lambda *a: trained.append((a[4], a[5])) or original(*a))
    longer = [*SMALL[:SMALL.index("--rounds")], "--rounds", "3",
              *SMALL[SMALL.index("--rounds") + 2:]]
    assert run_simulate(*folders(digits_demo), *longer, "--out", out, "--json") == 0
    # One new round per run, plus round 2 of random seed 1 whose weights were gone.
    assert sorted(trained) == [(0, 3), (0, 3), (1, 2), (1, 3), (1, 3)]
    curves = json.loads((out / "curves.json").read_text())["strategies"]
    before = json.loads((finished[0] / "curves.json").read_text())["strategies"]
    assert {name: points[:3] for name, points in curves.items()} == before
    assert [p["labels"] for p in curves["margin"]] == [20, 30, 40, 50]

    trained.clear()
    shorter = [*longer[:longer.index("--rounds")], "--rounds", "1",
               *longer[longer.index("--rounds") + 2:]]
    assert run_simulate(*folders(digits_demo), *shorter, "--out", out, "--json") == 0
    assert trained == []
    curves = json.loads((out / "curves.json").read_text())["strategies"]
    assert {name: points for name, points in curves.items()} == {
        name: points[:2] for name, points in before.items()}


def test_other_settings_in_the_same_out_are_a_clear_error(digits_demo, finished, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(finished[0], out)
    changed = [*SMALL[:-6], "--epochs", "2", "--min-steps", "0", "--input-size", "16"]
    with pytest.raises(WorkspaceError, match=r"other settings \(recipe.epochs: 1 -> 2\).*--fresh"):
        run_simulate(*folders(digits_demo), *changed, "--out", out)
    # --fresh discards the old results (and only those) and starts over.
    (out / "notes.txt").write_text("mine")
    fresh = [*changed[:changed.index("--rounds")], "--rounds", "0",
             *changed[changed.index("--rounds") + 2:]]
    assert run_simulate(*folders(digits_demo), *fresh, "--out", out, "--fresh", "--json") == 0
    assert (out / "notes.txt").read_text() == "mine"
    curves = json.loads((out / "curves.json").read_text())["strategies"]
    assert [len(points) for points in curves.values()] == [1, 1]


def test_class_folders_that_differ_are_a_clear_error_naming_the_folders(tmp_path):
    for name in ("cat", "dog", "fox"):
        write_noise_images(tmp_path / "pool" / name, 3, prefix=name)
    for name in ("cat", "dog", "owl"):
        write_noise_images(tmp_path / "test" / name, 2, prefix=name)
    with pytest.raises(WorkspaceError) as error:
        run_simulate("--pool", tmp_path / "pool", "--test", tmp_path / "test",
                     "--init", "4", "--step", "1", "--rounds", "1", "--out", tmp_path / "out")
    message = str(error.value)
    assert str(tmp_path / "pool") in message and str(tmp_path / "test") in message
    assert "only in pool: fox" in message and "only in test: owl" in message
    assert not (tmp_path / "out").exists()


def test_a_budget_larger_than_the_pool_is_refused_before_training(tmp_path):
    for name in ("a", "b"):
        write_noise_images(tmp_path / "pool" / name, 3, prefix=name)
        write_noise_images(tmp_path / "test" / name, 1, prefix=name)
    with pytest.raises(WorkspaceError, match="10 labels, but the pool has only 6 images"):
        run_simulate("--pool", tmp_path / "pool", "--test", tmp_path / "test",
                     "--init", "4", "--step", "3", "--rounds", "2", "--out", tmp_path / "out")


def test_unknown_strategy_is_rejected_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_simulate("--pool", tmp_path, "--test", tmp_path, "--strategies", "random,psychic",
                     "--init", "4", "--step", "1", "--rounds", "1", "--out", tmp_path / "o")
    assert "unknown strategies psychic" in capsys.readouterr().err


def test_average_runs_gives_mean_and_sample_std():
    runs = [[{"labels": 10, "accuracy": 0.5, "macro_f1": 0.4}],
            [{"labels": 10, "accuracy": 0.7, "macro_f1": 0.6}]]
    (point,) = average_runs(runs)
    assert point["labels"] == 10 and point["accuracy"] == pytest.approx(0.6)
    assert point["std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert point["macro_f1_std"] == pytest.approx(np.std([0.4, 0.6], ddof=1))
    assert "std" not in average_runs(runs[:1])[0]
    with pytest.raises(ValueError, match="label count"):
        average_runs([runs[0], [{"labels": 11, "accuracy": 0.7, "macro_f1": 0.6}]])


def test_label_savings_uses_the_first_round_at_the_baselines_final_accuracy():
    def curve(*pairs):
        return [{"labels": n, "accuracy": a} for n, a in pairs]

    savings = label_savings({
        "random": curve((20, 0.5), (60, 0.8), (100, 0.9)),
        "margin": curve((20, 0.5), (40, 0.85), (60, 0.95), (100, 0.97)),
        "coreset": curve((20, 0.5), (60, 0.7), (100, 0.89)),
    })
    assert savings["target_accuracy"] == 0.9 and savings["baseline_labels"] == 100
    assert savings["strategies"]["margin"]["labels_needed"] == 60
    assert savings["strategies"]["margin"]["savings"] == pytest.approx(100 / 60)
    assert savings["strategies"]["coreset"]["labels_needed"] is None
    assert label_savings({"margin": curve((20, 0.5))}) is None


def test_random_is_never_credited_with_savings_against_itself():
    """The issue's case: one round, random's curve dips, and it printed "random 2.00x"."""
    def curve(*pairs):
        return [{"labels": n, "accuracy": a} for n, a in pairs]

    savings = label_savings({"random": curve((20, 0.8), (40, 0.7)),
                             "margin": curve((20, 0.8), (40, 0.75))})
    random = savings["strategies"]["random"]
    assert random["baseline"] and random["savings"] is None and random["labels_needed"] == 40
    assert savings_rows(savings)[0][4] == "baseline"
    # margin touched 0.7 at 20 labels and stays above: 2x, honestly earned.
    assert savings["strategies"]["margin"]["labels_needed"] == 20


def test_a_lucky_early_point_is_not_the_point_of_reaching():
    def curve(*pairs):
        return [{"labels": n, "accuracy": a} for n, a in pairs]

    savings = label_savings({
        "random": curve((20, 0.5), (40, 0.7), (60, 0.8), (80, 0.9)),
        "margin": curve((20, 0.5), (40, 0.91), (60, 0.85), (80, 0.93)),
        "entropy": curve((20, 0.5), (40, 0.92), (60, 0.95), (80, 0.89)),
    })
    assert savings["strategies"]["margin"]["labels_needed"] == 80  # dipped at 60
    assert savings["strategies"]["entropy"]["labels_needed"] is None  # ends below
    assert labels_to_stay_above([{"labels": 10, "accuracy": 0.9}], 0.9) == 10


def test_several_seeds_report_the_spread_of_savings():
    def run(*accuracies):
        return [{"labels": 20 * (i + 1), "accuracy": a, "macro_f1": a}
                for i, a in enumerate(accuracies)]

    runs = {"random": [run(0.5, 0.7, 0.8), run(0.5, 0.6, 0.9)],
            "margin": [run(0.5, 0.8, 0.9), run(0.5, 0.7, 0.85)]}
    curves = {name: average_runs(per_seed) for name, per_seed in runs.items()}
    savings = label_savings(curves, runs=runs)
    margin = savings["strategies"]["margin"]
    assert margin["savings_per_seed"] == [pytest.approx(60 / 40), None]
    assert "savings_per_seed" not in savings["strategies"]["random"]
    row = next(r for r in savings_rows(savings) if r[0] == "margin")
    assert row[5] == "1.50x–1.50x (1 of 2 seeds reached)"


def test_the_real_command_reports_errors_in_one_line(tmp_path):
    from tests.conftest import run_cli

    for name in ("cat", "dog"):
        write_noise_images(tmp_path / "pool" / name, 3, prefix=name)
        write_noise_images(tmp_path / "test" / name, 2, prefix=name)
    result = run_cli("simulate", "--pool", tmp_path / "pool", "--test", tmp_path / "test",
                     "--init", "4", "--step", "3", "--rounds", "2", "--out", tmp_path / "out",
                     check=False)
    assert result.returncode == 1
    assert result.stderr == ("labelloop: error: init + rounds * step = 10 labels, "
                             "but the pool has only 6 images\n")
