"""Reading a user-named file without letting it exhaust memory or hang the reader.

Every reader of user-supplied files (image import, failure sets, ``hash``,
label CSVs) goes through :func:`open_regular_file` or
:func:`read_regular_file`, so one set of rules holds everywhere:

* only regular files are read, after following symbolic links: a FIFO, a
  character device such as ``/dev/zero``, a socket or a folder is refused
  with a reason and never read;
* a file larger than a size cap (:data:`DEFAULT_MAX_FILE_BYTES`, raised or
  lowered with ``$LABELLOOP_MAX_FILE_SIZE`` or a command's
  ``--max-file-size``) is refused before a byte is read, so a sparse 3 GB
  file costs nothing;
* the file is opened with ``O_NONBLOCK`` and checked again on the open
  descriptor, so a regular file swapped for a FIFO between the check and the
  open cannot block the reader either.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from typing import BinaryIO

#: Far above any real image or label file; big enough for a 16k x 16k PNG.
DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
#: Environment variable that overrides the default cap (e.g. ``1G``, ``64M``).
MAX_FILE_SIZE_ENV = "LABELLOOP_MAX_FILE_SIZE"

_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


class UnreadableFile(Exception):
    """A file that is refused or cannot be read; ``str(exc)`` is the reason."""


def parse_size(text: str) -> int:
    """Bytes in a size such as ``1048576``, ``512K``, ``256M``, ``1G`` or ``2GiB``.

    Units are binary (``1K`` = 1024 bytes). Raises ``ValueError`` for
    anything else, including zero.
    """
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size like 256M or 1G: {text!r}")
    size = int(match.group(1)) * _UNITS[match.group(2).upper()]
    if size < 1:
        raise ValueError(f"a size must be at least 1 byte, got {text!r}")
    return size


def max_file_bytes(explicit: int | None = None) -> int:
    """The size cap in force: ``explicit``, else ``$LABELLOOP_MAX_FILE_SIZE``, else the default.

    Raises
    ------
    ValueError
        If the environment variable is set to something that is not a size.
    """
    if explicit is not None:
        if explicit < 1:
            raise ValueError(f"the file size cap must be at least 1 byte, got {explicit}")
        return explicit
    text = os.environ.get(MAX_FILE_SIZE_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_FILE_BYTES
    try:
        return parse_size(text)
    except ValueError as exc:
        raise ValueError(f"${MAX_FILE_SIZE_ENV}: {exc}") from None


def format_size(size: int) -> str:
    """``268435456`` -> ``'256 MiB'``; exact bytes below 1 KiB."""
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _check_mode_and_size(st: os.stat_result, limit: int) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableFile("is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableFile(f"{_kind(st.st_mode)}, not a regular file; never read")
    if st.st_size > limit:
        raise UnreadableFile(
            f"too large ({format_size(st.st_size)}, the limit is {format_size(limit)}; "
            f"raise it with --max-file-size or ${MAX_FILE_SIZE_ENV})"
        )


def _os_reason(path: str | os.PathLike[str], exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        if os.path.islink(path):
            return f"broken symbolic link (to {os.readlink(path)})"
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    return f"cannot read: {exc.strerror or exc}"


def _open_regular_fd(path: str | os.PathLike[str], limit: int) -> tuple[int, os.stat_result]:
    """A descriptor open for reading on a regular file within ``limit``, and its fstat."""
    try:
        # Checked before opening: opening a FIFO or a tape device can block or
        # have side effects even with O_NONBLOCK on some systems.
        _check_mode_and_size(os.stat(path), limit)
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise UnreadableFile(_os_reason(path, exc)) from exc
    try:
        # The path may have been swapped since the stat: trust only the descriptor.
        st = os.fstat(fd)
        _check_mode_and_size(st, limit)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file: plain blocking reads from here
        return fd, st
    except BaseException:
        os.close(fd)
        raise


def open_regular_file(path: str | os.PathLike[str], max_bytes: int | None = None) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file within the size cap.

    Parameters
    ----------
    path : path-like
        The file; symbolic links are followed, then the target is checked.
    max_bytes : int, optional
        Size cap; default :func:`max_file_bytes`.

    Returns
    -------
    BinaryIO
        An open file positioned at 0; the caller closes it.

    Raises
    ------
    UnreadableFile
        With the reason: missing, broken link, permission denied, a folder,
        a FIFO or device, too large, ...
    """
    fd, _ = _open_regular_fd(path, max_file_bytes(max_bytes))
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_up_to(fd: int, count: int) -> bytes:
    """Up to ``count`` bytes from ``fd``, fewer only at the end of the file."""
    parts = []
    while count > 0:
        # One read returns at most about 2 GiB on Linux; loop past that (and
        # past a read cut short by a signal).
        part = os.read(fd, min(count, 1 << 30))
        if not part:
            break
        parts.append(part)
        count -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def read_regular_file(path: str | os.PathLike[str], max_bytes: int | None = None) -> bytes:
    """All bytes of ``path``, under the rules of :func:`open_regular_file`.

    A file that grows past the cap while it is read is refused too. The read
    is sized from the open descriptor: asking for ``limit + 1`` bytes at once
    would allocate a buffer as large as the cap for every small file. Reads
    go straight to the descriptor (no buffered file object): ``hash`` reads
    thumbnails by the thousand, where that object cost as much as the reading.

    Raises
    ------
    UnreadableFile
        With the reason.
    """
    limit = max_file_bytes(max_bytes)
    fd, st = _open_regular_fd(path, limit)
    try:
        size = st.st_size
        # One byte more than expected shows a file that grew since fstat.
        data = _read_up_to(fd, min(size, limit) + 1)
        if len(data) > size:
            data += _read_up_to(fd, limit + 1 - len(data))
    except OSError as exc:
        raise UnreadableFile(_os_reason(path, exc)) from exc
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UnreadableFile(f"too large (grew past the limit of {format_size(limit)} while "
                             "being read)")
    return data
