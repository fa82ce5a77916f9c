"""Shared fixtures: real projects on disk, real images, Qt offscreen."""

from __future__ import annotations

import faulthandler
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Qt must never try to open a display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# A crash inside a native library (Qt, torch, FFmpeg) kills pytest before it
# can say which test ran. With LABELLOOP_CRASH_LOG set (`make test` sets it),
# every thread's Python stack goes to that file at the crash, and `make test`
# prints it; pytest's own faulthandler is turned off there, as it would
# replace this one with a copy of its captured stderr. Each pytest-xdist
# worker writes a file of its own (the path with ".gw0", ".gw1"... added), so
# that one worker's stacks are not truncated by another's start.
if os.environ.get("LABELLOOP_CRASH_LOG"):
    _crash_path = os.environ["LABELLOOP_CRASH_LOG"]
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _crash_path += "." + os.environ["PYTEST_XDIST_WORKER"]
    _crash_log = open(_crash_path, "w")  # open until the process ends
    faulthandler.enable(file=_crash_log, all_threads=True)

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m app ARGS`` in a real subprocess, as a user would."""
    result = subprocess.run(
        [sys.executable, "-m", "app", *map(str, args)],
        capture_output=True, text=True, cwd=REPO,
        env={**os.environ, **(env or {})}, timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"labelloop {' '.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def run_cli_in_process(*args: str) -> str:
    """``labelloop ARGS`` through the real parser in this process; returns stdout.

    For commands whose tests monkeypatch or count calls; ``run_cli`` is the
    end-to-end subprocess version.
    """
    import contextlib
    import io

    from app.cli.main import build_parser

    parsed = build_parser().parse_args([str(a) for a in args])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert parsed.run(parsed) == 0
    return out.getvalue()


def write_noise_images(folder: Path, count: int, *, size: int = 24, seed: int = 0,
                       prefix: str = "img") -> list[Path]:
    """Distinct random RGB PNGs (distinct content, so distinct sha256)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        path = folder / f"{prefix}_{i:04d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def project(tmp_path: Path):
    """An open three-class workspace with 12 imported noise images."""
    from app.pool.importer import import_images
    from app.project.workspace import Workspace

    images = write_noise_images(tmp_path / "images", 12)
    workspace = Workspace.init(tmp_path / "proj", ["cat", "dog", "bird"])
    import_images(workspace, [images[0].parent], workers=1)
    yield workspace
    workspace.close()


def _demo_images(demo) -> dict[str, tuple[int, int]]:
    """Size and modification time of each of the demo's images and of its truth CSV."""
    files = [demo.truth_csv, *(path for folder in (demo.project / "pool", demo.simulate_pool.parent)
                               for path in folder.rglob("*") if path.is_file())]
    stats = {str(path): path.stat() for path in files}
    return {name: (stat.st_size, stat.st_mtime_ns) for name, stat in stats.items()}


@pytest.fixture(scope="session")
def digits_demo(tmp_path_factory: pytest.TempPathFactory):
    """The real demo (1,797 digit PNGs, truth CSV, simulate split), built once.

    The whole session shares it, so a test that damages one of its images
    breaks whichever test reads that image later, in an order that changes
    with the number of test processes. Its files are checked at the end: a
    test that needs a damaged image damages a copy.
    """
    from app.pool.demo import build_demo

    demo = build_demo(tmp_path_factory.mktemp("demo"))
    before = _demo_images(demo)
    yield demo
    after = _demo_images(demo)
    changed = sorted(name for name in before.keys() | after.keys()
                     if before.get(name) != after.get(name))
    assert not changed, (f"a test changed {len(changed)} of the shared demo's files, "
                         f"first {changed[:3]}: damage a copy instead")


# -- a throwaway PostgreSQL server (tests/app/pg_server.py) -----------------

def _postgres_missing(reason: str) -> None:
    """Skip loudly where no server can run; in CI that is a failure, never a skip."""
    message = (f"PostgreSQL tests cannot run: {reason}. Install Debian's `postgresql` "
               "package (the Makefile's `make test` does).")
    if os.environ.get("CI"):
        pytest.fail(message)
    import warnings
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_bindir():
    """The folder of ``initdb`` and ``pg_ctl`` (skips, or fails in CI, where there is none)."""
    from tests.app.pg_server import find_bindir

    bindir = find_bindir()
    if bindir is None:
        _postgres_missing("no initdb/pg_ctl found (pg_config --bindir, /usr/lib/postgresql/*/bin)")
    return bindir


@pytest.fixture(scope="session")
def pg_server(pg_bindir):
    """One real PostgreSQL server for the whole run, with a template database of the newest schema."""
    from tests.app.pg_server import start_server

    server = start_server(pg_bindir)
    try:
        from app.store.backend import open_store

        store = open_store(server.create_database("labelloop_template"), create=True)
        store.close()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(pg_server, request):
    """The URL of a fresh, empty database on the test server (no schema)."""
    return pg_server.create_database(_database_name(request))


@pytest.fixture
def pg_project_url(pg_server, request):
    """The URL of a fresh database that already holds the newest schema (from the template)."""
    return pg_server.create_database(_database_name(request), template="labelloop_template")


_database_counter = iter(range(1_000_000))


def _database_name(request) -> str:
    return f"t{next(_database_counter)}_{os.getpid()}"
