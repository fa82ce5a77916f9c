"""`import` hashes through the path of `labelloop hash`: imagehash's bits of the upright image.

Real files of many kinds (plain PNGs taking the short path, PNGs that may
carry an orientation, palettes, 16-bit, JPEG with EXIF), imported into a
real SQLite project; the reference is imagehash on the image Pillow turns
upright, as the import stores it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageOps, PngImagePlugin

from app.files.png_fast import plain_png_scanlines
from app.pool.import_worker import inspect_chunk
from app.pool.importer import import_images
from app.project.workspace import Workspace
from sampling.hashing import int64_to_codes


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def _files(folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(21)
    yy, xx = np.mgrid[0:36, 0:52]
    rgb = Image.fromarray(np.stack([xx * 4, yy * 6, (xx * yy) % 256], -1).astype(np.uint8))
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "metadata, no orientation")
    saves = {
        "plain_rgb.png": (rgb, {}),
        "plain_rgba.png": (Image.fromarray(rng.integers(0, 256, (20, 30, 4), np.uint8)), {}),
        "plain_grey.png": (rgb.convert("L"), {}),
        "plain_la.png": (rgb.convert("LA"), {}),
        "plain_same_size.png": (rgb.rotate(180), {}),
        "turned_exif.png": (rgb, {"exif": _exif(6)}),
        "text_chunk.png": (rgb, {"pnginfo": text}),
        "palette.png": (rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=8), {}),
        "grey16.png": (Image.fromarray((np.arange(52 * 36, dtype=np.uint16) * 31)
                                       .reshape(36, 52)), {}),
        "turned.jpg": (rgb, {"exif": _exif(8), "quality": 90}),
        "cmyk.jpg": (rgb.convert("CMYK"), {}),
    }
    paths = []
    for name, (image, options) in saves.items():
        image.save(folder / name, **options)
        paths.append(folder / name)
    return paths


def _upright(path: Path) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(path))


@pytest.mark.parametrize("workers", [1, 2])
def test_imported_phash_is_imagehash_of_the_upright_image(tmp_path, workers):
    paths = _files(tmp_path / "src")
    # The short path is taken by the plain files only; the turned PNG is Pillow's.
    short = {p.name for p in paths if (s := plain_png_scanlines(p.read_bytes())) is not None
             and not s.may_turn}
    assert short == {"plain_rgb.png", "plain_rgba.png", "plain_grey.png", "plain_la.png",
                     "plain_same_size.png"}
    results = inspect_chunk([str(p) for p in paths * 3])  # repeated: one batch, many groups
    assert [r.path for r in results] == [str(p) for p in paths * 3]
    for result, path in zip(results, paths * 3, strict=True):
        upright = _upright(path)
        assert result.reason is None
        assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert (result.width, result.height) == upright.size, path.name
        code = int64_to_codes([result.phash])[0].tobytes().hex()
        assert code == str(imagehash.phash(upright)), path.name
    assert (results[5].width, results[5].height) == (36, 52)  # the PNG was turned
    with Workspace.init(tmp_path / "proj", ["a"]) as ws:
        report = import_images(ws, [tmp_path / "src"], workers=workers)
        assert report.failed == [] and report.added == len(paths)
        stored = {Path(s.path).name: s.phash for s in ws.samples()}
    assert stored == {p.name: r.phash for p, r in zip(paths, results, strict=False)}


def test_bad_files_keep_their_reasons_among_good_ones(tmp_path):
    good = _files(tmp_path / "src")[:2]
    empty = tmp_path / "src" / "empty.png"
    empty.write_bytes(b"")
    cut = tmp_path / "src" / "cut.png"
    cut.write_bytes(good[0].read_bytes()[:-30])
    results = inspect_chunk([str(good[0]), str(empty), str(cut), str(good[1])])
    assert [r.reason is None for r in results] == [True, False, False, True]
    assert results[1].reason == "empty file (0 bytes)"
    assert results[2].reason.startswith("truncated or corrupt image data")


def test_content_changed_at_an_imported_path_is_reported(tmp_path):
    src = tmp_path / "src"
    paths = _files(src)[:3]
    with Workspace.init(tmp_path / "proj", ["a"]) as ws:
        assert import_images(ws, paths, workers=1).added == 3
        Image.new("RGB", (9, 9), "red").save(paths[1])  # new content, same path
        again = import_images(ws, paths, workers=1)
    assert again.added == 0 and again.duplicates == 2
    assert [(f.path, f.reason) for f in again.failed] == [
        (str(paths[1]), "content changed since it was imported (same path)")]
