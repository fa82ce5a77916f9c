"""Importing real videos (H.264 MP4, VP9 WebM, MJPEG AVI made here with PyAV).

The scenes are known, so the tests know which frames must come out: one
per scene at least, never more than a still scene's duration / ``every``,
each at the right time and with exactly the decoded pixels.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.files.video_decode import SelectiveDecoder, decode_frame_at, scan_frames
from app.pool.importer import ImportReport, import_images
from app.pool.video_import import FrameSampling, frame_identity
from app.project.workspace import Workspace
from sampling.frame_selection import interval_candidates
from tests.app.video_fixtures import (
    SCENES,
    Scene,
    decoded_frames,
    make_audio_only,
    make_unknown_codec,
    make_video,
    scene_of,
)
from tests.conftest import run_cli, write_noise_images

FPS = 25


def _frames(ws: Workspace):
    return sorted((s for s in ws.samples() if s.is_frame), key=lambda s: (s.media_id,
                                                                            s.frame_index))


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_known_scenes_give_the_right_frames_at_the_right_times(tmp_path, suffix):
    video = tmp_path / f"drive{suffix}"
    truth = make_video(video, fps=FPS)
    decoded = decoded_frames(video)
    with Workspace.init(tmp_path / "p", ["a", "b"]) as ws:
        report = import_images(ws, [video], workers=1)
        frames = _frames(ws)
        assert report.videos == 1 and report.frames == len(frames) == report.added
        assert report.failed == []
        scenes = Counter(scene_of(f.timestamp_s) for f in frames)
        # Every scene yields at least one frame ...
        assert set(scenes) == set(range(len(SCENES)))
        # ... and a still scene never more than its duration / every (+1 for a partial interval).
        for index, scene in enumerate(SCENES):
            assert scenes[index] <= math.ceil(scene.seconds / 1.0) + 1
        # The near-duplicate rule works: far fewer frames than one per second.
        assert len(frames) < sum(s.seconds for s in SCENES) / 1.0
        for frame in frames:
            # Timestamps within one frame of the truth, and the frame index is the truth's.
            assert abs(frame.timestamp_s - truth[frame.frame_index]) <= 1 / FPS + 1e-6
            t, pixels = decoded[frame.frame_index]
            assert abs(t - frame.timestamp_s) <= 1 / FPS + 1e-6
            cached = np.asarray(Image.open(ws.resolve(frame.path)).convert("RGB"))
            assert np.array_equal(cached, pixels), "cached PNG differs from the decoded frame"
            assert (frame.width, frame.height) == (64, 48)
        [media] = ws.media()
        assert media.name == video.name and abs(media.duration_s - 7.5) < 0.1
        assert media.fps == pytest.approx(FPS)


def test_every_keeps_at_most_one_candidate_per_interval_with_variable_frame_rate(tmp_path):
    # Irregular frame times (on the encoder's 1/50 s grid): a burst, a gap that leaves
    # an interval empty, a slow stretch.
    times = [0.0, 0.04, 0.08, 0.5, 0.96, 1.0, 1.02, 1.6, 3.3, 3.34, 4.9, 5.0, 5.5, 5.98]
    scenes = [Scene(0.5, 11), Scene(0.5, 12), Scene(1.0, 13), Scene(2.0, 14), Scene(2.0, 15)]
    video = tmp_path / "vfr.mp4"
    make_video(video, scenes, frame_times=times, fps=50)
    table = scan_frames(video)
    assert np.allclose(table.times, times, atol=1e-3)
    expected_firsts = [0, 5, 8, 10, 11]  # first frame of [0,1) [1,2) [3,4) [4,5) [5,6)
    assert interval_candidates(table.times, 1.0).tolist() == expected_firsts
    with Workspace.init(tmp_path / "p", ["a"]) as ws:
        import_images(ws, [video], workers=1, sampling=FrameSampling(every=1.0, max_hamming=0))
        frames = _frames(ws)
        assert [f.frame_index for f in frames] == expected_firsts
        assert [round(f.timestamp_s, 3) for f in frames] == [times[i] for i in expected_firsts]


def test_scene_change_keeps_the_first_frame_after_each_cut(tmp_path):
    video = tmp_path / "cuts.mp4"
    # Cuts at 0.3 s and 2.7 s fall inside intervals whose candidate is earlier.
    make_video(video, [Scene(0.3, 21), Scene(2.4, 22), Scene(1.3, 23)], fps=FPS)
    with Workspace.init(tmp_path / "p", ["a"]) as ws:
        import_images(ws, [video], workers=1, sampling=FrameSampling(every=10.0))
        assert [f.frame_index for f in _frames(ws)] == [0]
    with Workspace.init(tmp_path / "q", ["a"]) as ws:
        import_images(ws, [video], workers=1,
                      sampling=FrameSampling(every=10.0, scene_change=True))
        indices = [f.frame_index for f in _frames(ws)]
        assert indices == [0, round(0.3 * FPS), round(2.7 * FPS)]


def test_bad_videos_are_reported_and_the_import_carries_on(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_video(src / "good.mp4", SCENES[:2], fps=FPS)
    write_noise_images(src, 2)
    (src / "zero.mp4").write_bytes(b"")
    (src / "text.mkv").write_text("no video here\n" * 20)
    make_audio_only(src / "voice.mp4")
    make_unknown_codec(src / "alien.avi")
    whole = tmp_path / "whole.webm"
    make_video(whole, fps=FPS)
    data = whole.read_bytes()
    (src / "cut.webm").write_bytes(data[: len(data) // 2])
    mp4 = (src / "good.mp4").read_bytes()
    (src / "cut.mp4").write_bytes(mp4[: len(mp4) // 2])  # the index (moov) was at the end
    fast = tmp_path / "fast.mp4"
    make_video(fast, fps=FPS, faststart=True)  # the index first: the frames before the cut stay
    data = fast.read_bytes()
    (src / "cut-fast.mp4").write_bytes(data[: len(data) * 6 // 10])
    # Detected by content: a video named like nothing at all.
    (src / "clip.data").write_bytes(mp4)
    with Workspace.init(tmp_path / "p", ["a"]) as ws:
        report = import_images(ws, [src, src / "clip.data"], workers=1)
        reasons = {Path(f.path).name: f.reason for f in report.failed}
        assert set(reasons) == {"zero.mp4", "text.mkv", "voice.mp4", "alien.avi", "cut.webm",
                                "cut.mp4", "cut-fast.mp4"}
        assert "empty file" in reasons["zero.mp4"]
        assert reasons["text.mkv"] == "not an image or video (unrecognised format)"
        assert "audio only" in reasons["voice.mp4"]
        assert "unsupported video codec" in reasons["alien.avi"]
        assert "truncated" in reasons["cut.mp4"]
        assert "truncated" in reasons["cut.webm"] and "kept" in reasons["cut.webm"]
        assert "truncated" in reasons["cut-fast.mp4"] and "of a declared 7.52 s" in \
            reasons["cut-fast.mp4"]
        frames = _frames(ws)
        by_video = Counter(ws.media([f.media_id])[0].name for f in frames)
        # The truncated WebM keeps the frames before the damage: its first scene at least.
        assert by_video["cut.webm"] >= 1
        kept_cut = [f for f in frames if ws.media([f.media_id])[0].name == "cut.webm"]
        assert max(f.timestamp_s for f in kept_cut) < 7.5 / 2 + 0.5
        # good.mp4 and clip.data are the same content: one video, frames once
        # (under the name the walk met first).
        assert by_video["clip.data"] >= 2 and "good.mp4" not in by_video
        assert by_video["cut-fast.mp4"] >= 2  # its first two scenes lie before the cut
        assert report.videos == 4  # good.mp4, cut.webm, cut-fast.mp4, clip.data
        assert len([s for s in ws.samples() if not s.is_frame]) == 2


def test_progress_is_reported_per_video_in_frames(tmp_path):
    first, second = tmp_path / "one.mp4", tmp_path / "two.webm"
    make_video(first, SCENES[:1], fps=FPS)
    make_video(second, SCENES[:2], fps=FPS)
    calls: list[tuple[str, int, int]] = []
    with Workspace.init(tmp_path / "p", ["a"]) as ws:
        import_images(ws, [first, second], workers=1,
                      video_progress=lambda name, done, total: calls.append((name, done, total)))
    assert [c[0] for c in calls] == sorted([c[0] for c in calls])  # one video after the other
    for name, frames in (("one.mp4", 50), ("two.webm", 88)):
        mine = [(done, total) for n, done, total in calls if n == name]
        assert mine[-1] == (frames, frames) and {t for _, t in mine} == {frames}
        assert [d for d, _ in mine] == sorted(d for d, _ in mine)


def test_reimport_adds_nothing_and_other_settings_add_only_new_frames(tmp_path):
    video = tmp_path / "v.webm"
    make_video(video, fps=FPS)
    with Workspace.init(tmp_path / "p", ["a"]) as ws:
        first = import_images(ws, [video], workers=1)
        again = import_images(ws, [video], workers=1)
        assert first.frames > 0 and again.added == 0 and again.frames == 0
        # Its frames are counted as duplicates, like an image imported twice.
        assert again.duplicates == first.frames
        before = {f.frame_index for f in _frames(ws)}
        finer = import_images(ws, [video], workers=1, sampling=FrameSampling(every=0.25))
        after = [f.frame_index for f in _frames(ws)]
        assert len(after) == len(set(after)), "a frame was added twice"
        assert before < set(after) and finer.added == len(after) - len(before)
        media = ws.media()[0]
        assert all(f.sha256 == frame_identity(media.sha256, f.frame_index) for f in _frames(ws))


def test_b_frames_are_indexed_in_presentation_order_and_decoded_exactly(tmp_path):
    # x264's "medium" preset reorders B-frames and marks some disposable, which the
    # selective decoder skips: the frames it does return must be the full decode's.
    video = tmp_path / "bframes.mp4"
    scenes = [Scene(0.12, seed) for seed in range(30, 80)]  # a new picture every 3 frames
    truth = make_video(video, scenes, fps=FPS, preset="medium")
    decoded = decoded_frames(video)
    table = scan_frames(video)
    assert not table.decode_pts.tolist() == sorted(table.decode_pts.tolist()), \
        "no reordered frame: the test would not exercise B-frames"
    assert np.allclose(table.times, truth, atol=1e-6)
    wanted = {int(table.pts[i]) for i in interval_candidates(table.times, 0.3)}
    decoder = SelectiveDecoder(video, table, wanted)
    assert [pts for pts, _ in decoder] == sorted(wanted)
    assert decoder.decoded < len(table), "no disposable frame was skipped"
    with Workspace.init(tmp_path / "p", ["a"]) as ws:
        import_images(ws, [video], workers=2,
                      sampling=FrameSampling(every=0.3, max_hamming=0))
        frames = _frames(ws)
        assert [f.frame_index for f in frames] == \
            interval_candidates(table.times, 0.3).tolist()
        for frame in frames:
            cached = np.asarray(Image.open(ws.resolve(frame.path)).convert("RGB"))
            assert np.array_equal(cached, decoded[frame.frame_index][1]), frame.frame_index


def test_what_no_candidate_needs_is_never_decoded(tmp_path):
    # One-second groups of pictures: each candidate is its group's keyframe, so
    # the other 24 frames of every group are never sent to the decoder.
    video = tmp_path / "gop25.mp4"
    make_video(video, [Scene(0.12, seed) for seed in range(30, 80)], fps=FPS, gop=FPS,
               preset="medium")
    table = scan_frames(video)
    assert table.decode_key.sum() == 6  # 150 frames, a keyframe every 25
    decoded = decoded_frames(video)
    for every in (1.0, 2.0):
        wanted = {int(table.pts[i]) for i in interval_candidates(table.times, every)}
        decoder = SelectiveDecoder(video, table, wanted)
        frames = list(decoder)
        assert [pts for pts, _ in frames] == sorted(wanted)
        assert decoder.decoded == len(wanted)  # the keyframes alone
        for pts, frame in frames:
            assert np.array_equal(frame.to_ndarray(format="rgb24"),
                                  decoded[table.index_of(pts)][1])


def test_a_missing_cached_frame_can_be_decoded_again_exactly(tmp_path):
    video = tmp_path / "v.mp4"
    make_video(video, fps=FPS, gop=30)
    table = scan_frames(video)
    decoded = decoded_frames(video)
    for index in (0, 31, 100, 187):
        assert np.array_equal(decode_frame_at(video, int(table.pts[index])), decoded[index][1])


def test_cli_import_json_counts_videos_and_frames(tmp_path):
    src = tmp_path / "src"
    make_video(src / "a.mp4", SCENES[:2], fps=FPS) if src.mkdir() is None else None
    write_noise_images(src, 3)
    run_cli("init", tmp_path / "p", "--classes", "a")
    out = json.loads(run_cli("import", tmp_path / "p", src, "--json", "--every", "0.5",
                             "--max-hamming", "12").stdout)
    assert list(out) == ["added", "duplicates", "failed", "batch", "videos", "frames"]
    assert out["videos"] == 1 and out["frames"] == 2 and out["added"] == 5
    bad = run_cli("import", tmp_path / "p", src, "--every", "0", check=False)
    assert bad.returncode == 2 and "--every" in bad.stderr
    # The queues list frames apart from image files, each frame with its video fields.
    rows = json.loads(run_cli("queue", tmp_path / "p", "--media", "videos", "--json").stdout)
    assert len(rows) == 2 and all(r["video"].endswith("a.mp4") for r in rows)
    assert [r["frame_index"] is not None for r in rows] == [True, True]
    rows = json.loads(run_cli("queue", tmp_path / "p", "--media", "images", "--json").stdout)
    assert len(rows) == 3 and all("video" not in r for r in rows)
    rows = json.loads(run_cli("next", tmp_path / "p", "--annotator", "ann", "--claim", "5",
                              "--strategy", "random", "--json").stdout)
    frames = [r for r in rows if "frame_index" in r]
    assert len(rows) == 5 and len(frames) == 2
    assert all(r["video"].endswith("a.mp4") and "lease_expires_at" in r for r in frames)


def test_a_terminal_gets_one_bar_per_video_even_for_videos_of_one_name(monkeypatch):
    import io

    from app.cli.output import video_progress_bars

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    with video_progress_bars() as update:
        update("clip.mp4", 30, 60)
        update("clip.mp4", 60, 60)  # cam1/clip.mp4 done
        update("clip.mp4", 8, 90)  # cam2/clip.mp4: a video of its own
        update("clip.mp4", 90, 90)
        update("other.mp4", 45, 45)
    finals = [line.split("|")[-1].split("[")[0].strip()
              for line in screen.getvalue().replace("\r", "\n").splitlines()
              if "clip.mp4" in line or "other.mp4" in line]
    assert "60/60" in finals and "90/90" in finals and "45/45" in finals
    # Three bars were closed (each close leaves its line): 60/60, 90/90, 45/45.
    closed = screen.getvalue().count("\n")
    assert closed == 3


def test_the_summary_line_counts_frames_and_videos_in_words():
    assert ImportReport(batch=1, added=4).video_summary() == ""
    assert ImportReport(batch=1, videos=1, frames=1).video_summary() == ", 1 frame from 1 video"
    assert ImportReport(batch=1, videos=2, frames=3).video_summary() == ", 3 frames from 2 videos"
