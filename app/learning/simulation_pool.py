"""``simulate`` on this machine's cores: one process per (strategy, seed) run at a time.

Each run is :func:`app.learning.simulation.simulate_one_run` in a worker
process of a pool sized to the cores: it reads the folders itself and writes
its rounds to OUT after every round, exactly as a run in the main process
does, so an interrupted parallel simulation resumes like a serial one. The
workers are started with ``spawn``: a forked copy of a process that already
runs torch's thread pools can hang.

Progress crosses the process boundary through a managed queue, which the
main process drains while it waits.
"""

from __future__ import annotations

import multiprocessing
import queue
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from app.learning.simulation import Progress, SimulationConfig, simulate_one_run
from app.learning.simulation_report import Point

# How often the main process looks for progress while the runs work (seconds).
_POLL_SECONDS = 0.2


def run_in_processes(config: SimulationConfig, out: Path, settings: dict[str, Any],
                     pairs: list[tuple[str, int]], processes: int,
                     progress: Progress | None = None
                     ) -> list[tuple[list[Point], int, int]]:
    """Every (strategy, seed) run of ``pairs`` in a pool of ``processes`` workers.

    Returns
    -------
    list of (points, computed rounds, reused rounds)
        In the order of ``pairs``.

    Raises
    ------
    Exception
        The first run's error (a :class:`WorkspaceError` for bad data); the
        other runs are cancelled or finish, and their rounds stay in OUT.
    """
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(
            max_workers=processes, mp_context=context) as pool:
        events = manager.Queue() if progress is not None else None
        futures: list[Future] = [
            pool.submit(_run, config, out, strategy, seed, settings, events)
            for strategy, seed in pairs]
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=_POLL_SECONDS,
                                     return_when=FIRST_COMPLETED)
                _drain(events, progress)
                for future in done:
                    future.result()  # raises a failed run's error at once
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        _drain(events, progress)
        return [future.result() for future in futures]


def _run(config: SimulationConfig, out: Path, strategy: str, seed: int,
         settings: dict[str, Any], events: Any) -> tuple[list[Point], int, int]:
    report = None if events is None else events.put
    return simulate_one_run(config, out, strategy, seed, settings, report)


def _drain(events: Any, progress: Progress | None) -> None:
    if events is None or progress is None:
        return
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return
        progress(event)
