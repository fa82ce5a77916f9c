"""A throwaway PostgreSQL server for the tests, started with ``initdb`` + ``pg_ctl``.

The recipe is pytest-postgresql's: a data directory in a fresh temporary
folder, a free TCP port on 127.0.0.1, the unix socket inside the same
folder, ``trust`` authentication (nothing listens beyond localhost), and
``pg_ctl -w`` so start and stop return only when the server is ready or gone.

``initdb`` refuses to run as root, and CI containers often are root: then
every server command runs as the ``postgres`` system user (which Debian's
``postgresql`` package creates) through ``runuser``, and the folder is
handed to that user.

Each test gets its own database, copied from a template that already holds
the newest schema (``CREATE DATABASE ... TEMPLATE``), so one server serves
the whole run and a test costs a few milliseconds of setup.

A watchdog (:mod:`tests.app.server_watchdog`) stops the server and removes
its folder should the test process die without tearing it down.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.app import server_watchdog

SERVER_USER = "postgres"
SUPERUSER = "postgres"


def find_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` live: ``pg_config --bindir``, else Debian's folders."""
    candidates: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            candidates.append(subprocess.run([pg_config, "--bindir"], capture_output=True,
                                             text=True, check=True, timeout=10).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    # Debian keeps the server binaries out of PATH, one folder per major version.
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    """One running server in its own folder; :meth:`stop` removes the folder."""

    bindir: Path
    folder: Path
    port: int
    _as_user: list[str] = field(default_factory=list)
    watchdog: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def datadir(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run([*self._as_user, *args], capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}\n{tail}")

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.folder} -c max_connections=100")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60",
                  "-l", str(self.folder / "server.log"), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` is a crash: no shutdown checkpoint)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-m", mode,
                  "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str, template: str | None = None) -> str:
        """Make database ``name`` (optionally a copy of ``template``); return its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER,
                             dbname="postgres", autocommit=True) as conn:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template is not None:
                statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
            conn.execute(statement)
        return self.url(name)

    def destroy(self) -> None:
        server_watchdog.retire(self.watchdog)  # first: it must not act after this stop
        try:
            self.stop("immediate")  # its data is thrown away: no shutdown checkpoint
        except (RuntimeError, subprocess.SubprocessError):
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


def start_server(bindir: Path) -> PgServer:
    """``initdb`` a fresh cluster in a temporary folder and start it on a free port."""
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="labelloop-pg-"))
    if os.geteuid() == 0:
        # initdb will not run as root; the folder must belong to the server's user.
        as_user = ["runuser", "-u", SERVER_USER, "--"]
        shutil.chown(folder, user=SERVER_USER)
    server = PgServer(bindir, folder, free_port(), as_user)
    # Before initdb: a test process killed while the server starts leaves nothing either.
    server.watchdog = server_watchdog.spawn(
        "postgres", "--pg-ctl", str(bindir / "pg_ctl"), "--folder", str(folder),
        *(["--run-as", SERVER_USER] if as_user else []))
    try:
        # fsync stays on: the restart test and the benchmark need real commits.
        server._run(str(bindir / "initdb"), "-D", str(server.datadir), "-U", SUPERUSER,
                    "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", timeout=120)
        server.start()
    except BaseException:
        server.destroy()
        raise
    return server
