"""The README's screenshots, taken from the real window offscreen.

    QT_QPA_PLATFORM=offscreen python -m tests.gui.screenshot_set WORKDIR

builds the demo in WORKDIR (reused when there): 400 labels from its truth
file with 6% of them flipped, the first 200 by "ana" and the rest by "ben",
a version trained after each half and both evaluated on the simulate test
split; then writes ``assets/screenshot.png`` and ``assets/screenshots/*.png``
from a 1440 x 900 window (1280 x 800 for the main one); the monitor's come
last, after 40 labels from Most uncertain and 80 from the random queue.  Not a test: pytest
does not collect it; run it when the window changes.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "assets" / "screenshots"
FLIPPED = 0.06


def labelloop(*args: object) -> None:
    subprocess.run([sys.executable, "-m", "app", *map(str, args)], check=True, cwd=REPO)


def build(workdir: Path) -> Path:
    """The demo project as the screenshots show it; built once per WORKDIR."""
    from app.pool.demo import build_demo

    demo = build_demo(workdir / "demo")
    project = demo.project
    if (workdir / "built").exists():
        return project
    rows = list(csv.reader(open(demo.truth_csv, encoding="utf-8")))[1:401]
    rng = random.Random(0)
    for part, annotator in ((rows[:200], "ana"), (rows[200:], "ben")):
        noisy = workdir / f"labels-{annotator}.csv"
        with open(noisy, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "label"])
            for file, label in part:
                if rng.random() < FLIPPED:
                    label = str((int(label) + rng.randint(1, 9)) % 10)
                writer.writerow([file, label])
        labelloop("import-labels", "--annotator", annotator, project, noisy)
        labelloop("train", "--annotator", annotator, "--epochs", "8", "--seed", "1", project)
        labelloop("evaluate", project, demo.simulate_test)
    labelloop("score", project, "--mc-samples", "2")
    (workdir / "built").touch()
    return project


def take(project: Path, workdir: Path) -> None:
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow
    from app.labeling.queue_filters import QueueFilter
    from app.labeling.queues import QueueSpec

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(workdir / "settings.ini"), QSettings.Format.IniFormat)
    settings.clear()
    settings.setValue(f"queue/{project}", json.dumps(QueueSpec(kind="unlabeled").to_json()))
    window = MainWindow(settings, "ben")
    assert window.open_project(project)
    window.resize(1440, 900)
    window.show()

    def settle(seconds: float = 0.6) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end or window.project.queue_pending:
            app.processEvents()
            time.sleep(0.02)

    def show(spec: QueueSpec) -> None:
        window.tabs.setCurrentWidget(window.workbench)
        window.workbench.queue_panel.select(spec)
        settle(1.5)  # the queue, then the thumbnails decoded on the pool threads

    def save(name: str, widget=None) -> None:
        settle()
        (widget or window).grab().save(str(SHOTS / name))
        print("wrote", SHOTS / name)

    def theme(name: str) -> None:
        window.actions_by_name[f"theme_{name}"].trigger()
        settle()

    uncertain = QueueSpec(kind="uncertain", strategy="margin")
    theme("dark")
    window.actions_by_name["suggest_mode"].trigger()
    show(uncertain)
    save("label-dark.png")
    theme("light")
    save("label-light.png")
    window.actions_by_name["suggest_mode"].trigger()

    theme("dark")
    show(QueueSpec(kind="unlabeled", filters=QueueFilter(
        predicted_class="8", max_confidence=0.7, sort="score")))
    grid = window.workbench.grid
    for row, modifier in ((0, Qt.KeyboardModifier.NoModifier),
                          (2, Qt.KeyboardModifier.ControlModifier),
                          (3, Qt.KeyboardModifier.ControlModifier)):
        centre: QPoint = grid.visualRect(grid.model().index(row, 0)).center()
        QTest.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, modifier, centre)
    save("filters-and-batch.png")

    show(QueueSpec(kind="mislabeled"))
    save("mislabeled.png")

    for name in ("light", "dark"):
        theme(name)
        window.tabs.setCurrentWidget(window.models_tab)
        window.models_tab.show_comparison()
        save(f"compare-{name}.png")

    theme("dark")
    window.tabs.setCurrentWidget(window.workbench)
    window.on_manage_classes()
    manager = window.class_manager
    manager.resize(730, 560)
    save("class-manager.png", manager)
    manager.close()
    window.on_settings()
    save("settings.png", window.settings_dialog)
    window.settings_dialog.close()

    window.resize(1280, 800)
    show(uncertain)
    window.go_to_sample("digit_0004.png")
    save("../screenshot.png")

    # The monitor needs labels given since the model: 40 from Most uncertain
    # (the hard ones) and 80 from the random queue, answered from the truth file.
    truth = dict(list(csv.reader(open(workdir / "demo" / "truth.csv", encoding="utf-8")))[1:])
    for spec, count in ((uncertain, 40), (QueueSpec(kind="random"), 80)):
        show(spec)
        for _ in range(count):
            QTest.keyClick(window, truth[Path(window.project.current.path).name])
            app.processEvents()
    for name in ("light", "dark"):
        theme(name)
        window.tabs.setCurrentWidget(window.monitor_tab)
        save(f"monitor-{name}.png")
    window.close()


def main() -> None:
    workdir = Path(sys.argv[1]).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    built = build(workdir)
    # The pictures label samples (the monitor's): on a copy, so a second run
    # starts from the same project as the first.
    project = workdir / "shown" / "project"
    shutil.rmtree(project.parent, ignore_errors=True)
    shutil.copytree(built, project)
    take(project, workdir)


if __name__ == "__main__":
    main()
