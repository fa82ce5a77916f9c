"""`labelloop hash` end to end: imagehash's bits from parallel processes, streamed in order.

Real files, real worker processes, the real entry point in a subprocess; the
reference is imagehash on ``Image.open(path)``.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from app.cli import hash_command
from app.cli.main import LIGHT_COMMANDS, build_parser
from app.files.png_fast import decode_plain_png, decode_scanlines_together, plain_png_scanlines
from app.pool.hash_pipeline import hash_stream
from sampling import hashing
from tests.conftest import REPO, run_cli

REFERENCE = {"phash": imagehash.phash, "dhash": imagehash.dhash,
             "ahash": imagehash.average_hash}
CAP = 1 << 28


def _gallery(folder: Path) -> list[Path]:
    """Files of many formats, modes and odd sizes, several on the short PNG path."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:45, 0:61]
    smooth = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=-1).astype(np.uint8)
    rgb = Image.fromarray(smooth, "RGB")
    noise = Image.fromarray(rng.integers(0, 256, (33, 17, 3), dtype=np.uint8), "RGB")
    alpha = Image.fromarray(rng.integers(0, 256, (45, 61), dtype=np.uint8), "L")
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=12)
    saves = {
        "rgb.png": (rgb, {}),
        "noise_17x33.png": (noise, {}),
        "grey.png": (rgb.convert("L"), {}),
        "grey_alpha.png": (rgb.convert("LA"), {}),
        "rgba.png": (rgba, {}),
        "one_pixel.png": (rgb.resize((1, 1)), {}),
        "thin_3x200.png": (noise.resize((3, 200)), {}),
        "wide_200x2.png": (noise.resize((200, 2)), {}),
        "text_chunk.png": (rgb, {"pnginfo": _text_info()}),
        "interlaced.png": (rgb, {"interlace": 1}),  # Pillow only reads these: saved below
        "palette.png": (palette, {}),
        "palette_transparent.png": (palette, {"transparency": 3}),
        "rgb_transparent.png": (rgb, {"transparency": (8, 10, 12)}),
        "grey16.png": (Image.fromarray((np.arange(40 * 30, dtype=np.uint16) * 50)
                                       .reshape(30, 40)), {}),
        "bilevel.png": (rgb.convert("1"), {}),
        "photo.jpg": (rgb, {"quality": 85}),
        "cmyk.jpg": (rgb.convert("CMYK"), {}),
        "first_frame.gif": (palette, {"save_all": True,
                                      "append_images": [rgb.convert("P").rotate(90)]}),
        "rgb.bmp": (noise, {}),
        "rgba.webp": (rgba, {"lossless": True}),
        "tiled.tif": (rgb, {}),
        # imagehash hashes the file as stored: the EXIF turn is not applied.
        "exif_rotated.jpg": (rgb, {"exif": _exif_orientation(6)}),
        "grey_alpha16.png": (rgb.convert("LA").resize((61, 44)), {}),
    }
    paths = []
    for name, (image, options) in saves.items():
        path = folder / name
        if name == "interlaced.png":
            path.write_bytes(_interlaced_png(image))
        else:
            image.save(path, **options)
        paths.append(path)
    return paths


def _exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def _text_info():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "a text chunk the short path must step over")
    return info


def _interlaced_png(image: Image.Image) -> bytes:
    """An Adam7 PNG (Pillow cannot write one), built from raw scanlines with zlib."""
    import struct
    import zlib

    width, height = image.size
    pixels = np.asarray(image.convert("RGB"))
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
              (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = pixels[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind))))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _expected(paths, method="phash") -> list[dict]:
    return [{"path": str(p), "hash": str(REFERENCE[method](Image.open(p)))} for p in paths]


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("method", sorted(REFERENCE))
def test_worker_processes_give_imagehash_bits_on_every_kind_of_file(tmp_path, method):
    gallery = _gallery(tmp_path)
    paths = [str(p) for p in gallery * 4]  # over one chunk's worth: real workers
    results = list(hash_stream(paths, method, CAP, workers=2))
    assert [r.reason for r in results] == [None] * len(paths)
    assert [{"path": r.path, "hash": r.hash} for r in results] == _expected(paths, method)


