"""kill -9 in the middle of a video import, then run it again: no frame twice, none lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from app.project.workspace import Workspace
from tests.app.video_fixtures import Scene, make_video
from tests.conftest import REPO, run_cli


def _frames(root) -> list[tuple[int, int, str]]:
    with Workspace.open(root, read_only=True) as ws:
        return sorted((s.media_id, s.frame_index, s.path) for s in ws.samples() if s.is_frame)


def test_kill_during_video_import_then_rerun(tmp_path):
    video = tmp_path / "busy.mp4"
    # Every frame a new picture: each one is a candidate and is kept.
    make_video(video, [Scene(0.04, seed) for seed in range(100, 400)], fps=25,
               width=320, height=240)
    args = [str(video), "--every", "0.04", "--max-hamming", "0"]
    run_cli("init", tmp_path / "clean", "--classes", "a")
    run_cli("import", tmp_path / "clean", *args)
    expected = _frames(tmp_path / "clean")
    assert len(expected) > 250

    run_cli("init", tmp_path / "p", "--classes", "a")
    child = subprocess.Popen([sys.executable, "-m", "app", "import", str(tmp_path / "p"), *args],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    seen = 0
    while time.monotonic() < deadline and child.poll() is None:
        try:
            seen = len(_frames(tmp_path / "p"))
        except Exception:  # the schema may not be readable for an instant at start
            seen = 0
        if seen >= 16:  # the first transaction landed: most of the work is still ahead
            break
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "the import finished before it could be killed"
    partial = _frames(tmp_path / "p")
    assert 0 < len(partial) < len(expected)

    run_cli("import", tmp_path / "p", *args)
    after = _frames(tmp_path / "p")
    keys = [(m, i) for m, i, _ in after]
    assert len(keys) == len(set(keys)), "a frame was recorded twice"
    assert [(i, p) for _, i, p in after] == [(i, p) for _, i, p in expected]
    # Every recorded frame's file is whole: it decodes to the size of the video.
    for _, _, path in after:
        with Image.open(tmp_path / "p" / path) as image:
            assert np.asarray(image).shape == (240, 320, 3)
    litter = [p for p in (tmp_path / "p" / "cache" / "frames").rglob(".*")]
    assert litter == [], litter
