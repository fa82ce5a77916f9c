"""Retraining from the window, the registry table, comparison and curves."""

from __future__ import annotations

import json
import shutil

import matplotlib.colors as mcolors
from PySide6.QtCore import Qt

from app.gui.main_window import MainWindow
from app.labeling.queues import QueueSpec
from app.learning.ranking import rank_unlabeled
from tests.conftest import run_cli
from tests.gui.conftest import TRAIN_TIMEOUT_MS


def test_retrain_moves_progress_adds_a_version_and_reranks_keeping_the_sample(
        qtbot, trained_window):
    win = trained_window
    bench = win.workbench
    with qtbot.waitSignal(win.project.queueChanged, timeout=60_000):
        bench.queue_panel.select(QueueSpec(kind="uncertain", strategy="margin"))
    win.project.go_to(3)
    seen = []
    bench.training.trainer.progress.connect(lambda e: seen.append(e.fraction_done))
    bench.training.epochs.setValue(2)
    bench.training.min_steps.setValue(0)
    with qtbot.waitSignal(bench.training.trainer.succeeded, timeout=TRAIN_TIMEOUT_MS):
        qtbot.mouseClick(bench.training.retrain, Qt.MouseButton.LeftButton)
        qtbot.keyClick(win, "7")  # labeling goes on while training runs
        on_screen = win.project.current.sample_id
    assert seen and seen[-1] == 1.0 and bench.training.progress.value() == 1000
    assert win.models_tab.table_model.rowCount() == 2
    with qtbot.waitSignal(win.project.queueChanged, timeout=TRAIN_TIMEOUT_MS):
        pass  # scoring job, then the re-rank
    assert win.project.current.sample_id == on_screen
    expected = rank_unlabeled(win.project.workspace, "margin")  # the whole pool, in order
    assert [r.sample_id for r in win.project.queue] == [r.sample_id for r in expected]
    assert all(r.reason.model == 2 for r in win.project.queue)


def test_cancel_mid_run_adds_nothing_and_the_app_stays_usable(qtbot, trained_window):
    win = trained_window
    training = win.workbench.training
    training.epochs.setValue(300)
    with qtbot.waitSignal(training.trainer.progress, timeout=TRAIN_TIMEOUT_MS):
        training.start_training()
    with qtbot.waitSignal(training.trainer.cancelled, timeout=TRAIN_TIMEOUT_MS):
        qtbot.mouseClick(training.cancel, Qt.MouseButton.LeftButton)
    assert win.models_tab.table_model.rowCount() == 1
    assert "cancelled" in training.state.text()
    before = len(win.project.workspace.current_labels())
    qtbot.keyClick(win, "3")
    assert len(win.project.workspace.current_labels()) == before + 1
    assert training.retrain.isEnabled()