def test_short_png_path_decodes_as_pillow_and_steps_aside_otherwise(tmp_path):
    gallery = _gallery(tmp_path)
    taken = set()
    for path in gallery:
        data = path.read_bytes()
        image = decode_plain_png(data)
        if image is None:
            continue
        taken.add(path.name)
        reference = Image.open(path)
        assert image.mode == reference.mode and image.size == reference.size
        assert np.array_equal(np.asarray(image), np.asarray(reference))
    assert taken == {"rgb.png", "noise_17x33.png", "grey.png", "grey_alpha.png", "rgba.png",
                     "one_pixel.png", "thin_3x200.png", "wide_200x2.png", "text_chunk.png",
                     "grey_alpha16.png"}
    good = (tmp_path / "rgb.png").read_bytes()
    corrupt = bytearray(good)
    corrupt[60] ^= 0xFF  # inside the image data: the CRC no longer matches
    assert decode_plain_png(bytes(corrupt)) is None
    assert decode_plain_png(good[: len(good) // 2]) is None
    assert decode_plain_png(b"") is None


def test_scanlines_unfiltered_together_give_each_image_as_pillow_decodes_it(tmp_path):
    rng = np.random.default_rng(11)
    for mode, channels in (("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4)):
        files = []
        for i, height in enumerate((1, 7, 30, 2, 19)):
            # Smooth rows make Pillow pick every PNG filter (Sub, Up, Average,
            # Paeth): the first row of each image must see a row of zeros above.
            base = rng.integers(0, 256, (height, 1, channels)) + np.arange(23)[None, :, None] * 3
            pixels = (base + i).astype(np.uint8).squeeze(-1 if channels == 1 else ())
            path = tmp_path / f"{mode}_{i}.png"
            Image.fromarray(pixels, mode).save(path, optimize=i % 2 == 0)
            files.append(path)
        scans = [plain_png_scanlines(p.read_bytes()) for p in files]
        assert all(s is not None and s.mode == mode for s in scans)
        tall, starts = decode_scanlines_together(scans)
        assert tall.mode == mode and tall.size == (23, sum(s.height for s in scans) + 4)
        stacked = np.asarray(tall)
        for path, scan, start in zip(files, scans, starts, strict=True):
            assert np.array_equal(stacked[start : start + scan.height],
                                  np.asarray(Image.open(path))), path
    with pytest.raises(ValueError, match="one mode and width"):
        decode_scanlines_together([scans[0], plain_png_scanlines(files[0].read_bytes()),
                                   plain_png_scanlines((tmp_path / "L_0.png").read_bytes())])


def test_scanlines_are_refused_unless_they_inflate_to_exactly_the_announced_rows():
    import struct
    import zlib

    def png(width: int, height: int, raw: bytes) -> bytes:
        def chunk(kind: bytes, body: bytes) -> bytes:
            return (struct.pack(">I", len(body)) + kind + body
                    + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind))))
        header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

    rows = b"".join(b"\x00" + bytes(range(i, i + 5)) for i in range(3))
    exact = plain_png_scanlines(png(5, 3, rows))
    assert exact is not None and exact.raw == rows and (exact.width, exact.height) == (5, 3)
    assert plain_png_scanlines(png(5, 3, rows[:-1])) is None  # a row short
    assert plain_png_scanlines(png(5, 3, rows + b"\x00")) is None  # a byte to spare
    # A small file announcing a few rows but inflating to 100 MB is cut off at
    # the announced size, not inflated whole.
    bomb = png(5, 3, rows + bytes(100 << 20))
    assert len(bomb) < 200_000 and plain_png_scanlines(bomb) is None


def test_folders_are_walked_recursively_as_by_import(tmp_path):
    top = tmp_path / "top"
    deep = top / "a" / "b"
    deep.mkdir(parents=True)
    (top / ".hidden").mkdir()
    rng = np.random.default_rng(3)
    for path in [top / "z.png", top / "a" / "m.jpg", deep / "k.png", top / ".hidden" / "h.png",
                 top / ".dot.png"]:
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(path)
    (top / "notes.txt").write_text("not listed: not an image suffix")
    (tmp_path / "empty").mkdir()
    result = run_cli("hash", "--jsonl", top, tmp_path / "empty", check=False)
    assert result.returncode == 1
    assert result.stderr == f"labelloop hash: {tmp_path / 'empty'}: is a folder, not a file\n"
    out = result.stdout
    # Top-down: a folder's files, then its sub-folders, names sorted (as import).
    walked = [top / "z.png", top / "a" / "m.jpg", top / "a" / "b" / "k.png"]
    assert _jsonl(out) == _expected(walked)


def test_paths_from_a_list_file_and_from_stdin(tmp_path):
    paths = _gallery(tmp_path / "g")[:6]
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{p}\n" for p in paths[:4]) + "\n")
    out = run_cli("hash", "--jsonl", paths[5], "--from-file", listing).stdout
    assert _jsonl(out) == _expected([paths[5], *paths[:4]])
    piped = subprocess.run(
        [sys.executable, "-m", "app", "hash", "--method", "dhash", "--from-file", "-"],
        input="".join(f"{p}\r\n" for p in paths), capture_output=True, text=True, cwd=REPO,
        check=True, timeout=120)
    assert piped.stdout.splitlines() == [
        f"{imagehash.dhash(Image.open(p))}  {p}" for p in paths]
    missing = run_cli("hash", "--from-file", tmp_path / "no_list.txt", check=False)
    assert missing.returncode == 1 and "no_list.txt" in missing.stderr


def test_jsonl_streams_in_input_order_while_paths_still_arrive(tmp_path):
    # Sizes differ, so chunks take different times; the order must not care.
    rng = np.random.default_rng(5)
    files = []
    for i in range(30):
        side = 16 + 37 * (i % 7)
        path = tmp_path / f"f{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (side, side + i, 3), dtype=np.uint8)).save(path)
        files.append(path)
    paths = [files[(7 * i) % 30] for i in range(3000)]
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "hash", "--jsonl", "--from-file", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
        text=True)


    def feed() -> None:  # in a thread: both pipes fill up, so read while writing
        process.stdin.write("".join(f"{p}\n" for p in paths))
        process.stdin.flush()

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        # stdin stays open: the first results must come out before the input ends.
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready, "no output while the path list was still open"
        first = process.stdout.readline()
        assert process.poll() is None
        rest = []
        while writer.is_alive():
            rest.append(process.stdout.readline())
        process.stdin.close()
        rest = "".join(rest) + process.stdout.read()
        assert process.wait(timeout=120) == 0
    finally:
        process.kill()
    lines = _jsonl(first + rest)
    reference = {str(f): str(imagehash.phash(Image.open(f))) for f in files}
    assert lines == [{"path": str(p), "hash": reference[str(p)]} for p in paths]


