"""Jobs of a team project: one train job at a time across desktops, and no desktop
declares another desktop's job dead by a PID that means nothing on its machine."""

from __future__ import annotations

import threading

from app.domain.timestamps import utc_now
from app.learning.jobs import LAUNCHED_ON, reconcile_jobs
from app.project.workspace import Workspace
from app.store.backend import open_store
from app.store.errors import StoreError
from tests.app.team_helpers import pool_project


def test_only_one_of_many_simultaneous_train_starts_gets_a_job(pg_url, tmp_path):
    pool_project(tmp_path / "proj", 3, pg_url)
    stores = [open_store(pg_url) for _ in range(6)]
    start = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def create(store) -> None:
        start.wait()
        try:
            store.create_job("train", {}, exclusive=True, pid=1)
            outcomes.append("created")
        except StoreError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=create, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for s in stores:
        s.close()
    assert outcomes.count("created") == 1
    assert all("already running" in o for o in outcomes if o != "created")


def test_a_job_another_machine_runs_is_left_to_that_machine(pg_url, tmp_path):
    root = pool_project(tmp_path / "proj", 3, pg_url)
    with Workspace.open(root) as ws:
        elsewhere = ws.create_job("train", {LAUNCHED_ON: "another-desktop"}, exclusive=True,
                                  pid=999_999_999, process_identity="boot:1")
        ws.update_job(elsewhere, status="running")
        here = ws.create_job("score", {}, exclusive=False, pid=999_999_999)
        fixed = {job.id for job in reconcile_jobs(ws)}
        assert fixed == {here}  # this machine's dead PID is reconciled, the other is not
        assert ws.get_job(elsewhere).status == "running"
        assert utc_now() > ws.get_job(elsewhere).created_at
