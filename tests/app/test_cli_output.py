"""The CLI's progress bars own their tqdm setting: no monitor thread, no global change.

Why it matters: the importer and the hash pipeline fork their workers only
from a single-threaded process (app.pool.importer); tqdm's monitor thread
would quietly switch the CLI to slower spawned workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.conftest import REPO

PROBE = """
    import threading, tqdm
    from app.cli.output import progress_bar, quiet_tqdm
    print(tqdm.tqdm.monitor_interval)  # tqdm's default, untouched by importing the CLI
    bar = quiet_tqdm(total=3, disable=True)
    bar.update(1)
    bar.close()
    with quiet_tqdm(total=2, file=open("/dev/null", "w")) as shown:
        shown.update(2)
    with progress_bar("x") as update:
        update(1, 2)
    print(threading.active_count())
    {extra}
"""


def _probe(extra: str = "") -> list[str]:
    code = textwrap.dedent(PROBE.format(extra=extra))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    return result.stdout.split()


def test_cli_bars_start_no_thread_and_leave_tqdm_alone():
    default, threads = _probe()
    assert float(default) > 0  # the monitor stays on for tqdm's other users
    assert threads == "1"  # still single-threaded: import workers may fork


def test_a_plain_tqdm_would_have_started_the_monitor():
    # The contrast that makes the check above meaningful.
    *_, threads_after_plain = _probe(
        "tqdm.tqdm(total=1, disable=True).close(); print(threading.active_count())")
    assert threads_after_plain == "2"