def test_bad_files_are_named_and_the_rest_carries_on(tmp_path):
    good = _gallery(tmp_path / "g")[:3]
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good[0].read_bytes()[:-40])
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((300, 300, 3), dtype=np.uint8) + 9).save(big, compress_level=0)
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    named = [good[0], tmp_path / "notes.png", tmp_path / "gone.png", good[1],
             tmp_path / "empty.png", truncated, fifo, big, good[2]]
    result = run_cli("hash", "--jsonl", "--max-file-size", "100K", *named, check=False)
    assert result.returncode == 1
    assert _jsonl(result.stdout) == _expected([good[0], good[1], good[2]])
    errors = result.stderr.splitlines()
    assert errors == [
        f"labelloop hash: {tmp_path / 'notes.png'}: not an image (unrecognised format)",
        f"labelloop hash: {tmp_path / 'gone.png'}: file not found",
        f"labelloop hash: {tmp_path / 'empty.png'}: empty file (0 bytes)",
        errors[3],
        f"labelloop hash: {fifo}: a FIFO (named pipe), not a regular file; never read",
        errors[5],
    ]
    assert errors[3].startswith(f"labelloop hash: {truncated}: truncated or corrupt image data")
    assert errors[5].startswith(f"labelloop hash: {big}: too large")
    nothing = run_cli("hash", check=False)
    assert nothing.returncode == 1 and "give image files or folders" in nothing.stderr


