"""Regressions for the defects found by trying the window as a new user would."""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from app.labeling.queues import QueueSpec
from app.learning.model_registry import labels_since_latest_model
from app.learning.pick_reasons import ColdStartReason, StrategyReason
from tests.conftest import run_cli, run_cli_in_process
from tests.gui.conftest import OPENING_TIMEOUT_MS, open_window

QUEUE_TIMEOUT_MS = 120_000


def _show(qtbot, window, spec: QueueSpec) -> None:
    with qtbot.waitSignal(window.project.queueChanged, timeout=QUEUE_TIMEOUT_MS):
        window.workbench.queue_panel.select(spec)


@pytest.fixture(scope="session")
def two_versions_template(trained_template, tmp_path_factory):
    root = tmp_path_factory.mktemp("two-versions") / "project"
    shutil.copytree(trained_template, root)
    run_cli("train", root, "--epochs", "1", "--min-steps", "0", "--seed", "2")
    return root


@pytest.fixture
def two_versions_window(qtbot, settings, two_versions_template, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(two_versions_template, root)
    win = open_window(qtbot, settings, root)
    yield win
    win.close()


# -- opening on the right things --------------------------------------------------


def test_with_a_model_the_window_opens_on_most_uncertain(qtbot, trained_window):
    project = trained_window.project
    qtbot.waitUntil(lambda: project.spec.kind == "uncertain" and project.queue
                    and isinstance(project.queue[0].reason, StrategyReason | ColdStartReason),
                    timeout=QUEUE_TIMEOUT_MS)
    assert project.queue[0].reason.model == 1
    assert trained_window.workbench.queue_panel.kinds.currentItem().data(
        Qt.ItemDataRole.UserRole) == "uncertain"


def test_without_a_model_the_window_opens_on_a_diverse_first_batch(qtbot, settings, demo_copy):
    win = open_window(qtbot, settings, demo_copy)
    project = win.project
    qtbot.waitUntil(lambda: not project.queue_pending, timeout=OPENING_TIMEOUT_MS)
    assert win.last_error is None  # no modal pointing to the CLI
    assert project.spec.kind == "uncertain"
    assert project.queue and all(isinstance(r.reason, ColdStartReason) and r.reason.method == "kcenter"
                                 for r in project.queue)
    reason = win.workbench.labeling.reason.text()
    assert "No model yet" in reason and "diverse first batch" in reason
    win.close()


def test_monitor_opens_on_the_latest_model_and_follows_new_ones(qtbot, two_versions_window):
    win = two_versions_window
    win.tabs.setCurrentWidget(win.monitor_tab)
    assert win.monitor_tab.version.currentData() == 2
    assert "Model v2" in win.monitor_tab.chart.figure.axes[0].get_title()
    run_cli("train", win.project.root, "--epochs", "1", "--min-steps", "0", "--seed", "3")
    win.workbench.training.modelsChanged.emit()
    assert win.monitor_tab.version.currentData() == 3


def test_the_live_command_defaults_to_the_latest_model(two_versions_template):
    report = json.loads(run_cli_in_process("live", two_versions_template, "--json"))
    assert report["model"] == 2


# -- 1. Compare and Architecture --------------------------------------------------


def test_compare_and_architecture_are_filled_when_first_shown(qtbot, two_versions_window):
    tab = two_versions_window.models_tab
    two_versions_window.tabs.setCurrentWidget(tab)
    tab.details.setCurrentIndex(1)
    assert tab.compare_table.rowCount() == 2 + 2 * 10
    assert tab.compare_table.horizontalHeaderItem(1).text() == "v1"
    tab.details.setCurrentIndex(2)
    assert "Model v2" in tab.architecture.toPlainText()


# -- 2. failure sets made with F ----------------------------------------------------


def test_a_failure_set_made_with_f_reaches_the_failure_set_box(qtbot, window):
    box = window.workbench.queue_panel.failure_set
    assert box.count() == 0
    window.failure_set = "night shots"
    qtbot.keyClick(window, "f")
    assert [box.itemText(i) for i in range(box.count())] == ["night shots"]


# -- 3. an empty queue -------------------------------------------------------------


def test_an_empty_queue_shows_no_suggestion_and_enter_says_why(qtbot, trained_window):
    win, project = trained_window, trained_window.project
    _show(qtbot, win, QueueSpec(kind="unlabeled"))
    win.actions_by_name["suggest_mode"].trigger()
    project.go_to(len(project.queue) - 1)
    assert "suggests" in win.workbench.labeling.suggestion.text()
    messages = []
    project.message.connect(messages.append)
    qtbot.keyClick(win, "s")  # past the last sample: the queue is done
    assert project.current is None
    assert win.workbench.labeling.suggestion.isHidden()
    qtbot.keyClick(win, Qt.Key.Key_Return)
    assert messages and "not scored" not in messages[-1] and "queue" in messages[-1].lower()


# -- 4. MonitorTab.window ------------------------------------------------------------


def test_escape_in_the_monitor_model_combo_raises_nothing(qtbot, trained_window):
    win = trained_window
    win.tabs.setCurrentWidget(win.monitor_tab)
    assert win.monitor_tab.window() is win  # QWidget.window() is not shadowed
    combo = win.monitor_tab.version
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Escape)  # pytest-qt fails on an exception in the filter
    qtbot.keyClick(win.monitor_tab, Qt.Key.Key_Escape)


