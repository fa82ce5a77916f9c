"""Pretraining from the window: started for a new pool, shown, cancelled; lineage in Models."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.gui.main_window import MainWindow
from app.learning.pretraining import backbone_checkpoint_path, pretrain_pool
from app.project.workspace import Workspace
from tests.app.test_pretrain import _digits_project
from tests.conftest import run_cli

TIMEOUT_MS = 180_000


def test_a_new_pool_starts_pretraining_with_progress_and_cancel_adds_nothing(
        qtbot, settings, tmp_path):
    root = _digits_project(tmp_path)
    with Workspace.open(root) as ws:
        ws.set_setting("pretrain_time_budget_s", "600")  # long enough to be cancelled
    win = MainWindow(settings, "t", auto_pretrain=True)
    qtbot.addWidget(win)
    panel = None
    try:
        assert win.open_project(root)
        panel = win.workbench.pretraining
        assert panel.runner.running and panel.cancel.isEnabled()
        assert "no pretrained backbone yet" in panel.state.text()
        with qtbot.waitSignal(panel.runner.progress, timeout=TIMEOUT_MS):
            pass
        with qtbot.waitSignal(panel.runner.cancelled, timeout=TIMEOUT_MS):
            qtbot.mouseClick(panel.cancel, Qt.MouseButton.LeftButton)
        assert "cancelled" in panel.state.text() and panel.start_button.isEnabled()
        assert win.project.workspace.backbones() == []
    finally:
        win.close()


def test_the_models_table_shows_which_backbone_a_version_started_from(
        qtbot, settings, tmp_path):
    root = _digits_project(tmp_path)
    with Workspace.open(root) as ws:
        backbone = pretrain_pool(ws, checkpoint=backbone_checkpoint_path(ws, 99), creator="t",
                                 epochs=1, time_budget_s=0).backbone_id
    run_cli("train", root, "--epochs", "1", "--patience", "0", "--min-steps", "0",
            "--no-semi-supervised")
    win = MainWindow(settings, "t")  # no automatic pretraining: the pool has its backbone
    qtbot.addWidget(win)
    try:
        assert win.open_project(root)
        assert not win.workbench.pretraining.runner.running
        assert f"Backbone {backbone}" in win.workbench.pretraining.state.text()
        table = win.models_tab.table_model
        column = [table.headerData(c, Qt.Orientation.Horizontal)
                  for c in range(table.columnCount())].index("Backbone")
        assert table.data(table.index(0, column)) == f"b{backbone}"
    finally:
        win.close()
