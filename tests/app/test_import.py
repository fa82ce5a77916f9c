"""Importing folders: good files land, every bad one is reported, nothing twice."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from app.pool.importer import find_image_files, import_images
from app.project.workspace import Workspace
from sampling.hashing import int64_to_codes
from tests.conftest import run_cli, write_noise_images


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims a huge size: a decompression bomb in a few bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))


def make_bad_gallery(folder: Path) -> dict[str, str]:
    """Each kind of unreadable file, with a fragment its reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.png").write_bytes(b"")
    good = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8)).save(
        good, format="JPEG")
    (folder / "truncated.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    (folder / "notes.png").write_text("this is not an image\n")
    _png_header_only(folder / "bomb.png", 40_000, 40_000)
    os.symlink(folder / "does-not-exist.png", folder / "broken-link.png")
    return {
        "empty.png": "empty file",
        "truncated.jpg": "truncated",
        "notes.png": "not an image",
        "bomb.png": "decompression bomb",
        "broken-link.png": "broken symbolic link",
    }


def test_bad_files_are_reported_and_good_ones_land(tmp_path):
    good = write_noise_images(tmp_path / "src", 5)
    expected = make_bad_gallery(tmp_path / "src" / "bad")
    Workspace.init(tmp_path / "proj", ["a", "b"]).close()
    result = run_cli("import", tmp_path / "proj", tmp_path / "src", "--json")
    report = json.loads(result.stdout)
    assert report["added"] == len(good)
    assert report["duplicates"] == 0
    reasons = {Path(f["path"]).name: f["reason"] for f in report["failed"]}
    assert set(reasons) == set(expected)
    for name, fragment in expected.items():
        assert fragment in reasons[name], (name, reasons[name])
    assert set(report) == {"added", "duplicates", "failed", "batch", "videos", "frames"}


def _import_as_unprivileged_user(project: Path, source: Path, queue) -> None:
    """Child body: drop root (which reads any file) to 'nobody', then import."""
    try:
        os.setgid(65534)
        os.setuid(65534)
        with Workspace.open(project) as ws:
            report = import_images(ws, [source], workers=1)
        queue.put(report.to_json())
    except BaseException as exc:  # report anything to the parent, never hang it
        queue.put({"error": repr(exc)})


def test_permission_denied_is_reported(tmp_path):
    shared = Path(tempfile.mkdtemp(prefix="labelloop-perm-"))
    try:
        write_noise_images(shared / "src", 2)
        Workspace.init(shared / "proj", ["a"]).close()
        for path in [shared, *shared.rglob("*")]:
            os.chmod(path, 0o777 if path.is_dir() else 0o666)
        locked = shared / "src" / "img_0000.png"
        os.chmod(locked, 0)
        if os.geteuid() != 0:
            with Workspace.open(shared / "proj") as ws:
                report = import_images(ws, [shared / "src"], workers=1).to_json()
        else:
            # The interpreter lives under /root, unreadable to 'nobody': fork a child
            # that already has everything loaded and drop privileges there.
            Image.init()
            context = multiprocessing.get_context("fork")
            queue = context.Queue()
            child = context.Process(target=_import_as_unprivileged_user,
                                    args=(shared / "proj", shared / "src", queue))
            child.start()
            report = queue.get(timeout=120)
            child.join(timeout=30)
        assert "error" not in report, report
        assert report["added"] == 1
        assert report["failed"] == [{"path": str(locked), "reason": "permission denied"}]
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_reimporting_adds_nothing_and_duplicate_content_is_counted(project, tmp_path):
    source = tmp_path / "images"
    shutil.copy(source / "img_0000.png", source / "copy_of_0.png")
    report = import_images(project, [source], workers=1)
    assert (report.added, report.duplicates, report.failed) == (0, 13, [])
    assert project.sample_count() == 12


def test_parallel_import_matches_serial_import(tmp_path):
    images = write_noise_images(tmp_path / "src", 300, size=16)
    with Workspace.init(tmp_path / "a", ["x"]) as serial, \
            Workspace.init(tmp_path / "b", ["x"]) as parallel:
        r1 = import_images(serial, [tmp_path / "src"], workers=1)
        r2 = import_images(parallel, [tmp_path / "src"], workers=2)
        assert r1.added == r2.added == len(images)
        facts = lambda ws: sorted((s.sha256, s.phash, s.width) for s in ws.samples())  # noqa: E731
        assert facts(serial) == facts(parallel)


def test_import_from_a_thread_uses_spawned_workers_and_gets_the_same_rows(tmp_path):
    import threading

    write_noise_images(tmp_path / "src", 200, size=16)
    results = {}

    def run():  # the GUI imports from a worker thread: forking there is unsafe
        with Workspace.init(tmp_path / "p", ["x"]) as ws:
            results["report"] = import_images(ws, [tmp_path / "src"], workers=2)
            results["rows"] = sorted((s.sha256, s.phash) for s in ws.samples())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=300)
    assert results["report"].added == 200 and results["report"].failed == []
    with Workspace.init(tmp_path / "q", ["x"]) as ws:
        import_images(ws, [tmp_path / "src"], workers=1)
        assert sorted((s.sha256, s.phash) for s in ws.samples()) == results["rows"]


