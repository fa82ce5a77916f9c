"""Teams: sustained labels/s and p95 commit latency, 8 annotators on a localhost
PostgreSQL server, side by side with 1 annotator on SQLite, in the same run.

Each annotator is a real process (tests/app/annotator_worker.py): it claims
items in batches (``labelloop next``'s code), labels each with an
idempotency key, and logs how long every ``label`` call took until it
returned committed.  labels/s is all labels over the wall time of the whole
burst (claims included); p95 is over every commit.  The server runs with
fsync on, as the team's would.  Target: p95 < 20 ms on PostgreSQL.

    BENCH_TEAM_LABELS=200 make bench   (labels per annotator; default 200)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tests.app.team_helpers import pool_project
from tests.conftest import REPO

LABELS = int(os.environ.get("BENCH_TEAM_LABELS", "200"))


def _burst(root: Path, annotators: int, logs: Path) -> tuple[float, list[float]]:
    logs.mkdir()
    started = time.perf_counter()
    workers = [subprocess.Popen(
        [sys.executable, "-m", "tests.app.annotator_worker", str(root), f"ann{i}",
         str(LABELS), "30", str(logs / f"ann{i}.log")], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(annotators)]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
    wall = time.perf_counter() - started
    seconds = [float(line.split()[2]) for log in logs.iterdir()
               for line in log.read_text().splitlines() if not line.startswith("claim")]
    assert len(seconds) == annotators * LABELS
    return wall, seconds


def _report(name: str, annotators: int, wall: float, seconds: list[float]) -> dict:
    p95 = float(np.percentile(seconds, 95)) * 1000
    row = {"backend": name, "annotators": annotators, "labels": len(seconds),
           "labels_per_s": len(seconds) / wall, "p50_ms": statistics.median(seconds) * 1000,
           "p95_ms": p95}
    print(f"{name:<11} {annotators} annotator(s): {row['labels']} labels in {wall:.1f} s "
          f"= {row['labels_per_s']:.0f} labels/s (process start included); commit p50 "
          f"{row['p50_ms']:.1f} ms, p95 {p95:.1f} ms")
    return row


def test_bench_team_labeling(pg_server, pg_url, tmp_path):
    sqlite_root = pool_project(tmp_path / "sqlite", LABELS + 50)
    wall, seconds = _burst(sqlite_root, 1, tmp_path / "sqlite-logs")
    solo = _report("SQLite", 1, wall, seconds)

    pg_root = pool_project(tmp_path / "pg", 8 * LABELS + 50, pg_url)
    wall, seconds = _burst(pg_root, 8, tmp_path / "pg-logs")
    team = _report("PostgreSQL", 8, wall, seconds)

    print(f"PostgreSQL x8 / SQLite x1: {team['labels_per_s'] / solo['labels_per_s']:.2f}x "
          f"the labels/s; p95 commit {team['p95_ms'] / solo['p95_ms']:.2f}x "
          f"(target p95 < 20 ms: {'met' if team['p95_ms'] < 20 else 'NOT met'})")
