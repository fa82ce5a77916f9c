"""Perceptual hashes of a stream of files, decoded in parallel processes, in order.

``labelloop hash`` runs :func:`hash_output`: paths come from an iterator (a
folder walk, a list file, stdin), are cut into chunks, and each chunk is
read, decoded, hashed and written as output lines by
:func:`app.pool.hash_worker.format_chunk` in a worker process
(:func:`hash_stream` gives the results as objects instead). Results come
back in input order as soon as the chunks before them are done, with a
bounded number of chunks in flight, so a million paths are never held at
once, and the output starts at once.

Processes, not threads: decoding a small PNG is mostly Python code, which
holds the GIL. The workers are forked from a process that has already
imported numpy and Pillow and run the resampler's one-off self-check, so
each starts in milliseconds and inherits all of it. This process only reads
paths, hands out chunks and copies the text that comes back.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from typing import TypeVar

from app.pool.hash_worker import ChunkOutput, format_chunk, hash_chunk
from app.pool.worker_setup import set_up_worker, warm_up
from sampling.hashing import HASH_METHODS

_R = TypeVar("_R")

# A chunk closes at this many files or this many bytes of files, whichever
# comes first: small files go by the hundred (the cost of a task is then
# nothing per file), large ones a few at a time (the load stays balanced).
CHUNK_FILES = 256
CHUNK_BYTES = 4 << 20
# Chunks per worker submitted ahead of the one being waited for.
_AHEAD = 4
# Below this many files the work is done in this process: forking costs more.
_SERIAL_FILES = 32


@dataclass(frozen=True)
class HashResult:
    """One file: its hex hash, or the reason it has none."""

    path: str
    hash: str | None
    reason: str | None = None


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # the worker reports why


def chunk_paths(paths: Iterable[str], max_files: int = CHUNK_FILES,
                max_bytes: int = CHUNK_BYTES) -> Iterator[list[str]]:
    """Consecutive paths, at most ``max_files`` and about ``max_bytes`` per chunk."""
    chunk: list[str] = []
    size = 0
    for path in paths:
        chunk.append(path)
        size += _file_size(path)
        if len(chunk) >= max_files or size >= max_bytes:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _context() -> multiprocessing.context.BaseContext:
    # Forking a multi-threaded process can deadlock the child; the CLI has one
    # thread, a GUI caller would not, and gets spawned workers instead.
    single = threading.active_count() == 1
    if single and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def hash_stream(paths: Iterable[str], method: str, max_bytes: int,
                workers: int | None = None) -> Iterator[HashResult]:
    """Hash every path, yielding one :class:`HashResult` per path in input order.

    Parameters
    ----------
    paths : iterable of str
        Files, consumed lazily (a generator over a million lines is fine).
    method : {"phash", "dhash", "ahash"}
        As ``imagehash.phash``, ``dhash`` and ``average_hash`` on ``Image.open(path)``.
    max_bytes : int
        Size cap of :mod:`app.files.safe_files`.
    workers : int, optional
        Worker processes; default one per core.

    Yields
    ------
    HashResult
        With ``hash`` set, or ``reason`` naming why the file was not hashed.
    """
    for batch in hash_batches(paths, method, max_bytes, workers):
        yield from batch


def hash_batches(paths: Iterable[str], method: str, max_bytes: int,
                 workers: int | None = None) -> Iterator[list[HashResult]]:
    """:func:`hash_stream`, one list per chunk of paths (a writer flushes once per list)."""
    task = partial(hash_chunk, method=method, max_bytes=max_bytes)
    for chunk, done in _run_in_order(paths, method, task, workers):
        yield _results(chunk, done)


def hash_output(paths: Iterable[str], method: str, max_bytes: int,
                workers: int | None = None, line_format: str = "text"
                ) -> Iterator[ChunkOutput]:
    """What ``labelloop hash`` prints, one :class:`ChunkOutput` per chunk of paths, in order.

    Parameters
    ----------
    paths, method, max_bytes, workers
        As in :func:`hash_stream`.
    line_format : {"text", "jsonl", "pairs"}
        See :func:`app.pool.hash_worker.format_chunk`.
    """
    task = partial(format_chunk, method=method, max_bytes=max_bytes, line_format=line_format)
    for _, output in _run_in_order(paths, method, task, workers):
        yield output


def _run_in_order(paths: Iterable[str], method: str, task: Callable[[list[str]], _R],
                  workers: int | None) -> Iterator[tuple[list[str], _R]]:
    """``(chunk, task(chunk))`` for each chunk of ``paths``, in order, run in worker processes."""
    if method not in HASH_METHODS:
        raise ValueError(f"unknown hash method {method!r}; expected one of {HASH_METHODS}")
    workers = workers or os.cpu_count() or 1
    chunks = chunk_paths(paths)
    warm_up(method)
    # A few files in all are hashed here; a short first chunk of large files
    # is not "a few" when a second one follows. Only then is the input read
    # ahead, so that paths fed slowly on stdin still stream out.
    first = list(islice(chunks, 1))
    if first and len(first[0]) < _SERIAL_FILES:
        first += islice(chunks, 1)
    if workers == 1 or len(first) < 2 and sum(map(len, first)) < _SERIAL_FILES:
        for chunk in chain(first, chunks):
            yield chunk, task(chunk)
        return
    queue = chain(first, chunks)
    # Workers do nothing but decode and hash (see set_up_worker).
    with _context().Pool(workers, initializer=set_up_worker) as pool:
        pending: deque = deque()
        for chunk in islice(queue, workers * _AHEAD):
            pending.append((chunk, pool.apply_async(task, (chunk,))))
        while pending:
            chunk, result = pending.popleft()
            done = result.get()
            # Refill before yielding, so the workers keep busy while the caller writes.
            for more in islice(queue, 1):
                pending.append((more, pool.apply_async(task, (more,))))
            yield chunk, done


def _results(chunk: list[str], done: list[tuple[str | None, str | None]]
             ) -> list[HashResult]:
    return [HashResult(path, hex_, reason)
            for path, (hex_, reason) in zip(chunk, done, strict=True)]
