"""The atomic-write helper, under real crashes: exceptions and SIGKILLed writers."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.files import atomic_write
from app.files.atomic_write import (
    atomic_file,
    remove_stale_litter,
    replace_folder,
    staged_folder,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)

ROOT = Path(__file__).resolve().parents[2]


def _child(code: str) -> subprocess.Popen:
    """A Python process running ``code`` with this checkout importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            stdout=subprocess.PIPE, text=True)


def _kill_when_ready(process: subprocess.Popen) -> None:
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert process.returncode == -signal.SIGKILL


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_bytes_text_and_json_round_trip_with_usual_permissions(tmp_path):
    write_bytes_atomic(tmp_path / "a.bin", b"\x00\x01")
    write_text_atomic(tmp_path / "b.txt", "line\r\nnext\n")
    write_json_atomic(tmp_path / "sub" / "c.json", {"k": [1, 2]}, indent=2)
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_bytes() == b"line\r\nnext\n"  # newlines as given
    assert (tmp_path / "sub" / "c.json").read_text() == '{\n  "k": [\n    1,\n    2\n  ]\n}\n'
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    assert _hidden(tmp_path) == []


def test_an_exception_inside_the_writer_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "state.json"
    write_json_atomic(path, {"generation": 1})
    with pytest.raises(RuntimeError, match="writer broke"):
        with atomic_file(path, "w") as handle:
            handle.write('{"generation": 2, "half')
            handle.flush()
            raise RuntimeError("writer broke")
    assert json.loads(path.read_text()) == {"generation": 1}
    assert _hidden(tmp_path) == []


def test_a_write_error_through_the_handle_names_the_target(tmp_path):
    path = tmp_path / "model.pt"
    with pytest.raises(OSError) as caught, atomic_file(path) as handle:
        handle.write(b"x")
        raise OSError(errno.ENOSPC, "No space left on device")  # as a full disk does
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path)
    assert not path.exists() and _hidden(tmp_path) == []


def test_a_writer_killed_mid_write_leaves_the_old_file_and_its_litter_is_swept(tmp_path):
    path = tmp_path / "weights.bin"
    write_bytes_atomic(path, b"old" * 1000)
    child = _child(f"""
        import time
        from app.files.atomic_write import atomic_file
        with atomic_file({str(path)!r}) as handle:
            handle.write(b"new" * 500)  # half of the new content
            handle.flush()
            print("ready", flush=True)
            time.sleep(60)
    """)
    _kill_when_ready(child)
    assert path.read_bytes() == b"old" * 1000
    litter = _hidden(tmp_path)
    assert litter == [n for n in litter if n.startswith(f".weights.bin.{child.pid}.")]
    assert len(litter) == 1  # kill -9 runs no cleanup: the next writer does it
    write_bytes_atomic(path, b"new" * 1000)
    assert path.read_bytes() == b"new" * 1000
    assert _hidden(tmp_path) == []


def test_litter_of_a_live_writer_is_left_alone(tmp_path):
    path = tmp_path / "f.txt"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        busy = tmp_path / f".f.txt.{sleeper.pid}.0123abcd.tmp"
        busy.write_text("being written")
        unrelated = tmp_path / ".f.txt.notes"
        unrelated.write_text("someone's file")
        assert remove_stale_litter(path) == []
        write_text_atomic(path, "done")
        assert busy.exists() and unrelated.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert remove_stale_litter(path) == [busy]
    assert unrelated.exists()


def _generation(folder: Path) -> set[str]:
    return {p.read_text() for p in folder.iterdir()}


def test_a_failing_folder_build_keeps_the_old_folder_and_no_staging(tmp_path):
    target = tmp_path / "cache"
    with staged_folder(target) as staging:
        for name in "abc":
            (staging / name).write_text("1")
    with pytest.raises(ValueError), staged_folder(target) as staging:
        (staging / "a").write_text("2")
        raise ValueError("scoring failed half-way")
    assert sorted(p.name for p in target.iterdir()) == ["a", "b", "c"]
    assert _generation(target) == {"1"}
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_swapping_folders_replaces_and_optionally_keeps_the_old_one(tmp_path, monkeypatch,
                                                                   exchange):
    if not exchange:
        monkeypatch.setattr(atomic_write, "_RENAMEAT2", None)
    target = tmp_path / "export"
    target.mkdir()
    (target / "theirs.txt").write_text("old")
    with staged_folder(tmp_path / "unused") as _:
        pass  # a staged folder for a new target simply becomes it
    assert (tmp_path / "unused").is_dir()
    staging = atomic_write.staging_folder_for(target)
    (staging / "ours.txt").write_text("new")
    replace_folder(staging, target, keep_old_at=tmp_path / "aside")
    assert [p.name for p in target.iterdir()] == ["ours.txt"]
    assert (tmp_path / "aside" / "theirs.txt").read_text() == "old"
    assert _hidden(tmp_path) == []


def test_a_writer_killed_while_swapping_folders_never_leaves_a_mix(tmp_path):
    """A child swaps in generation after generation; SIGKILL lands anywhere.

    Whatever moment the kill hits, the target holds one whole generation
    (all five files, the same number in each), and the next build sweeps the
    dead writer's staging litter.
    """
    target = tmp_path / "index"
    for delay in (0.05, 0.11, 0.17, 0.23, 0.31):
        child = _child(f"""
            from pathlib import Path
            from app.files.atomic_write import staged_folder
            print("ready", flush=True)
            generation = 0
            while True:
                generation += 1
                with staged_folder(Path({str(target)!r})) as staging:
                    for name in "abcde":
                        (staging / name).write_text(str(generation))
        """)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        if target.exists():  # absent only if killed before the first swap
            assert sorted(p.name for p in target.iterdir()) == list("abcde")
            assert len(_generation(target)) == 1
    assert target.exists()
    with staged_folder(target) as staging:
        (staging / "a").write_text("final")
    assert _generation(target) == {"final"}
    assert _hidden(tmp_path) == []
