"""The status bar of a team project: who else is labeling, and labels waiting offline."""

from __future__ import annotations

from app.gui.project_model import ProjectModel
from app.gui.status_bar import ProjectStatusBar
from app.labeling.claims import claim_next
from app.labeling.queues import QueueSpec
from app.project.workspace import Workspace
from tests.app.team_helpers import pool_project


def test_the_status_bar_shows_other_annotators_and_labels_waiting_offline(
        qtbot, pg_server, pg_url, tmp_path):
    root = pool_project(tmp_path / "proj", 8, pg_url)
    with Workspace.open(root) as other:
        claim_next(other, "bob", 2)
    workspace = Workspace.open(root)
    project = ProjectModel(workspace, "ann")
    try:
        bar = ProjectStatusBar(project)
        qtbot.addWidget(bar)
        project.show_queue(QueueSpec(kind="unlabeled"))
        qtbot.waitUntil(lambda: project.current is not None, timeout=30_000)
        assert bar.team.text() == "also labeling: bob"
        workspace.set_reconnect_window(0.3)
        first = project.current.sample_id
        pg_server.stop("fast")
        try:
            project.label("cat")
            project.label("dog")
            assert bar.team.text() == "also labeling: bob · offline — 2 labels waiting"
            assert project.current.sample_id != first  # the annotator went on
        finally:
            pg_server.start()
        project.refresh_team()
        assert bar.team.text() == "also labeling: bob"
        assert workspace.current_labels()[first] == "cat"
        assert len(workspace.current_labels()) == 2
    finally:
        project.close()
