"""Frames everywhere a sample appears: exports, dataset versions and --json rows."""

from __future__ import annotations

import csv
import json

import numpy as np
from PIL import Image

from app.domain.dataset_version import dataset_version
from app.pool.exporter import export_dataset
from app.pool.frame_cache import restore_missing_frames, timestamp_label
from app.pool.frame_rows import with_frame_fields
from app.pool.importer import import_images
from app.pool.video_import import frame_identity
from app.project.workspace import Workspace
from tests.app.video_fixtures import SCENES, decoded_frames, make_video
from tests.conftest import run_cli, write_noise_images


def _project(tmp_path):
    video = tmp_path / "road trip.mp4"
    make_video(video, fps=25)
    images = write_noise_images(tmp_path / "imgs", 2)
    ws = Workspace.init(tmp_path / "p", ["car", "none"])
    import_images(ws, [video, *images], workers=1)
    for n, sample in enumerate(ws.samples()):
        ws.label(sample.id, "car" if n % 2 else "none", "tester")
    return ws, video


def test_imagefolder_writes_frames_as_png_named_after_video_and_time(tmp_path):
    ws, video = _project(tmp_path)
    decoded = decoded_frames(video)
    with ws:
        frames = [s for s in ws.samples() if s.is_frame]
        assert len(frames) >= len(SCENES)
        report = export_dataset(ws, tmp_path / "out", "imagefolder")
        manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
        media = ws.media()[0]
        by_index = {e["frame_index"]: e for e in manifest["files"] if "frame_index" in e}
        assert set(by_index) == {f.frame_index for f in frames}
        for frame in frames:
            entry = by_index[frame.frame_index]
            name = entry["path"].rsplit("/", 1)[1]
            assert name == f"{frame.id:06d}_road trip_{timestamp_label(frame.timestamp_s)}.png"
            assert entry["video"] == media.path and entry["video_sha256"] == media.sha256
            assert entry["timestamp"] == frame.timestamp_s
            pixels = np.asarray(Image.open(tmp_path / "out" / entry["path"]).convert("RGB"))
            assert np.array_equal(pixels, decoded[frame.frame_index][1])
        # The dataset version names frames by (video sha256, frame index).
        labels = ws.current_labels()
        pairs = [(frame_identity(media.sha256, f.frame_index), labels[f.id]) for f in frames]
        pairs += [(s.sha256, labels[s.id]) for s in ws.samples() if not s.is_frame]
        assert report.dataset_version == dataset_version(pairs) == ws.dataset_version()


def test_csv_and_jsonl_carry_video_frame_index_and_timestamp(tmp_path):
    ws, _ = _project(tmp_path)
    with ws:
        export_dataset(ws, tmp_path / "c", "csv")
        export_dataset(ws, tmp_path / "j", "jsonl")
        frames = {s.frame_index: s for s in ws.samples() if s.is_frame}
    with open(tmp_path / "c" / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {"video", "frame_index", "timestamp"} <= set(rows[0])
    frame_rows = [r for r in rows if r["frame_index"]]
    assert {int(r["frame_index"]) for r in frame_rows} == set(frames)
    assert all(r["video"].endswith("road trip.mp4") for r in frame_rows)
    lines = [json.loads(x) for x in (tmp_path / "j" / "labels.jsonl").read_text().splitlines()]
    jframes = [x for x in lines if "frame_index" in x]
    assert len(jframes) == len(frames) and len(lines) == len(frames) + 2
    for row in jframes:
        assert list(row)[:4] == ["path", "video", "frame_index", "timestamp"]
        assert row["timestamp"] == frames[row["frame_index"]].timestamp_s


def test_a_deleted_cached_frame_is_decoded_again_for_export(tmp_path):
    ws, video = _project(tmp_path)
    decoded = decoded_frames(video)
    with ws:
        frame = [s for s in ws.samples() if s.is_frame][-1]
        ws.resolve(frame.path).unlink()
        assert restore_missing_frames(ws, ws.samples()) == []
        restored = np.asarray(Image.open(ws.resolve(frame.path)).convert("RGB"))
        assert np.array_equal(restored, decoded[frame.frame_index][1])
        ws.resolve(frame.path).unlink()
        video.write_bytes(b"changed")  # the video is no longer the one imported
        report = export_dataset(ws, tmp_path / "out", "imagefolder")
        assert [s["path"] for s in report.skipped] == [frame.path]
        assert "changed since import" in report.skipped[0]["reason"]


def test_json_rows_naming_a_frame_carry_its_video_fields(tmp_path):
    ws, _ = _project(tmp_path)
    with ws:
        frame = next(s for s in ws.samples() if s.is_frame)
        image = next(s for s in ws.samples() if not s.is_frame)
        drift_like = {"batch": 1, "top_samples": [
            {"sample_id": frame.id, "path": frame.path, "distance": 0.5},
            {"sample_id": image.id, "path": image.path, "distance": 0.1}]}
        with_frame_fields(ws, drift_like)
        first, second = drift_like["top_samples"]
        assert list(first) == ["sample_id", "path", "video", "frame_index", "timestamp",
                               "distance"]
        assert first["video"] == ws.media()[0].path
        assert (first["frame_index"], first["timestamp"]) == (frame.frame_index,
                                                              frame.timestamp_s)
        assert list(second) == ["sample_id", "path", "distance"]
    # End to end through a command: near-duplicate groups of a still scene's frames.
    out = run_cli("duplicates", tmp_path / "p", "--max-hamming", "64", "--json").stdout
    members = [m for group in json.loads(out) for m in group]
    framed = [m for m in members if "video" in m]
    assert framed and all(m["video"].endswith("road trip.mp4") for m in framed)
    assert all(isinstance(m["frame_index"], int) and m["timestamp"] >= 0 for m in framed)


def test_training_reads_frames_through_the_cache_restoring_a_lost_one(tmp_path):
    from app.learning.model_registry import training_set

    ws, video = _project(tmp_path)
    decoded = decoded_frames(video)
    with ws:
        frames = [s for s in ws.samples() if s.is_frame]
        lost = frames[1]
        ws.resolve(lost.path).unlink()
        chosen = training_set(ws)
        by_id = dict(zip(chosen.sample_ids, chosen.paths, strict=True))
        for frame in frames:
            assert by_id[frame.id] == str(ws.resolve(frame.path))
        restored = np.asarray(Image.open(by_id[lost.id]).convert("RGB"))
        assert np.array_equal(restored, decoded[lost.frame_index][1])
