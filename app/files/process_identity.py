"""Telling whether a PID still names the process that was recorded.

A PID alone does not identify a process: after a crash or a reboot the same
number is handed to someone else, and a job row that trusted it would look
"running" forever.  On Linux a process is named by the boot it belongs to
(``/proc/sys/kernel/random/boot_id``) and its start time in clock ticks since
boot (field 22 of ``/proc/PID/stat``); together with the PID they do not
repeat.  Elsewhere (no ``/proc``) the identity is ``None`` and only the PID
can be checked.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def _boot_id() -> str:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown-boot"


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of ``/proc/PID/stat`` (state first), or None when unreadable."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # Field 2 is the command name in parentheses and may itself hold spaces
    # or parentheses: split after the last ')'.
    return text[text.rfind(")") + 2 :].split()


def process_identity(pid: int) -> str | None:
    """``"BOOT_ID:START_TICKS"`` of a live process, None if unknown or gone.

    Parameters
    ----------
    pid : int
        Process id.

    Returns
    -------
    str or None
        Stable for the life of the process and different for any later
        process given the same PID; None without ``/proc`` or when the
        process does not exist.
    """
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    return f"{_boot_id()}:{fields[19]}"  # fields[0] is field 3, so [19] is field 22


def process_command_line(pid: int) -> list[str] | None:
    """The process's argv, or None when it cannot be read."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def is_alive(pid: int | None, identity: str | None = None) -> bool:
    """Whether ``pid`` runs and, when ``identity`` is given, is still that process.

    A zombie (exited, not yet reaped) counts as gone.  Nothing is reaped here:
    waiting on someone else's child would steal its exit status.
    """
    if not pid or pid <= 0:
        return False
    fields = _stat_fields(pid)
    if fields is not None:
        if fields[0] in ("Z", "X"):
            return False
        return identity is None or process_identity(pid) == identity
    if _PROC.joinpath("self", "stat").exists():
        return False  # /proc works here and has no entry for pid: it is gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def machine_id() -> str:
    """This machine, stable across reboots: ``/etc/machine-id``, else the host name.

    A team's jobs are rows every desktop sees; only the machine that runs a
    job can tell from its PID whether the job still lives.
    """
    for source in (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id")):
        try:
            value = source.read_text().strip()
        except OSError:
            continue
        if value:
            return value
    import socket

    return socket.gethostname() or "unknown-machine"
