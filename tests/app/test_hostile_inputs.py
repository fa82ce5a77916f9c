"""A gallery of hostile files: each is refused with its reason and the rest goes in.

Every case runs the real CLI in a subprocess with a timeout, because the
failures these guard against are a process that never returns (a FIFO) or
one that reads until memory runs out (``/dev/zero``, a 3 GB sparse file).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from app.files.safe_files import (
    DEFAULT_MAX_FILE_BYTES,
    UnreadableFile,
    format_size,
    max_file_bytes,
    open_regular_file,
    parse_size,
    read_regular_file,
)
from app.project.workspace import Workspace
from tests.app.test_import import _png_header_only
from tests.conftest import REPO, write_noise_images

# Far longer than any case needs (about a second), far shorter than "for ever".
CLI_TIMEOUT_S = 120


def labelloop(*args: object, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI in a subprocess that is killed (and the test failed) if it hangs."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "app", *map(str, args)], capture_output=True, text=True,
            cwd=REPO, env={**os.environ, **(env or {})}, timeout=CLI_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"labelloop {' '.join(map(str, args))} hung (> {CLI_TIMEOUT_S} s)")


def _real_png(path: Path, seed: int = 7) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _dev_zero_link(path: Path) -> None:
    os.symlink("/dev/zero", path)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _sparse_3gb(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.truncate(3 * 1024**3)  # sparse: no block is written


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _truncated_png(path: Path) -> None:
    data = _real_png(path)
    path.write_bytes(data[: len(data) // 2])


def _bomb(path: Path) -> None:
    _png_header_only(path, 40_000, 40_000)


def _text(path: Path) -> None:
    path.write_text("not an image at all\n")


def _broken_link(path: Path) -> None:
    os.symlink(path.parent / "gone.png", path)


def _link_loop(path: Path) -> None:
    other = path.with_name("loop-other.png")
    os.symlink(other, path)
    os.symlink(path, other)


def _socket(path: Path) -> None:
    if len(str(path)) > 100:  # AF_UNIX paths are short
        pytest.skip("temporary path too long for a Unix socket")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays


# name -> (how to make it, a fragment its reason must contain)
HOSTILE: dict[str, tuple[Callable[[Path], None], str]] = {
    "zero.png": (_dev_zero_link, "a character device, not a regular file"),
    "pipe.jpg": (_fifo, "a FIFO (named pipe), not a regular file"),
    "sparse.png": (_sparse_3gb, "too large (3 GiB, the limit is 256 MiB"),
    "empty.png": (_empty, "empty file (0 bytes)"),
    "truncated.png": (_truncated_png, "truncated or corrupt image data"),
    "bomb.png": (_bomb, "decompression bomb"),
    "text.jpg": (_text, "not an image (unrecognised format)"),
    "broken.png": (_broken_link, "broken symbolic link"),
    "loop.png": (_link_loop, "symbolic link loop"),
    "socket.png": (_socket, "a socket, not a regular file"),
}


def _source(folder: Path, hostile: list[str]) -> list[Path]:
    """Two good images plus the named hostile files; returns the good ones."""
    good = write_noise_images(folder, 2, seed=3)
    for name in hostile:
        HOSTILE[name][0](folder / name)
    return good


def _reasons(failed: list[dict]) -> dict[str, str]:
    return {Path(f["path"]).name: f["reason"] for f in failed}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_import_refuses_the_hostile_file_with_its_reason_and_imports_the_rest(tmp_path, name):
    _source(tmp_path / "src", [name])
    Workspace.init(tmp_path / "p", ["a"]).close()
    result = labelloop("import", tmp_path / "p", tmp_path / "src", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["added"] == 2
    reasons = _reasons(report["failed"])
    assert HOSTILE[name][1] in reasons.pop(name)
    if name == "loop.png":  # its partner is the same loop, seen from the other end
        assert "symbolic link loop" in reasons.pop("loop-other.png")
    assert reasons == {}


def test_dev_zero_named_on_the_command_line_fails_alone(tmp_path):
    _source(tmp_path / "src", [])
    Workspace.init(tmp_path / "p", ["a"]).close()
    result = labelloop("import", tmp_path / "p", "/dev/zero", tmp_path / "src", "--json")
    report = json.loads(result.stdout)
    assert report["added"] == 2
    assert report["failed"] == [
        {"path": "/dev/zero", "reason": "a character device, not a regular file; never read"}]


def test_a_folder_named_like_an_image_is_walked_not_read(tmp_path):
    _source(tmp_path / "src", [])
    write_noise_images(tmp_path / "src" / "album.png", 1, seed=9)
    os.symlink(tmp_path / "src" / "img_0000.png", tmp_path / "src" / "link-to-good.png")
    Workspace.init(tmp_path / "p", ["a"]).close()
    report = json.loads(labelloop("import", tmp_path / "p", tmp_path / "src", "--json").stdout)
    # 2 good + 1 inside album.png/; the link to a regular file is read (a duplicate).
    assert (report["added"], report["duplicates"], report["failed"]) == (3, 1, [])


def test_failures_add_refuses_every_hostile_file_and_adds_the_good_ones(tmp_path):
    names = sorted(set(HOSTILE) - {"socket.png"})
    _source(tmp_path / "src", names)
    Workspace.init(tmp_path / "p", ["a"]).close()
    result = labelloop("failures", "add", tmp_path / "p", "known", tmp_path / "src", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["added"] == 2
    reasons = _reasons(report["failed"])
    for name in names:
        assert HOSTILE[name][1] in reasons[name], (name, reasons[name])
    copies = sorted((tmp_path / "p" / "failures").rglob("*.png"))
    assert len(copies) == 2 and all(c.stat().st_size < 100_000 for c in copies)


def test_hash_names_every_hostile_file_and_hashes_the_good_ones(tmp_path):
    names = sorted(set(HOSTILE) - {"socket.png"})
    good = _source(tmp_path / "src", names)
    (tmp_path / "src" / "folder.png").mkdir()
    args = [*good, *(tmp_path / "src" / n for n in names), tmp_path / "src" / "folder.png",
            "/dev/zero"]
    result = labelloop("hash", *args)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{imagehash.phash(Image.open(p))}  {p}" for p in good]
    errors = result.stderr.splitlines()
    assert len(errors) == len(names) + 2
    for name in names:
        line = f"labelloop hash: {tmp_path / 'src' / name}: "
        assert any(e.startswith(line) and HOSTILE[name][1] in e for e in errors), name
    assert f"labelloop hash: {tmp_path / 'src' / 'folder.png'}: is a folder, not a file" in errors
    assert "labelloop hash: /dev/zero: a character device, not a regular file; never read" \
        in errors


@pytest.mark.parametrize("name", ["zero.png", "pipe.jpg", "sparse.png"])
def test_import_labels_refuses_a_hostile_csv_in_one_line(tmp_path, name):
    HOSTILE[name][0](tmp_path / name)
    Workspace.init(tmp_path / "p", ["a"]).close()
    result = labelloop("import-labels", tmp_path / "p", tmp_path / name)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"labelloop: error: {tmp_path / name}: " + result.stderr.split(": ", 3)[-1].strip()]
    assert HOSTILE[name][1] in result.stderr
    assert "Traceback" not in result.stderr


def test_import_labels_refuses_dev_zero_itself(tmp_path):
    Workspace.init(tmp_path / "p", ["a"]).close()
    result = labelloop("import-labels", tmp_path / "p", "/dev/zero")
    assert result.returncode == 1
    assert result.stderr == ("labelloop: error: /dev/zero: a character device, not a regular "
                             "file; never read\n")


def test_the_size_cap_comes_from_the_option_then_the_environment_then_the_default(tmp_path):
    good = _source(tmp_path / "src", [])
    Workspace.init(tmp_path / "p", ["a"]).close()
    small = {"LABELLOOP_MAX_FILE_SIZE": "1K"}
    report = json.loads(labelloop("import", tmp_path / "p", tmp_path / "src", "--json",
                                  env=small).stdout)
    assert report["added"] == 0
    assert report["failed"] == [
        {"path": str(p), "reason": f"too large ({format_size(p.stat().st_size)}, the limit is "
                                   "1 KiB; raise it with --max-file-size or "
                                   "$LABELLOOP_MAX_FILE_SIZE)"} for p in good]
    report = json.loads(labelloop("import", tmp_path / "p", tmp_path / "src", "--json",
                                  "--max-file-size", "1M", env=small).stdout)
    assert report["added"] == 2 and report["failed"] == []
    bad_env = labelloop("import", tmp_path / "p", tmp_path / "src",
                        env={"LABELLOOP_MAX_FILE_SIZE": "lots"})
    assert bad_env.returncode == 1
    assert bad_env.stderr == ("labelloop: error: $LABELLOOP_MAX_FILE_SIZE: not a size like "
                              "256M or 1G: 'lots'\n")


def test_size_parsing_and_default(monkeypatch):
    assert [parse_size(t) for t in ("1", "2K", "256M", "1G", "3GiB", "5mb")] == [
        1, 2048, 256 << 20, 1 << 30, 3 << 30, 5 << 20]
    for bad in ("0", "-1", "1.5G", "", "12X"):
        with pytest.raises(ValueError):
            parse_size(bad)
    monkeypatch.delenv("LABELLOOP_MAX_FILE_SIZE", raising=False)
    assert max_file_bytes() == DEFAULT_MAX_FILE_BYTES == 256 << 20
    monkeypatch.setenv("LABELLOOP_MAX_FILE_SIZE", "64M")
    assert max_file_bytes() == 64 << 20 and max_file_bytes(10) == 10


def test_a_file_that_grows_past_the_cap_while_read_is_refused(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"\0" * 100)
    assert read_regular_file(path, 100) == b"\0" * 100
    with pytest.raises(UnreadableFile, match="too large"):
        read_regular_file(path, 99)


def test_a_file_swapped_for_a_fifo_after_the_check_cannot_block_the_reader(tmp_path,
                                                                          monkeypatch):
    """The path passes the stat check, then is a FIFO when opened: the race window."""
    regular = tmp_path / "regular.png"
    regular.write_bytes(b"x")
    fifo = tmp_path / "swapped.png"
    os.mkfifo(fifo)
    real_stat = os.stat
    monkeypatch.setattr("app.files.safe_files.os.stat",
                        lambda path, *a, **k: real_stat(regular if path == fifo else path))
    outcome: list[BaseException | object] = []

    def read() -> None:
        try:
            outcome.append(read_regular_file(fifo))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():  # unblock the stuck reader so the run can end, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert isinstance(outcome[0], UnreadableFile)
    assert "a FIFO (named pipe), not a regular file" in str(outcome[0])


def test_an_opened_file_is_a_regular_file_positioned_at_the_start(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"abc")
    with open_regular_file(path) as handle:
        assert handle.read() == b"abc"
