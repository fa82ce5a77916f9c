"""The window's job reader: typed events in, signals out, bad lines reported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import app.gui.job_runner as job_runner
from app.gui.job_runner import JobRunner
from app.learning.job_events import EpochProgress, JobFailed, TrainingPlan
from app.learning.jobs import JobHandle

PLAN = TrainingPlan(epochs=2, total_steps=4, n_train=8, n_val=2, early_stopping=False,
                    min_steps_epoch=1, plan="8 labels to train on")
EPOCH = EpochProgress(epoch=1, epochs=2, loss=1.5, val_loss=1.4, val_accuracy=0.5,
                      fraction_done=0.5, seconds=0.1)


def test_events_become_signals_and_a_bad_line_is_reported(qtbot, project, monkeypatch):
    lines = [PLAN.to_line(), '{"event": "progress", "epoch": 1}', EPOCH.to_line(),
             JobFailed("out of memory").to_line()]

    def scripted_start(workspace, kind, params):
        # The real reader thread and parser, on a process that prints what a
        # worker would; only the launch is scripted.
        job_id = workspace.store.create_job(kind, params, exclusive=False)
        code = textwrap.dedent(f"""
            for line in {lines!r}:
                print(line, flush=True)
        """)
        process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                   text=True)
        return JobHandle(workspace.root, job_id, process)

    monkeypatch.setattr(job_runner, "start_job", scripted_start)
    runner = JobRunner(project.root, "train")
    plans, progress, notices, failures = [], [], [], []
    runner.planned.connect(plans.append)
    runner.progress.connect(progress.append)
    runner.unreadable.connect(notices.append)
    runner.failed.connect(failures.append)
    with qtbot.waitSignal(runner.failed, timeout=60_000):
        assert runner.start(project, {})
    assert plans == [PLAN] and progress == [EPOCH]
    assert len(notices) == 1 and "train job printed a line this version cannot read" \
        in notices[0] and "progress" in notices[0]
    # The process exited 0 without recording an outcome: the job row says why it failed.
    assert len(failures) == 1 and "exited with code 0" in failures[0]
    assert not runner.running
