"""Stops a test server once the test process that started it is gone.

A PostgreSQL server (``pg_ctl start``) and a Ray head (``ray start --block``
in a session of its own) outlive the process that started them: when pytest
is killed (SIGKILL, a segfault, a SIGTERM that skips teardown) its fixtures
never stop them, and they keep running with their temporary folders. Each
server start therefore spawns this watchdog beside the server, in a session
of its own so that nothing aimed at pytest's process group reaches it::

    python -m tests.app.server_watchdog --parent PID postgres --pg-ctl PATH --folder DIR [--run-as USER]
    python -m tests.app.server_watchdog --parent PID ray --session SID --temp-dir DIR

It waits for process PID (the test process, its parent) to end, then stops
the server and removes its folder. A normal teardown terminates the watchdog
first (:func:`retire`), so the watchdog never acts once the server has been
stopped, and never on a PID or session id that was since reused.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
POLL_SECONDS = 0.5


# -- the test process's side ---------------------------------------------------

def spawn(*command: str) -> subprocess.Popen:
    """Start a watchdog of this process for the server that ``command`` describes."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.app.server_watchdog", "--parent", str(os.getpid()),
         *command],
        cwd=REPO,
        # Not pytest's stdout/stderr: a write to a pipe whose reader died with
        # pytest would kill the watchdog (SIGPIPE) before it cleans up.
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def retire(watchdog: subprocess.Popen | None) -> None:
    """End a watchdog before a normal stop, so that it never acts afterwards."""
    if watchdog is None or watchdog.poll() is not None:
        return
    watchdog.terminate()
    try:
        watchdog.wait(10)
    except subprocess.TimeoutExpired:
        watchdog.kill()
        watchdog.wait(10)


def session_processes(session: int) -> dict[int, str]:
    """PID -> command line of every live process in session ``session``.

    Zombies are left out: they have ended already, and where nothing reaps
    orphans (some containers' init) they stay listed for good.
    """
    members = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) != session:
                continue
            # The state follows the command name, which may hold spaces and ')'.
            if (entry / "stat").read_text().rpartition(")")[2].split()[0] == "Z":
                continue
            members[int(entry.name)] = (entry / "cmdline").read_bytes().replace(
                b"\0", b" ").decode(errors="replace")
        except (OSError, ProcessLookupError):
            continue
    return members


# -- the watchdog's side -------------------------------------------------------

def wait_for_parent(parent: int, poll: bool = False) -> None:
    """Return once process ``parent`` (this process's parent) has ended.

    The watchdog watches its own parent, so a changed ``getppid()`` (the
    kernel hands orphans to init or a subreaper) says the parent is gone:
    unlike ``kill(pid, 0)``, it is not fooled by an unreaped zombie nor by a
    reused PID.
    """
    if os.getppid() != parent:
        return  # it died before this process got this far
    if not poll and hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(parent)
        except ProcessLookupError:
            return
        except OSError:
            pass  # a kernel without pidfd (before 5.3), or a sandbox that forbids it
        else:
            # Still the parent: the pidfd is of that process, not of a reused PID.
            if os.getppid() == parent:
                select.select([pidfd], [], [])  # readable once the process has exited
            os.close(pidfd)
            return
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)


def stop_postgres(pg_ctl: str, folder: Path, run_as: str | None) -> None:
    # ``immediate``: the data is thrown away, no shutdown checkpoint is worth waiting for.
    prefix = ["runuser", "-u", run_as, "--"] if run_as else []
    try:
        subprocess.run([*prefix, pg_ctl, "-D", str(folder / "data"), "-m", "immediate", "-w",
                        "stop"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.SubprocessError):
        pass  # the folder goes all the same
    shutil.rmtree(folder, ignore_errors=True)


def stop_ray(session: int, temp_dir: Path) -> None:
    # Ray's workers make process groups of their own but stay in the head's
    # session; SIGKILL, as a worker may spawn more while the first ones die.
    for _ in range(20):
        members = session_processes(session)
        if not members:
            break
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    shutil.rmtree(temp_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.app.server_watchdog",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--parent", type=int, required=True,
                        help="the test process; the server goes when it ends")
    parser.add_argument("--poll", action="store_true",
                        help=f"poll every {POLL_SECONDS} s even where pidfd_open exists")
    servers = parser.add_subparsers(dest="server", required=True)
    postgres = servers.add_parser("postgres")
    postgres.add_argument("--pg-ctl", required=True)
    postgres.add_argument("--folder", type=Path, required=True, help="holds data/; removed")
    postgres.add_argument("--run-as", help="the server's system user, when started as root")
    ray = servers.add_parser("ray")
    ray.add_argument("--session", type=int, required=True, help="the head's PID")
    ray.add_argument("--temp-dir", type=Path, required=True)
    args = parser.parse_args(argv)

    wait_for_parent(args.parent, poll=args.poll)
    if args.server == "postgres":
        stop_postgres(args.pg_ctl, args.folder, args.run_as)
    else:
        stop_ray(args.session, args.temp_dir)


if __name__ == "__main__":
    main()
