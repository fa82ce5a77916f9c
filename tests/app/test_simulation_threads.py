"""A simulation runs on one torch thread and leaves the caller's count as it was."""

from __future__ import annotations

import pytest
import torch

from app.learning import simulation

CALLERS_COUNT = 3


@pytest.fixture
def callers_count():
    before = torch.get_num_threads()
    torch.set_num_threads(CALLERS_COUNT)
    yield CALLERS_COUNT
    torch.set_num_threads(before)


def tiny_config(demo) -> simulation.SimulationConfig:
    return simulation.SimulationConfig(
        pool=demo.simulate_pool, test=demo.simulate_test, strategies=("random",),
        init=20, step=10, rounds=1, seeds=(0,),
        recipe=simulation.Recipe(epochs=1, min_steps=0, input_size=16),
    )


def test_a_simulation_restores_the_callers_thread_count(digits_demo, tmp_path, callers_count):
    during = []
    simulation.run_simulation(tiny_config(digits_demo), tmp_path / "out",
                              progress=lambda _: during.append(torch.get_num_threads()))
    assert during == [1, 1]  # both rounds ran on one thread
    assert torch.get_num_threads() == callers_count


def test_an_interrupted_simulation_restores_it_too(digits_demo, tmp_path, callers_count):
    def interrupt(_event):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulation.run_simulation(tiny_config(digits_demo), tmp_path / "out", progress=interrupt)
    assert torch.get_num_threads() == callers_count
