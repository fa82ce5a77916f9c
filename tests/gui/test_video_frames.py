"""Labeling video frames in the window: the header's clock, the filmstrip, [ and ], the filter."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from app.gui.main_window import MainWindow
from app.labeling.queues import QueueSpec
from app.pool.importer import import_images
from app.project.workspace import Workspace
from tests.app.video_fixtures import SCENES, Scene, make_video
from tests.conftest import write_noise_images


@pytest.fixture
def video_window(qtbot, settings, tmp_path):
    video = tmp_path / "drive.mp4"
    make_video(video, [*SCENES, Scene(1.0, 9), Scene(1.0, 10)], fps=25, width=160,
               height=120)
    with Workspace.init(tmp_path / "p", ["car", "none"]) as ws:
        import_images(ws, [video, *write_noise_images(tmp_path / "imgs", 3)], workers=1)
    win = MainWindow(settings, "gui-tester")
    qtbot.addWidget(win)
    assert win.open_project(tmp_path / "p")
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: not win.project.queue_pending, timeout=60_000)
    yield win
    win.close()


def _frames(win):
    return sorted((s for s in win.project.workspace.samples() if s.is_frame),
                  key=lambda s: s.frame_index)


def test_frames_show_video_and_clock_filmstrip_and_step_with_brackets(qtbot, video_window):
    win = video_window
    panel = win.workbench.queue_panel
    panel.media.setCurrentIndex(panel.media.findData("videos"))
    panel.select(QueueSpec(kind="unlabeled", media="videos"))
    project = win.project
    frames = _frames(win)
    assert len(frames) >= 6
    assert [q.sample_id for q in project.queue] == [f.id for f in frames]
    labeling = win.workbench.labeling
    project.go_to(2)
    third = frames[2]
    assert "drive.mp4 · 00:0" in labeling.title.text()
    minutes, seconds = divmod(third.timestamp_s, 60)
    assert f"{int(minutes):02d}:{seconds:06.3f}" in labeling.title.text()
    strip = labeling.filmstrip
    assert strip.isVisible()
    assert [n.offset for n in strip.shown] == [-2, -1, 0, 1, 2, 3]
    # The tiles' pictures arrive from the worker threads.
    qtbot.waitUntil(lambda: all(t.pixmap() is not None and not t.pixmap().isNull()
                                for t in strip.tiles if t.sample_id), timeout=10_000)
    qtbot.keyClick(win, "]")
    assert project.current.sample_id == frames[3].id
    qtbot.keyClick(win, "[")
    qtbot.keyClick(win, "[")
    assert project.current.sample_id == frames[1].id
    qtbot.mouseClick(strip.tiles[strip.side + 2], Qt.MouseButton.LeftButton)  # two later
    assert project.current.sample_id == frames[3].id
    assert project.workspace.current_labels() == {}  # stepping labels nothing
    win.grab().save("/tmp/video_gui.png")
    # Image files only: no frame in the queue, no filmstrip.
    panel.select(QueueSpec(kind="unlabeled", media="images"))
    assert len(project.queue) == 3 and not strip.isVisible()
    assert "drive.mp4" not in labeling.title.text()
    qtbot.keyClick(win, "]")  # not a frame: stays, says so
    assert project.current.sample_id == project.queue[0].sample_id


def test_the_first_and_last_kept_frames_stop_the_brackets(qtbot, video_window):
    win = video_window
    win.workbench.queue_panel.select(QueueSpec(kind="unlabeled", media="videos"))
    frames = _frames(win)
    messages = []
    win.project.message.connect(messages.append)
    qtbot.keyClick(win, "[")
    assert win.project.current.sample_id == frames[0].id
    assert messages[-1] == "No earlier kept frame of this video"
    win.project.show_sample(frames[-1].id)
    qtbot.keyClick(win, "]")
    assert win.project.current.sample_id == frames[-1].id
    assert messages[-1] == "No later kept frame of this video"
    qtbot.keyClick(win, "}")  # brightness moved to braces
    assert win.workbench.labeling.image.adjustment.brightness_steps == 1


def test_importing_a_video_in_the_window_runs_in_the_background(qtbot, video_window, tmp_path):
    win = video_window
    project = win.project
    before = len(_frames(win))
    second = tmp_path / "second.webm"
    make_video(second, [Scene(1.0, 41), Scene(1.0, 42), Scene(1.0, 43)], fps=25)
    progress = []
    project.busy.connect(lambda message, done, total: progress.append((done, total)))
    messages = []
    project.message.connect(messages.append)
    with qtbot.waitSignal(project.idle, timeout=60_000):
        win.import_paths([str(second)])
        # import_paths returned at once: the frames arrive later, off the UI thread.
        assert len(_frames(win)) == before
    added = len(_frames(win)) - before
    assert added == 3
    assert any("3 frames from 1 video " in m for m in messages)
    assert any(total == 75 for _, total in progress)  # the video's frames, counted


def test_the_video_filter_keeps_the_frames_of_the_video_chosen(qtbot, settings, tmp_path):
    from tests.conftest import run_cli

    first, second = tmp_path / "drive.mp4", tmp_path / "park.mp4"
    make_video(first, SCENES[:2], fps=25, width=64, height=48)
    make_video(second, [Scene(1.0, 9), Scene(1.0, 10)], fps=25, width=64, height=48)
    with Workspace.init(tmp_path / "p", ["car", "none"]) as ws:
        import_images(ws, [first, second, *write_noise_images(tmp_path / "imgs", 3)],
                      workers=1)
        park = next(m for m in ws.media() if m.name == "park.mp4")
        park_frames = {s.id for s in ws.samples() if s.media_id == park.id}
    assert park_frames
    win = MainWindow(settings, "gui-tester")
    qtbot.addWidget(win)
    assert win.open_project(tmp_path / "p")
    win.show()
    qtbot.waitUntil(lambda: not win.project.queue_pending, timeout=60_000)
    win.workbench.queue_panel.select(QueueSpec(kind="unlabeled"))
    videos = win.workbench.queue_panel.filters.video
    assert videos.isEnabled() and videos.count() == 3  # Any, drive.mp4, park.mp4
    index = videos.findData(park.id)
    assert videos.itemText(index).endswith("park.mp4")
    videos.setCurrentIndex(index)
    with qtbot.waitSignal(win.project.queueChanged, timeout=30_000):
        videos.activated.emit(index)  # as a pick from the list does
    assert {item.sample_id for item in win.project.queue} == park_frames
    assert f"video {park.id}" in win.workbench.labeling.title.text()
    win.close()

    listed = run_cli("queue", tmp_path / "p", "--video", "park.mp4", "--top", "1000", "--json")
    assert {row["sample_id"] for row in json.loads(listed.stdout)} == park_frames
    refused = run_cli("queue", tmp_path / "p", "--video", "nowhere.mp4", check=False)
    assert refused.returncode == 1 and "no video 'nowhere.mp4'" in refused.stderr