def test_samples_record_size_hash_and_relative_paths(tmp_path):
    with Workspace.init(tmp_path / "proj", ["a"]) as ws:
        inside = ws.root / "pool"
        write_noise_images(inside, 1, size=20)
        outside = write_noise_images(tmp_path / "elsewhere", 1, size=30, seed=5)[0]
        import_images(ws, [inside, outside], workers=1)
        first, second = ws.samples()
        assert first.path == "pool/img_0000.png" and (first.width, first.height) == (20, 20)
        assert second.path == str(outside) and second.width == 30
        expected = str(imagehash.phash(Image.open(outside)))
        assert int64_to_codes([second.phash])[0].tobytes().hex() == expected


def test_exif_orientation_is_honoured_and_gif_uses_its_first_frame(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    wide = Image.fromarray(np.random.default_rng(0).integers(0, 255, (10, 40, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the upright image is 10 wide, 40 tall
    wide.save(src / "rotated.jpg", exif=exif)
    frames = [Image.new("RGB", (16, 12), c) for c in ("red", "blue")]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:])
    for ext in ("bmp", "tiff", "webp"):
        Image.new("RGB", (8, 8), ext[0] * 0 + "green").save(src / f"g.{ext}")
    with Workspace.init(tmp_path / "proj", ["a"]) as ws:
        report = import_images(ws, [src], workers=1)
        assert report.failed == []
        sizes = {Path(s.path).name: (s.width, s.height) for s in ws.samples()}
    assert sizes["rotated.jpg"] == (10, 40)
    assert sizes["anim.gif"] == (16, 12)
    # Same pixels in three containers: bmp and tiff are lossless twins, webp is lossy.
    assert {"g.bmp", "g.webp"} <= set(sizes) or {"g.tiff", "g.webp"} <= set(sizes)


def test_walk_skips_hidden_entries_and_other_suffixes_and_reports_missing(tmp_path):
    write_noise_images(tmp_path / "src" / "sub", 2)
    write_noise_images(tmp_path / "src" / ".hidden", 2)
    (tmp_path / "src" / "readme.txt").write_text("x")
    files, missing = find_image_files([tmp_path / "src", tmp_path / "nope"])
    assert [Path(f).name for f in files] == ["img_0000.png", "img_0001.png"]
    assert missing[0].reason == "no such file or folder"


@pytest.mark.parametrize("workers", [1, 2])
def test_import_reports_progress_to_the_end(tmp_path, workers):
    write_noise_images(tmp_path / "src", 150, size=8)
    seen = []
    with Workspace.init(tmp_path / "proj", ["a"]) as ws:
        import_images(ws, [tmp_path / "src"], workers=workers,
                      progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 150) and seen[-1] == (150, 150)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
