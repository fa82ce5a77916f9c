"""The Monitor tab checks a new batch for drift before any model exists."""

from __future__ import annotations

from PIL import Image, ImageOps
from PySide6.QtCore import Qt

from app.gui.formatting import reason_text


def test_drift_of_a_batch_is_checked_and_opened_without_a_model(qtbot, window, tmp_path):
    win = window
    project = win.project
    assert project.workspace.latest_model() is None
    inverted = tmp_path / "inverted"
    inverted.mkdir()
    for path in sorted((project.root / "pool").iterdir())[:120]:
        ImageOps.invert(Image.open(path).convert("L")).save(inverted / path.name)
    with qtbot.waitSignal(project.idle, timeout=60_000):
        win.import_paths([str(inverted)])
    win.tabs.setCurrentWidget(win.monitor_tab)
    tab = win.monitor_tab
    tab.refresh()
    batch = project.workspace.store.list_batches()[-1].id
    with qtbot.waitSignal(tab.driftChecked, timeout=300_000):
        tab.check_batch(batch)
    report = tab.reports[batch]
    assert report.drift and report.model is None
    row = tab.batches.rowCount() - 1
    cells = [tab.batches.item(row, c).text() for c in range(tab.batches.columnCount())]
    assert cells[3] == f"{report.mmd_p_value:.4f}" and cells[4:7] == ["–", "–", "DRIFT"]
    assert "pool before this batch" in tab.batches.item(row, 0).toolTip()
    tab.batches.selectRow(row)
    with qtbot.waitSignal(project.queueChanged, timeout=120_000):
        qtbot.mouseClick(tab.open_button, Qt.MouseButton.LeftButton)
    assert project.spec.kind == "drift" and project.queue
    assert {item.sample_id for item in project.queue} <= set(
        project.workspace.store.sample_ids_in_batch(batch))
    assert "label-free embedding" in reason_text(project.queue[0])
