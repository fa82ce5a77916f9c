"""Shared output helpers for CLI commands: JSON, tables and progress bars.

Class names, file paths and failure reasons are untrusted text: a CSV or a
file name can carry terminal escape sequences. Human-readable output passes
them through :func:`shown`, which escapes control characters; tables do it
for every cell. JSON output needs nothing more (``json.dump`` escapes them).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

from app.domain.text_safety import escape_controls


class quiet_tqdm(tqdm):  # noqa: N801 - reads as the tqdm it stands in for
    """A tqdm bar that never starts tqdm's monitor thread.

    The monitor would make the CLI multi-threaded, and the importer and the
    hash pipeline fork their workers only from a single-threaded process
    (forking a multi-threaded one can deadlock the child; see
    ``app.pool.importer``), falling back to slower spawned workers. The
    setting lives on this subclass, so tqdm's own default is left alone for
    every other user in the process; our bars are redrawn on each update anyway.
    """

    monitor_interval = 0


def shown(value: Any) -> str:
    """``str(value)`` with control characters escaped: safe to print to a terminal."""
    return escape_controls(str(value))


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def print_json_line(value: Any) -> None:
    """One compact JSON object per line, flushed at once (for streaming)."""
    print(json.dumps(value), flush=True)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Plain aligned columns; right-align numbers so they line up by digit."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows) if rows else False
        for i in range(len(headers))
    ]
    for line_no, row in enumerate(cells):
        parts = [
            cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        print("  ".join(parts).rstrip())
        if line_no == 0:
            print("  ".join("-" * w for w in widths))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return shown(value)


@contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A ``(done, total)`` callback drawing a bar on a terminal, silent otherwise."""
    bar: tqdm | None = None
    show = enabled and sys.stderr.isatty()

    def update(done: int, total: int) -> None:
        nonlocal bar
        if not show:
            return
        if bar is None:
            bar = quiet_tqdm(total=total, desc=description, unit="it", file=sys.stderr,
                             leave=False)
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


@contextmanager
def video_progress_bars() -> Iterator[Callable[[str, int, int], None]]:
    """A ``(video name, done, total)`` callback: one bar per video on a terminal.

    A bar is closed (and left on screen) when the next video starts, so a
    folder of videos leaves one finished line per video.
    """
    show = sys.stderr.isatty()
    current: list[Any] = [None, None]  # name, bar

    def update(name: str, done: int, total: int) -> None:
        if not show:
            return
        # A new video, or one of the same name from another folder (its count restarts).
        if current[0] != name or done < current[1].n:
            if current[1] is not None:
                current[1].close()
            current[0] = name
            current[1] = quiet_tqdm(total=total, desc=shown(name), unit="frame",
                                    file=sys.stderr, leave=True)
        bar = current[1]
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        if current[1] is not None:
            current[1].close()
