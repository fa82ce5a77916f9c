"""``labelloop hash``: perceptual hashes of image files, bit for bit as imagehash.

Exit status follows ``sha256sum``: every readable file is printed, each
unreadable one gets an error line on stderr naming it, and the status is 1
when any file could not be hashed.

This module is the whole of what ``labelloop hash`` imports before it hashes
(see ``LIGHT_COMMANDS`` in :mod:`app.cli.main`): argparse and the standard
library, then :mod:`app.pool.hash_pipeline`, which brings Pillow and numpy.
Users run ``hash`` on folders of thumbnails, where the command's start-up
costs as much as thousands of files, so neither the store (SQLAlchemy), nor
tqdm, nor scipy, torch or Qt is imported here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator

from app.cli import validators
from app.cli.errors import CommandError
from app.domain.text_safety import escape_controls
from app.files.safe_files import max_file_bytes

# Same values as sampling.hashing's, repeated so that building the parser
# imports no numpy; a test keeps them equal.
HASH_METHODS = ("phash", "dhash", "ahash")
# BLAS libraries read these once, when numpy loads them: the hasher's matrix
# products are small and its parallelism is one process per core, so extra
# BLAS threads only cost (start-up, and stalls on a busy machine).
_ONE_BLAS_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def register(commands: argparse._SubParsersAction) -> None:
    hashing = commands.add_parser(
        "hash", help="perceptual hashes of image files (bit for bit as imagehash)",
        description="Prints 'HASH  FILE' per file, as str(imagehash.phash(Image.open(FILE))) "
                    "(dhash: imagehash.dhash, ahash: imagehash.average_hash), in input order "
                    "and as the results arrive. A folder is walked recursively for image "
                    "files (as by import). Unreadable files get an error line on stderr "
                    "and the rest carries on; the exit status is then 1.",
    )
    hashing.add_argument("files", nargs="*", metavar="PATH", help="image files or folders")
    hashing.add_argument("--from-file", metavar="LIST",
                         help="also hash the paths listed in LIST, one per line "
                              "('-': standard input)")
    hashing.add_argument("--method", choices=HASH_METHODS, default="phash")
    output = hashing.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true",
                        help='print [{"path", "hash"}] for the files that could be read')
    output.add_argument("--jsonl", action="store_true",
                        help='print {"path", "hash"} per line, for the files that could be read')
    hashing.add_argument("--workers", type=validators.count, metavar="N",
                         help="decoding processes (default: one per core)")
    validators.add_max_file_size_option(hashing)
    hashing.set_defaults(run=run_hash)


def _hash_sources(args: argparse.Namespace) -> Iterator[str]:
    """Paths named on the command line, then those of ``--from-file``, folders expanded."""
    from app.files.image_walk import expand_paths, read_path_list

    yield from expand_paths(args.files)
    if args.from_file is None:
        return
    if args.from_file == "-":
        yield from expand_paths(read_path_list(sys.stdin))
        return
    try:
        # Only the list itself is opened here; every path in it is read under safe_files.
        with open(args.from_file, encoding="utf-8", errors="surrogateescape") as listing:
            yield from expand_paths(read_path_list(listing))
    except OSError as exc:
        raise CommandError(f"--from-file {args.from_file}: {exc.strerror or exc}") from exc


def _json_item(path: str, hex_: str, first: bool) -> str:
    """One element of the --json list, laid out as print_json lays it out."""
    body = json.dumps({"path": path, "hash": hex_}, indent=2).replace("\n", "\n  ")
    return ("[\n  " if first else ",\n  ") + body


def run_hash(args: argparse.Namespace) -> int:
    if not args.files and args.from_file is None:
        raise CommandError("give image files or folders to hash, or --from-file LIST")
    try:
        limit = max_file_bytes(args.max_file_size)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if "numpy" not in sys.modules:
        for name in _ONE_BLAS_THREAD:
            os.environ.setdefault(name, "1")
    from app.pool.hash_pipeline import hash_output
    from app.pool.worker_setup import keep_freed_memory

    keep_freed_memory()

    # The workers format the lines (--jsonl, text) themselves: this process
    # only passes paths on and writes what comes back, so it is never the
    # bottleneck of the pool.
    line_format = "jsonl" if args.jsonl else "pairs" if args.json else "text"
    failed = 0
    written = 0
    out = sys.stdout
    for chunk in hash_output(_hash_sources(args), args.method, limit, args.workers,
                             line_format):
        for path, reason in chunk.failures:
            print(f"labelloop hash: {escape_controls(path)}: {escape_controls(reason)}",
                  file=sys.stderr)
        failed += len(chunk.failures)
        if args.json:
            parts = []
            for path, hex_ in chunk.hashes:
                parts.append(_json_item(path, hex_, first=written == 0))
                written += 1
            out.write("".join(parts))
        else:
            out.write(chunk.text)
        out.flush()  # a reader sees each chunk as soon as it is done
    if args.json:
        out.write("\n]\n" if written else "[]\n")
    return 1 if failed else 0


