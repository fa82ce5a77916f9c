"""Real processes against one SQLite file: no lost rows, nothing lost to kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from app.project.workspace import Workspace
from tests.conftest import REPO

WRITER = textwrap.dedent(
    """
    import sys
    from app.project.workspace import Workspace
    project, annotator, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with Workspace.open(project) as ws:
        ids = [s.id for s in ws.samples()]
        classes = ws.classes()
        for i in range(count):
            sample, label = ids[i % len(ids)], classes[i % len(classes)]
            row = ws.label(sample, label, annotator, seconds_spent=0.1)
            # Printed only after label() returned, i.e. after the commit.
            print(f"confirmed {row} {sample} {label}", flush=True)
    """
)


def _writer(project, annotator: str, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(project.root), annotator, str(count)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )


def test_two_processes_writing_at_once_lose_nothing(project):
    project.close()
    writers = [_writer(project, name, 150) for name in ("alice", "bob")]
    outputs = [w.communicate(timeout=300) for w in writers]
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
    with Workspace.open(project.root) as ws:
        rows = ws.store.all_annotations()
        assert len(rows) == 300
        assert sorted({r.annotator for r in rows}) == ["alice", "bob"]
        confirmed = {int(line.split()[1]) for out, _ in outputs for line in out.splitlines()}
        assert confirmed == {r.id for r in rows}


def test_kill_9_mid_burst_keeps_every_confirmed_label(project):
    project.close()
    writer = _writer(project, "carol", 100_000)
    confirmed = []
    for line in writer.stdout:
        confirmed.append(line.split()[1:])
        if len(confirmed) == 120:
            os.kill(writer.pid, signal.SIGKILL)
            break
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    with Workspace.open(project.root) as ws:
        assert ws.store.integrity_ok()
        stored = {r.id: r for r in ws.store.all_annotations()}
        for row_id, sample, label in confirmed:
            row = stored[int(row_id)]
            assert (row.sample_id, row.class_name) == (int(sample), label)
        # The database still takes writes after the crash.
        ws.label(ws.samples()[0].id, "cat", "after-crash")
