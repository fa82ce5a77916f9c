"""``simulate`` with typicality and auto, across processes: same numbers as in one process."""

from __future__ import annotations

import json

from app.learning import simulation
from app.learning.simulation_report import budget_rows, switch_point
from tests.app.test_simulate import folders, run_simulate

STRATEGIES = ("random", "auto")


def tiny_config(demo) -> simulation.SimulationConfig:
    return simulation.SimulationConfig(
        pool=demo.simulate_pool, test=demo.simulate_test, strategies=STRATEGIES,
        init=10, step=10, rounds=1, seeds=(0,),
        recipe=simulation.Recipe(epochs=1, min_steps=0, input_size=16),
    )


def test_processes_give_the_numbers_of_one_process(digits_demo, tmp_path, capsys):
    serial = simulation.run_simulation(tiny_config(digits_demo), tmp_path / "serial", workers=1)
    assert run_simulate(*folders(digits_demo), "--strategies", ",".join(STRATEGIES),
                        "--init", "10", "--step", "10", "--rounds", "1", "--epochs", "1",
                        "--min-steps", "0", "--input-size", "16", "--workers", "2",
                        "--out", tmp_path / "parallel") == 0
    printed = capsys.readouterr().out
    assert "accuracy at each budget" in printed and "auto" in printed
    parallel = json.loads((tmp_path / "parallel" / "curves.json").read_text())["strategies"]
    assert parallel == json.loads(json.dumps(serial.curves))
    runs = {name: json.loads((tmp_path / "parallel" / "runs" / f"{name}-seed0.json")
                             .read_text())["rounds"] for name in STRATEGIES}
    assert runs["auto"][0]["added"] == runs["random"][0]["added"]  # the same first labels
    assert runs["auto"][1]["added"] != runs["random"][1]["added"]  # then its own picks


def test_budget_rows_and_the_switch_point_read_the_curves():
    def curve(*accuracies):
        return [{"labels": 10 * (i + 1), "accuracy": a, "std": 0.01, "min": a - 0.01,
                 "max": a + 0.01} for i, a in enumerate(accuracies)]

    typical, margin = curve(0.5, 0.7, 0.8, 0.85), curve(0.5, 0.6, 0.82, 0.9)
    header, rows = budget_rows({"typiclust": typical, "margin": margin}, per_class=10)
    assert header == ["labels", "per class", "typiclust", "margin"]
    assert rows[1] == ["20", "2", "0.700 ± 0.010 [0.690–0.710]", "0.600 ± 0.010 [0.590–0.610]"]
    assert switch_point(typical, margin) == 30  # margin holds from 30 labels on
    # Ahead once, behind again: credited only from where it holds.
    assert switch_point(curve(0.5, 0.6, 0.9), curve(0.5, 0.7, 0.8)) is None