# -- 5. thumbnail captions ----------------------------------------------------------


def test_thumbnail_captions_fit_their_tiles(qtbot, trained_window):
    win = trained_window
    _show(qtbot, win, QueueSpec(kind="uncertain", strategy="margin"))
    for key in "123":
        qtbot.keyClick(win, key)  # labeled tiles carry a second line
    grid = win.workbench.grid
    metrics = grid.fontMetrics()
    model = grid.model()
    for row in range(min(40, model.rowCount())):
        index = model.index(row, 0)
        lines = model.data(index, Qt.ItemDataRole.DisplayRole).split("\n")
        rect = grid.visualRect(index)
        text_height = rect.height() - grid.iconSize().height()
        for line in lines:
            assert metrics.horizontalAdvance(line) < rect.width() - 4, (row, line, rect)
        assert len(lines) * metrics.lineSpacing() <= text_height, (row, lines, rect)
    labeled = [model.data(model.index(r, 0), Qt.ItemDataRole.DisplayRole) for r in range(3)]
    assert [text.split("\n")[-1] for text in labeled] == ["1", "2", "3"]


# -- 6. counters count current labels ---------------------------------------------------


def test_the_counters_count_labels_that_stand(qtbot, window):
    project = window.project
    for key in "1234":
        qtbot.keyClick(window, key)
    qtbot.keyClick(window, Qt.Key.Key_Backspace)
    qtbot.keyClick(window, Qt.Key.Key_Backspace)
    bar = window.statusBar()
    assert bar.counts.text() == "<b>2</b> / 1797 labeled"
    assert bar.model.text() == "no model yet · 2 labels"
    assert labels_since_latest_model(project.workspace) == 2


def test_auto_retrain_counts_labels_that_stand(qtbot, trained_window):
    win = trained_window
    training = win.workbench.training
    training.auto_every.setValue(3)
    started = []
    training.trainer.started.connect(started.append)
    for key in "12":
        qtbot.keyClick(win, key)
    qtbot.keyClick(win, Qt.Key.Key_Backspace)
    qtbot.keyClick(win, "4")  # three label presses, but two labels stand
    assert started == [] and labels_since_latest_model(win.project.workspace) == 2
    qtbot.keyClick(win, "5")
    assert len(started) == 1
    with qtbot.waitSignal(training.trainer.cancelled, timeout=QUEUE_TIMEOUT_MS):
        training.trainer.cancel()


# -- 7. status bar --------------------------------------------------------------------


