"""The project's compute setting: chosen in a dialog, followed by the window's jobs."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.gui.compute_dialog import ComputeDialog
from app.gui.job_runner import JobRunner
from app.learning.compute_setting import compute_address, describe_compute
from tests.app.ray_helpers import free_port
from tests.app.test_confinement import register_small_cnn


def _press_ok(qtbot, dialog):
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)


def test_the_dialog_saves_a_cluster_and_refuses_a_malformed_address(qtbot, project):
    dialog = ComputeDialog(project)
    qtbot.addWidget(dialog)
    assert dialog.this_machine.isChecked() and not dialog.address.isEnabled()
    dialog.cluster.setChecked(True)
    qtbot.keyClicks(dialog.address, "ray://head")
    _press_ok(qtbot, dialog)
    assert "expected HOST:PORT" in dialog.error.text()
    assert compute_address(project) is None  # nothing saved
    dialog.address.clear()
    qtbot.keyClicks(dialog.address, "10.0.0.5:6379")
    _press_ok(qtbot, dialog)
    assert compute_address(project) == "10.0.0.5:6379"
    assert describe_compute(compute_address(project)) == "Ray cluster at 10.0.0.5:6379"
    again = ComputeDialog(project)
    qtbot.addWidget(again)
    assert again.cluster.isChecked() and again.address.text() == "10.0.0.5:6379"
    again.this_machine.setChecked(True)
    _press_ok(qtbot, again)
    assert compute_address(project) is None


def test_a_scoring_job_goes_to_the_cluster_and_its_error_reaches_the_window(qtbot, project):
    version = register_small_cnn(project)
    address = f"127.0.0.1:{free_port()}"  # no cluster there
    dialog = ComputeDialog(project)
    qtbot.addWidget(dialog)
    dialog.cluster.setChecked(True)
    qtbot.keyClicks(dialog.address, address)
    _press_ok(qtbot, dialog)
    runner = JobRunner(project.root, "score")
    failures = []
    runner.failed.connect(failures.append)
    started = time.monotonic()
    with qtbot.waitSignal(runner.failed, timeout=60_000):
        assert runner.start(project, {"model": version, "mc_samples": 2})
    runner.wait()
    assert f"no Ray cluster reachable at {address}" in failures[0]
    job = project.list_jobs()[-1]
    assert job.params["ray"] == address and job.status == "failed"
    assert time.monotonic() - started < 30  # a real job process, failing at once


def test_the_training_panel_shows_where_jobs_run_and_changes_it(qtbot, project, monkeypatch):
    from app.gui import training_panel
    from app.gui.project_model import ProjectModel
    from app.gui.training_panel import TrainingPanel

    panel = TrainingPanel(ProjectModel(project, "tester"))
    qtbot.addWidget(panel)
    assert panel.compute.text() == "this machine"

    def choose_cluster(dialog):
        dialog.cluster.setChecked(True)
        dialog.address.setText("local")
        dialog.accept()
        return 1

    monkeypatch.setattr(training_panel.ComputeDialog, "exec", choose_cluster)
    qtbot.mouseClick(panel.change_compute, Qt.MouseButton.LeftButton)
    assert panel.compute.text() == "Ray cluster at local"
    assert compute_address(project) == "local"
