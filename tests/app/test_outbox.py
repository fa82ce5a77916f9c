"""Labels given while the server is away wait in the outbox and arrive in order."""

from __future__ import annotations

import json

from app.labeling.outbox import OUTBOX_NAME, Outbox
from app.labeling.session import LabelingSession
from app.learning.pick_reasons import OpenedReason
from app.learning.ranking import RankedSample
from app.project.workspace import Workspace
from tests.app.team_helpers import pool_project


def test_labels_given_offline_wait_in_order_and_are_sent_once_back_online(
        pg_server, pg_url, tmp_path):
    root = pool_project(tmp_path / "proj", 5, pg_url)
    with Workspace.open(root) as ws:
        ws.set_reconnect_window(0.5)
        session = LabelingSession(ws, "ann")
        session.outbox = Outbox(ws.cache_dir / OUTBOX_NAME)
        session.set_queue([RankedSample(s.id, s.path, 0.0, OpenedReason())
                           for s in ws.samples()], "test")
        assert session.label("cat") is not None  # online: stored at once
        pg_server.stop("fast")
        try:
            assert session.label("dog") is None and session.label("bird") is None
            assert session.position == 3  # the annotator went on
            saved = json.loads((ws.cache_dir / OUTBOX_NAME).read_text())
            assert [(p["sample_id"], p["class_name"]) for p in saved] == [(2, "dog"),
                                                                          (3, "bird")]
            # A window closed now would find them again.
            assert len(Outbox(ws.cache_dir / OUTBOX_NAME)) == 2
        finally:
            pg_server.start()
        assert session.outbox.flush(ws) == 2
        assert len(session.outbox) == 0 and session.outbox.flush(ws) == 0
        assert ws.current_labels() == {1: "cat", 2: "dog", 3: "bird"}
        ids = [a.id for a in ws.all_annotations()]
        assert ids == sorted(ids) and len(ids) == 3  # in order, each once
        # Back online, the next label goes straight through again.
        assert session.label("cat") is not None


def test_a_batch_labeled_offline_waits_whole_and_arrives_once_as_one_undo_step(
        pg_server, pg_url, tmp_path):
    root = pool_project(tmp_path / "proj", 6, pg_url)
    with Workspace.open(root) as ws:
        ws.set_reconnect_window(0.5)
        session = LabelingSession(ws, "ann")
        session.outbox = Outbox(ws.cache_dir / OUTBOX_NAME)
        session.set_queue([RankedSample(s.id, s.path, 0.0, OpenedReason())
                           for s in ws.samples()], "test")
        pg_server.stop("fast")
        try:
            assert session.label_selected([1, 2, 3], "dog") is None  # waits
            assert session.label("bird") is None   # queued behind the batch
            assert len(session.outbox) == 4        # labels, not entries
            saved = json.loads((ws.cache_dir / OUTBOX_NAME).read_text())
            assert saved[0]["kind"] == "batch" and saved[0]["sample_ids"] == [1, 2, 3]
            reloaded = Outbox(ws.cache_dir / OUTBOX_NAME)  # a restart finds the batch whole
            assert len(reloaded) == 4
        finally:
            pg_server.start()
        batch = reloaded._pending[0]
        batch.send(ws)  # arrived, but the answer was lost: the outbox sends it again
        assert session.outbox.flush(ws) == 4
        assert ws.current_labels() == {1: "dog", 2: "dog", 3: "dog", 4: "bird"}
        assert len(ws.all_annotations()) == 4  # the resent batch was stored once
        assert session.undo() and ws.current_labels() == {1: "dog", 2: "dog", 3: "dog"}
        assert len(session.undo()) == 3 and ws.current_labels() == {}  # one step: the batch