def test_the_status_bar_shows_whole_progress_text_and_keeps_the_counts(qtbot, window):
    bar = window.statusBar()
    window.project.busy.emit("Scoring the pool", 10, 100)
    shown = bar.busy_text()
    assert shown == "Scoring the pool 10%"
    label = bar.busy_label
    assert label.isVisible() and label.width() >= label.fontMetrics().horizontalAdvance(shown)
    window.project.message.emit("Sample 3 added to failure set “x”")
    assert bar.per_class.isVisible() and bar.counts.isVisible()
    assert "failure set" in bar.notice.text() and bar.notice.isVisible()


# -- 8. the queue header ----------------------------------------------------------------


def test_the_header_counts_the_whole_queue(qtbot, window):
    _show(qtbot, window, QueueSpec(kind="unlabeled"))
    assert len(window.project.queue) == 1797
    assert "1 of 1,797" in window.workbench.labeling.title.text()
    _show(qtbot, window, QueueSpec(kind="uncertain", strategy="margin"))
    title = window.workbench.labeling.title.text()
    assert "1 of 500" in title and "1,797 unlabeled" in title  # a batch, and it says so


# -- 9. one score convention ---------------------------------------------------------------


def test_grid_reason_and_rank_show_the_same_scores_higher_first(qtbot, trained_window):
    win, project = trained_window, trained_window.project
    _show(qtbot, win, QueueSpec(kind="uncertain", strategy="margin"))
    ranked = json.loads(run_cli_in_process("rank", project.root, "--top", "5", "--json"))
    model = win.workbench.grid.model()
    for row, entry in enumerate(ranked):
        caption = model.data(model.index(row, 0), Qt.ItemDataRole.DisplayRole).split("\n")[0]
        assert entry["sample_id"] == project.queue[row].sample_id
        assert float(caption) == pytest.approx(entry["score"], abs=1e-3)
    scores = [entry["score"] for entry in ranked]
    assert scores == sorted(scores, reverse=True)
    first = model.data(model.index(0, 0), Qt.ItemDataRole.DisplayRole).split("\n")[0]
    assert f"score {first} (higher = more worth labeling)" in \
        win.workbench.labeling.reason.text()


# -- 10. bursts of keys ----------------------------------------------------------------------


def test_an_auto_repeated_key_labels_nothing(qtbot, window):
    for autorepeat in (False, True, True):
        event = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_3, Qt.KeyboardModifier.NoModifier,
                          "3", autorepeat)
        QApplication.sendEvent(window, event)
    assert window.project.workspace.current_labels() == {1: "3"}


def test_fifty_keys_at_20_per_second_in_suggestion_mode_while_scoring_finishes(
        qtbot, trained_window):
    win, project = trained_window, trained_window.project
    training = win.workbench.training
    _show(qtbot, win, QueueSpec(kind="uncertain", strategy="margin"))
    win.actions_by_name["suggest_mode"].trigger()
    before = len(project.workspace.store.all_annotations())
    scored, rebuilt = [], []
    training.scorer.succeeded.connect(scored.append)
    project.queueChanged.connect(lambda: rebuilt.append(len(scored)))
    assert training.scorer.start(project.workspace, {"model": 1, "mc_samples": 2})
    pressed = []
    for i in range(50):
        if i == 15:  # the scoring job ends mid-burst...
            qtbot.waitUntil(lambda: bool(scored), timeout=QUEUE_TIMEOUT_MS)
        if i == 30:  # ...and the queue it re-ranks lands mid-burst too
            qtbot.waitUntil(lambda: any(rebuilt), timeout=QUEUE_TIMEOUT_MS)
        key = str((i * 7) % 10)
        pressed.append((project.current.sample_id, key))
        qtbot.keyClick(win, key)
        qtbot.wait(50)  # 20 keys per second
    rows = project.workspace.store.all_annotations()[before:]
    assert [(r.sample_id, r.class_name) for r in rows] == pressed
    assert all(r.suggested for r in rows)
    assert len({sample for sample, _ in pressed}) == 50  # never a sample labeled twice