def test_a_failing_job_shows_its_error(qtbot, settings, digits_demo, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(digits_demo.project, root)
    win = MainWindow(settings, "t")
    qtbot.addWidget(win)
    win.open_project(root)
    for _ in range(5):
        qtbot.keyClick(win, "1")  # one class only: nothing to learn from
    with qtbot.waitSignal(win.workbench.training.trainer.failed, timeout=TRAIN_TIMEOUT_MS):
        win.workbench.training.start_training()
    assert "at least 2 classes" in win.last_error or "classes" in win.last_error
    assert win.models_tab.table_model.rowCount() == 0
    win.close()


def test_compare_architecture_curve_simulation_and_delete(qtbot, trained_window, tmp_path,
                                                          trained_template):
    win = trained_window
    run_cli("train", win.project.root, "--epochs", "2", "--min-steps", "0", "--seed", "2")
    tab = win.models_tab
    tab.reload()
    assert tab.table_model.rowCount() == 2
    result = tab.show_comparison()
    assert result["a"]["id"] == 1 and result["b"]["id"] == 2
    assert tab.confusions.axes_count() == 4  # two heat maps and their colour bars
    assert tab.compare_table.rowCount() == 2 + 2 * 10
    win.resize(1280, 800)
    win.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(tab.compare_table.isVisible)
    assert not tab.compare_table.horizontalScrollBar().isVisible()  # Δ column in sight
    accuracy, macro_f1 = tab.curve.figure.axes[0].lines[:2]
    assert len(accuracy.get_xdata()) == len(macro_f1.get_xdata()) == 2  # a point per version
    assert list(macro_f1.get_ydata()) == [v.metrics["macro_f1"] for v in
                                          win.project.workspace.model_versions()]
    assert "Conv2d" in tab.show_architecture() and "input shape (3, 32, 32)" in \
        tab.architecture.toPlainText()
    png = tmp_path / "curve.png"
    tab.export_curve(str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = tmp_path / "curves.json"
    curves.write_text(json.dumps({"config": {}, "strategies": {
        "random": [{"labels": 10, "accuracy": 0.5, "macro_f1": 0.4, "std": 0.01},
                   {"labels": 20, "accuracy": 0.6, "macro_f1": 0.5, "std": 0.02}],
        "margin": [{"labels": 10, "accuracy": 0.5, "macro_f1": 0.4, "std": 0.01},
                   {"labels": 20, "accuracy": 0.7, "macro_f1": 0.6, "std": 0.02}]}}))
    tab.show_simulation(str(curves))
    assert len(tab.simulation.figure.axes[0].lines) == 2
    tab.table.selectRow(0)  # newest first
    assert tab.delete_selected(confirm=False)
    assert tab.table_model.rowCount() == 1
    assert win.project.workspace.model_versions(include_deleted=True)[-1].deleted_at


def test_suggestion_mode_enter_accepts_and_a_key_corrects(qtbot, trained_window):
    from app.labeling.session import acceptance_rate
    from app.monitor.live_accuracy import prediction_for

    win = trained_window
    project = win.project
    win.actions_by_name["suggest_mode"].trigger()
    assert project.suggest_mode
    first = project.current.sample_id
    expected = prediction_for(project.workspace, first)["predicted_class"]
    suggestion_text = win.workbench.labeling.suggestion.text()
    assert f"<b>{expected}</b>" in suggestion_text
    assert win.workbench.labeling.class_buttons[expected].property("suggested")
    qtbot.keyClick(win, Qt.Key.Key_Return)
    second = project.current.sample_id
    predicted_second = prediction_for(project.workspace, second)["predicted_class"]
    other = next(c for c in project.classes() if c != predicted_second)
    qtbot.keyClick(win, other)
    rows = {a.sample_id: a for a in project.workspace.store.all_annotations()
            if a.sample_id in (first, second)}
    assert rows[first].class_name == expected and rows[first].suggested
    assert rows[second].class_name == other and rows[second].suggested
    with_predictions = {a.sample_id: (a, p) for a, p, _c, _v in
                        project.workspace.store.annotations_with_predictions()}
    assert with_predictions[second][1] == predicted_second  # the correction keeps the guess
    assert acceptance_rate(project.workspace) == {
        "suggested": 2, "accepted": 1, "corrected": 1, "rate": 0.5}


def test_monitor_shows_live_accuracy_alerts_and_drift_queue(qtbot, trained_window, tmp_path):
    from PIL import Image, ImageOps

    from app.monitor.live_accuracy import prediction_for

    win = trained_window
    project = win.project
    project.workspace.set_setting("accuracy_alert_margin", "0.05")
    with qtbot.waitSignal(project.queueChanged, timeout=30_000):
        win.workbench.queue_panel.select(QueueSpec(kind="random"))
    for _ in range(25):  # answer against the model every time: live accuracy 0
        predicted = prediction_for(project.workspace, project.current.sample_id)
        wrong = next(c for c in project.classes() if c != predicted["predicted_class"])
        qtbot.keyClick(win, wrong)
    win.tabs.setCurrentWidget(win.monitor_tab)  # refreshes on show
    tab = win.monitor_tab
    assert "Random queue (the unbiased estimate): 0.000" in tab.summary.text()
    assert not tab.alert.isHidden() and "below validation accuracy" in tab.alert.text()
    axes = tab.chart.figure.axes[0]
    assert len(axes.lines) >= 2  # the series and the reference lines
    tab.chart.draw()  # the legend sits beside the plot, in the theme's colours
    assert axes.get_legend().get_window_extent().x0 >= axes.get_window_extent().x1
    assert mcolors.to_hex(axes.get_legend().get_frame().get_facecolor()) \
        == tab.chart.colors()[0]

    inverted = tmp_path / "inverted"
    inverted.mkdir()
    for path in sorted((project.root / "pool").iterdir())[:120]:
        ImageOps.invert(Image.open(path).convert("L")).save(inverted / path.name)
    with qtbot.waitSignal(project.idle, timeout=60_000):
        win.import_paths([str(inverted)])
    tab.refresh()
    batch = project.workspace.store.list_batches()[-1].id
    with qtbot.waitSignal(tab.driftChecked, timeout=300_000):
        tab.check_batch(batch)
    assert tab.reports[batch].drift
    row = tab.batches.rowCount() - 1
    assert tab.batches.item(row, 6).text() == "DRIFT"
    tab.batches.selectRow(row)
    assert tab.open_button.isEnabled()
    with qtbot.waitSignal(project.queueChanged, timeout=120_000):
        qtbot.mouseClick(tab.open_button, Qt.MouseButton.LeftButton)
    assert win.tabs.currentWidget() is win.workbench and project.spec.kind == "drift"
    batch_ids = set(project.workspace.store.sample_ids_in_batch(batch))
    assert project.queue and {item.sample_id for item in project.queue} <= batch_ids


def test_auto_retrain_starts_a_job_after_n_new_labels(qtbot, trained_window):
    win = trained_window
    training = win.workbench.training
    training.auto_every.setValue(3)
    assert win.project.workspace.setting("auto_retrain_every") == "3"
    started = []
    training.trainer.started.connect(started.append)
    qtbot.keyClick(win, "1")
    qtbot.keyClick(win, "2")
    assert started == []
    qtbot.keyClick(win, "3")
    assert len(started) == 1 and training.trainer.running
    with qtbot.waitSignal(training.trainer.cancelled, timeout=TRAIN_TIMEOUT_MS):
        training.trainer.cancel()
