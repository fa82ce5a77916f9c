"""``simulate --ray``: every (strategy, seed) run is a parallel task on a Ray cluster.

Each task is :func:`app.learning.simulation.simulate_one_run`: it reads the
pool and test folders and writes its rounds to OUT as a local simulation
does (one file per run, replaced atomically after every round), so the
folders and OUT must be on storage the workers share. Resuming is as today:
the rounds already in OUT are reused by the task that continues the run, and
a run killed with its worker is retried by Ray from its last saved round.
The curves are written here once every run is in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from app.learning.simulation import (
    Progress,
    SimulationConfig,
    SimulationResult,
    prepare_simulation,
    simulate_one_run,
    write_report,
)


def run_simulation_on_ray(config: SimulationConfig, out: str | os.PathLike[str], address: str,
                          *, fresh: bool = False, progress: Progress | None = None
                          ) -> SimulationResult:
    """:func:`app.learning.simulation.run_simulation`, its runs as tasks on a cluster.

    Parameters
    ----------
    address : str
        ``host:port`` of a running Ray cluster, or ``local``.

    Raises
    ------
    app.learning.ray_cluster.ClusterError
        No cluster, the cluster went away (rounds finished so far are kept in
        OUT: the same command resumes), or a run failed there.
    """
    from app.learning.ray_cluster import run_remote_tasks

    out = Path(out).resolve()
    data, settings = prepare_simulation(config, out, fresh=fresh)
    pairs = [(strategy, seed) for seed in config.seeds for strategy in config.strategies]
    outcomes = run_remote_tasks(
        address, _task, [(config, out, strategy, seed, settings) for strategy, seed in pairs],
        progress=progress, what="simulation run")
    runs: dict[str, list[Any]] = {name: [] for name in config.strategies}
    computed = reused = 0
    for (strategy, _seed), (points, done, kept) in zip(pairs, outcomes, strict=True):
        runs[strategy].append(points)
        computed += done
        reused += kept
    return write_report(config, data, out, runs, computed, reused)


def _task(config: SimulationConfig, out: Path, strategy: str, seed: int,
          settings: dict[str, Any], *, report: Progress, use_gpu: bool) -> tuple:
    # Simulations train small networks with one thread each; a GPU is not asked for.
    return simulate_one_run(config, out, strategy, seed, settings, report)