def test_json_list_is_streamed_in_print_json_layout(tmp_path):
    paths = _gallery(tmp_path)[:3]
    out = run_cli("hash", "--json", *paths).stdout
    assert json.loads(out) == _expected(paths)
    assert out == json.dumps(_expected(paths), indent=2) + "\n"
    empty = run_cli("hash", "--json", tmp_path / "gone.png", check=False)
    assert json.loads(empty.stdout) == []


def test_hash_imports_neither_torch_nor_qt(tmp_path):
    path = _gallery(tmp_path)[0]
    script = (
        "import sys\n"
        "from app.cli import main\n"
        f"code = main(['hash', '--jsonl', {str(path)!r}])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'PySide6', 'faiss', 'sklearn', 'scipy', 'sqlalchemy', 'tqdm'))\n"
        "print('HEAVY', heavy, code, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, check=True, timeout=120)
    assert "HEAVY [] 0" in result.stderr
    assert _jsonl(result.stdout) == _expected([path])


def test_light_commands_are_registered_by_their_module_and_methods_agree():
    for command, module in LIGHT_COMMANDS.items():
        parser = build_parser((module,))
        assert parser.parse_args([command, "x.png"]).command == command
    full = build_parser()
    assert full.parse_args(["hash", "x.png"]).run is hash_command.run_hash
    assert hash_command.HASH_METHODS == hashing.HASH_METHODS


def test_large_images_match(tmp_path):
    rng = np.random.default_rng(9)
    coarse = rng.integers(0, 256, (9, 16, 3), dtype=np.uint8)
    big = Image.fromarray(coarse, "RGB").resize((1920, 1080), Image.Resampling.BICUBIC)
    paths = [tmp_path / "big.png", tmp_path / "big.jpg"]
    big.save(paths[0], compress_level=1)
    big.save(paths[1], quality=90)
    results = list(hash_stream([str(p) for p in paths], "phash", CAP))
    assert [{"path": r.path, "hash": r.hash} for r in results] == _expected(paths)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_workers_reuse_freed_buffers_instead_of_faulting_them_in_again():
    # As a chunk's buffers do: 64 of 100 kB written, then all freed, 50 times.
    # By default glibc gives the freed top of the heap back to the system,
    # and the next round faults its 1,600 pages in again; tuned, it keeps them.
    script = (
        "import resource, sys\n"
        "import numpy as np\n"
        "from app.pool.worker_setup import keep_freed_memory\n"
        "tuned = sys.argv[1] == 'tuned' and keep_freed_memory()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(50):\n"
        "    held = [np.ones(100_000, dtype=np.uint8) for _ in range(64)]\n"
        "    del held\n"
        "print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    faults = {}
    for mode in ("default", "tuned"):
        result = subprocess.run([sys.executable, "-c", script, mode], capture_output=True,
                                text=True, cwd=REPO, check=True, timeout=60,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        tuned, count = result.stdout.split()
        assert tuned == str(mode == "tuned")
        faults[mode] = int(count)
    assert faults["default"] > 40 * 1500
    assert faults["tuned"] < 5000
