"""A video is a video by its content: wrong names, no names, and what only looks like one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from app.files.video_probe import looks_like_video, video_signature
from app.pool.importer import import_images
from app.project.workspace import Workspace
from tests.app.video_fixtures import SCENES, make_audio_only, make_video
from tests.conftest import write_noise_images

FPS = 25


def _videos_by_name(ws: Workspace) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sample in ws.samples():
        if sample.is_frame:
            name = ws.media([sample.media_id])[0].name
            counts[name] = counts.get(name, 0) + 1
    return counts


def test_a_folder_walk_takes_videos_by_content_whatever_their_name(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_video(tmp_path / "a.mp4", SCENES[:2], fps=FPS)
    make_video(tmp_path / "b.webm", SCENES[1:3], fps=FPS)
    make_video(tmp_path / "c.mkv", SCENES[2:], fps=FPS)
    shutil.copy(tmp_path / "a.mp4", src / "GOPR0042")  # no suffix at all
    shutil.copy(tmp_path / "b.webm", src / "recording.bin")  # a suffix nobody maps
    shutil.copy(tmp_path / "c.mkv", src / "still.jpg")  # an image's suffix, a video's bytes
    write_noise_images(src, 2)
    (src / "notes.txt").write_text("drive 3, left camera\n" * 40)
    (src / "labels.json").write_text('{"a": 1}')
    make_audio_only(src / "voice.m4a")
    os.mkfifo(src / "pipe")  # never opened: a FIFO would block the walk
    with Workspace.init(tmp_path / "p", ["a"]) as ws:
        report = import_images(ws, [src], workers=1)
        reasons = {Path(f.path).name: f.reason for f in report.failed}
        # Sidecar files that are no video are not taken (nor reported);
        # an audio file found by its signature says why it gave nothing.
        assert reasons == {"voice.m4a": "audio only: the file has no video stream"}
        assert report.videos == 3
        per_video = _videos_by_name(ws)
        assert set(per_video) == {"GOPR0042", "recording.bin", "still.jpg"}
        assert all(count >= 2 for count in per_video.values())  # each holds two scenes
        assert len([s for s in ws.samples() if not s.is_frame]) == 2


def test_a_video_named_as_an_image_is_no_longer_capped_as_one(tmp_path):
    make_video(tmp_path / "v.mp4", SCENES[:2], fps=FPS)
    shutil.copy(tmp_path / "v.mp4", tmp_path / "frame.png")
    size = (tmp_path / "frame.png").stat().st_size
    with Workspace.init(tmp_path / "p", ["a"]) as ws:
        # The image size cap would refuse it; a video is streamed, so it is imported.
        report = import_images(ws, [tmp_path / "frame.png"], workers=1, max_bytes=size // 2)
        assert report.failed == [] and report.videos == 1 and report.frames >= 2


def test_unrecognised_bytes_under_a_video_name_say_neither_image_nor_video(tmp_path):
    (tmp_path / "text.mkv").write_text("no video here\n" * 20)
    (tmp_path / "text.jpg").write_text("no image here\n" * 20)
    with Workspace.init(tmp_path / "p", ["a"]) as ws:
        report = import_images(ws, [tmp_path / "text.mkv", tmp_path / "text.jpg"], workers=1)
    reasons = {Path(f.path).name: f.reason for f in report.failed}
    assert reasons == {"text.mkv": "not an image or video (unrecognised format)",
                       "text.jpg": "not an image (unrecognised format)"}


@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".avi", ".mkv"])
def test_every_generated_container_is_recognised_by_its_first_bytes(tmp_path, suffix):
    video = tmp_path / f"v{suffix}"
    make_video(video, SCENES[:1], fps=FPS)
    renamed = tmp_path / "noname"
    video.rename(renamed)
    assert looks_like_video(renamed)


def test_signatures_of_stills_and_other_files_are_not_videos(tmp_path):
    assert video_signature(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00") is None  # AVIF still
    assert video_signature(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") is None  # HEIC still
    assert video_signature(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00") == "mp4"
    assert video_signature(b"RIFF\x24\x00\x00\x00WEBPVP8 ") is None
    assert video_signature(b"RIFF\x24\x00\x00\x00AVI LIST") == "avi"
    packet = b"\x47" + bytes(187)
    assert video_signature(packet * 3) == "mpegts"
    assert video_signature((b"\x00\x00\x00\x00" + packet) * 3) == "mpegts"  # M2TS
    assert video_signature(b"\x47" + bytes(400)) is None  # one sync byte is chance
    assert video_signature(b"") is None
    write_noise_images(tmp_path, 1)
    assert not looks_like_video(next(tmp_path.glob("*.png")))
    assert not looks_like_video(tmp_path / "missing.mp4")
    assert not looks_like_video(tmp_path)  # a folder


def test_a_container_signature_over_junk_is_reported_as_neither(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "capture").write_bytes(b"\x1a\x45\xdf\xa3" + b"junk" * 100)  # an EBML start, no more
    make_video(src / "ok.webm", SCENES[:1], fps=FPS)
    with Workspace.init(tmp_path / "p", ["a"]) as ws:
        report = import_images(ws, [src], workers=1)
    assert [(Path(f.path).name, f.reason) for f in report.failed] == [
        ("capture", "not an image or video (unrecognised format)")]
    assert report.videos == 1 and report.frames == 1
