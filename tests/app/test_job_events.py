"""The job-event schema: what the worker prints is what both readers parse, and bad lines
are reported rather than crashed on."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from app.cli.training import follow
from app.learning.job_events import (
    EVENT_TYPES,
    EpochProgress,
    EventFormatError,
    JobCancelled,
    JobFailed,
    JobOutput,
    ScoringDone,
    ScoringProgress,
    TrainingDone,
    TrainingPlan,
    UnreadableEvent,
    event_from_fields,
    parse_event_line,
)
from app.learning.jobs import JobHandle

PLAN = TrainingPlan(epochs=12, total_steps=240, n_train=400, n_val=100, early_stopping=True,
                    min_steps_epoch=10, plan="400 labels to train on", notes=("raised",))
EPOCH = EpochProgress(epoch=2, epochs=12, loss=0.5, val_loss=None, val_accuracy=None,
                      fraction_done=2 / 12, seconds=1.25)
DONE = TrainingDone(model_version=3, metrics={"accuracy": 0.9, "n": 100}, notes=(),
                    epochs_run=12, stopped_early=False)
EVENTS = [PLAN, EPOCH, ScoringProgress(done=5, total=10, fraction_done=0.5), DONE,
          ScoringDone(model_version=3, scored=1797), JobFailed("disk full"),
          JobCancelled(), JobCancelled("job 4 is no longer queued (cancelled)"),
          JobOutput("a library printed this")]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_survives_the_wire(event):
    line = event.to_line()
    assert "\n" not in line
    assert parse_event_line(line + "\n") == event


def test_wire_format_is_what_train_json_has_always_printed():
    assert json.loads(PLAN.to_line()) == {
        "event": "plan", "epochs": 12, "total_steps": 240, "n_train": 400, "n_val": 100,
        "early_stopping": True, "min_steps_epoch": 10, "plan": "400 labels to train on",
        "notes": ["raised"]}
    assert json.loads(EPOCH.to_line()) == {
        "event": "progress", "epoch": 2, "epochs": 12, "loss": 0.5, "val_loss": None,
        "val_accuracy": None, "fraction_done": 2 / 12, "seconds": 1.25}
    assert JobCancelled().to_json() == {"event": "cancelled"}  # no "message": null
    assert JobFailed("x").to_json() == {"event": "error", "message": "x"}
    assert list(EVENT_TYPES) == ["plan", "progress", "done", "error", "cancelled", "log"]


def test_events_sharing_a_name_are_told_apart_by_their_fields():
    assert isinstance(parse_event_line('{"event": "progress", "done": 1, "total": 4, '
                                       '"fraction_done": 0.25}'), ScoringProgress)
    assert isinstance(parse_event_line(DONE.to_line()), TrainingDone)
    assert parse_event_line('{"event": "done", "model_version": 2, "scored": 7}') \
        == ScoringDone(2, 7)
    # A float field takes a JSON integer; extra fields (a newer worker) are ignored.
    assert parse_event_line('{"event": "progress", "done": 1, "total": 1, "fraction_done": 1,'
                            ' "eta": 3}') == ScoringProgress(1, 1, 1.0)


@pytest.mark.parametrize(("line", "problem"), [
    ('["plan"]', "not a JSON object"),
    ('{"event": "finished"}', "unknown event 'finished'; known: plan, progress, done"),
    ('{"message": "no name"}', "unknown event None"),
    ('{"event": "error"}', "error event without 'message'"),
    ('{"event": "done", "model_version": "3", "scored": 1}', "model_version='3'"),
    ('{"event": "done", "model_version": true, "scored": 1}', "model_version=True"),
    ('{"event": "plan", "epochs": 1}', "plan event without 'total_steps'"),
])
def test_malformed_events_are_reported_with_the_problem(line, problem):
    event = parse_event_line(line)
    assert isinstance(event, UnreadableEvent) and event.line == line
    assert problem in event.problem


def test_text_and_blank_lines():
    assert parse_event_line("Downloading weights...\n") == JobOutput("Downloading weights...")
    assert parse_event_line("   \n") is None


def test_building_an_event_from_bad_fields_raises_for_the_worker():
    with pytest.raises(EventFormatError, match="metrics"):
        event_from_fields({"event": "done", "model_version": 1, "notes": [], "epochs_run": 1,
                           "stopped_early": False})


@pytest.fixture
def job_row(project):
    job_id = project.store.create_job("train", {}, exclusive=False)
    return project, job_id


def _scripted_job(workspace, job_id: int, lines: list[str]) -> JobHandle:
    """A real process printing ``lines`` as a job worker would, for the CLI reader."""
    script = textwrap.dedent(f"""
        import sys
        for line in {lines!r}:
            print(line, flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               text=True)
    return JobHandle(workspace.root, job_id, process)


def test_the_cli_reader_reports_bad_lines_and_carries_on(job_row, capsys):
    workspace, job_id = job_row
    lines = [PLAN.to_line(), "not json at all", '{"event": "finished", "x": 1}',
             EPOCH.to_line(), '{"event": "progress", "epoch": "two"}', DONE.to_line()]
    final = follow(_scripted_job(workspace, job_id, lines), as_json=True,
                   description="training")
    assert final == DONE
    out, err = capsys.readouterr()
    printed = [json.loads(line) for line in out.splitlines()]
    assert printed == [json.loads(PLAN.to_line()), {"event": "log", "message": "not json at all"},
                       json.loads(EPOCH.to_line()), json.loads(DONE.to_line())]
    assert err.count(f"job {job_id} printed a line this version cannot read") == 2
    assert "unknown event 'finished'" in err and "epoch='two'" in err


def test_the_cli_reader_falls_back_to_the_job_row_when_no_outcome_arrives(job_row):
    workspace, job_id = job_row
    final = follow(_scripted_job(workspace, job_id, [PLAN.to_line()]), as_json=False,
                   description="training")
    assert isinstance(final, JobFailed) and "exited with code 0" in final.message
