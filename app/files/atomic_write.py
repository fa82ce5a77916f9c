"""Atomic, durable replacement of files and folders.

A reader of ``path`` sees the old content or the new one, never half of
either, and once a write function returns the new content survives a power
cut:

* a file is written to a hidden temp file in the same folder (same file
  system, so the final ``os.replace`` is a rename), flushed and fsynced,
  renamed over ``path``, and then the folder is fsynced so the rename itself
  is on disk;
* a folder is built under a hidden staging name beside the target, every
  file and folder in it is fsynced, and it is swapped in: with Linux's
  ``renameat2(RENAME_EXCHANGE)`` in one step, elsewhere by two renames (in
  between, ``target`` is briefly absent, never a mix of old and new files).

A writer that raises leaves the old file and no temp file behind. A writer
killed outright (``kill -9``, power cut) cannot clean up after itself, so
temp names carry the writer's process id and the next write to the same
target removes the litter of writers that are no longer running.

Temp files are opened with ``open(..., "x")`` rather than
:func:`tempfile.mkstemp`, whose files are private (0600): results get the
user's usual permissions.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_TEMP_SUFFIX = ".tmp"
_STAGING_SUFFIX = ".staging"
_OLD_SUFFIX = ".old"


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Persist a folder's entries (a rename into it); a no-op where folders cannot be opened."""
    if os.name != "posix":  # Windows cannot open a folder; NTFS journals renames itself
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hidden_name(target: Path, suffix: str) -> Path:
    """A fresh hidden sibling of ``target`` naming this process: ``.NAME.PID.RANDOM{suffix}``."""
    return target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{suffix}")


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's live process
        return True
    return True


def remove_stale_litter(target: str | os.PathLike[str]) -> list[Path]:
    """Delete temp files and staging folders of ``target`` left by writers that died.

    Parameters
    ----------
    target : path
        The file or folder whose hidden siblings (``.NAME.PID.RANDOM.tmp`` /
        ``.staging`` / ``.old``) are looked at.

    Returns
    -------
    list of Path
        What was removed. Litter of a process that is still running (another
        writer at work) is left alone.
    """
    target = Path(target)
    removed: list[Path] = []
    prefix = f".{target.name}."
    try:
        # One pass over the folder's names, no pattern matching: this runs on
        # every write, in folders of thousands of files (failure copies).
        with os.scandir(target.parent) as entries:
            siblings = [target.parent / e.name for e in entries if e.name.startswith(prefix)]
    except OSError:
        return removed
    for sibling in siblings:
        rest = sibling.name[len(prefix):]  # "PID.RANDOM.suffix"
        parts = rest.split(".")
        if len(parts) != 3 or f".{parts[2]}" not in (_TEMP_SUFFIX, _STAGING_SUFFIX, _OLD_SUFFIX):
            continue
        if not parts[0].isdigit() or _writer_alive(int(parts[0])):
            continue
        if sibling.is_dir() and not sibling.is_symlink():
            shutil.rmtree(sibling, ignore_errors=True)
        else:
            sibling.unlink(missing_ok=True)
        removed.append(sibling)
    return removed


@contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "wb", *,
                encoding: str | None = None, newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temp file that replaces ``path`` when the ``with`` block ends without error.

    For writers that want a file object (``np.savez``, ``torch.save``,
    ``Figure.savefig``, ``csv.writer``); for data already in memory use
    :func:`write_bytes_atomic` / :func:`write_text_atomic` / :func:`write_json_atomic`.

    Parameters
    ----------
    path : path
        Destination; its folder is created when missing.
    mode : {"wb", "w"}
        Binary or text.
    encoding, newline : str, optional
        As for :func:`open` (text mode; ``encoding`` defaults to UTF-8).

    Yields
    ------
    file object
        The temp file. An exception inside the block deletes it and leaves
        ``path`` as it was.

    Raises
    ------
    OSError
        Named after ``path`` when the error came from a write through the handle
        (a full disk), which otherwise names no file.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_file writes a whole file: mode 'wb' or 'w', not {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_litter(target)
    temp = _hidden_name(target, _TEMP_SUFFIX)
    text = mode == "w"
    try:
        with open(temp, "x" if text else "xb",
                  encoding=(encoding or "utf-8") if text else None,
                  newline=newline if text else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise
    fsync_folder(target.parent)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data``, atomically and durably (see :func:`atomic_file`)."""
    with atomic_file(path, "wb") as handle:
        handle.write(data)


def write_text_atomic(path: str | os.PathLike[str], text: str, *,
                      encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text``; line endings are written as given (``newline=""``)."""
    with atomic_file(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text)


def write_json_atomic(path: str | os.PathLike[str], value: Any, *,
                      indent: int | None = None) -> None:
    """Replace ``path`` with ``value`` as JSON (UTF-8); with ``indent``, a trailing newline."""
    text = json.dumps(value, indent=indent)
    write_text_atomic(path, text + "\n" if indent is not None else text)


# -- folders -----------------------------------------------------------------


def staging_folder_for(target: str | os.PathLike[str]) -> Path:
    """A fresh, empty hidden folder beside ``target`` to build its next content in."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_litter(target)
    staging = _hidden_name(target, _STAGING_SUFFIX)
    staging.mkdir()
    return staging


@contextmanager
def staged_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a folder's new content aside; it replaces ``target`` when the block succeeds.

    Yields
    ------
    Path
        An empty staging folder beside ``target``. When the block raises, the
        staging folder is removed and ``target`` is untouched; otherwise the
        old ``target`` (if any) is swapped out and deleted.
    """
    staging = staging_folder_for(target)
    try:
        yield staging
        replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def replace_folder(staging: str | os.PathLike[str], target: str | os.PathLike[str], *,
                   keep_old_at: str | os.PathLike[str] | None = None) -> None:
    """Swap a finished folder in at ``target`` after making its content durable.

    Parameters
    ----------
    staging : path
        The new content, on the same file system as ``target`` (a sibling).
    target : path
        Where it goes. An existing folder there is swapped out.
    keep_old_at : path, optional
        Where the old content goes (it is kept); by default it is deleted.
    """
    staging, target = Path(staging), Path(target)
    _fsync_tree(staging)
    if not target.exists():
        os.rename(staging, target)
        fsync_folder(target.parent)
        return
    old = Path(keep_old_at) if keep_old_at is not None else _hidden_name(target, _OLD_SUFFIX)
    if _exchange(staging, target):
        # One step: target now holds the new content; staging holds the old.
        os.rename(staging, old)
    else:
        os.rename(target, old)
        os.rename(staging, target)
    fsync_folder(target.parent)
    if keep_old_at is None:
        shutil.rmtree(old, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    """fsync every regular file and folder under ``folder`` (bottom up), then ``folder``."""
    for root, _dirs, files in os.walk(folder, topdown=False):
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except PermissionError:
                # A hard link to someone's file we may not read (an export of
                # their images): its data is theirs and already on disk.
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_folder(root)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _load_renameat2() -> Any:
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2  # glibc >= 2.28
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


# The standard library has no atomic exchange of two paths; Linux has it as a
# system call (renameat2 with RENAME_EXCHANGE), reached through libc.
_RENAMEAT2 = _load_renameat2()


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step; False where the system or file system cannot."""
    if _RENAMEAT2 is None:
        return False
    result = _RENAMEAT2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                        _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # a file system without exchange: fall back to two renames
    raise OSError(code, os.strerror(code), str(second))
