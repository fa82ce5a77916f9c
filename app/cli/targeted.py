"""Targeted-learning commands: ``hash``, ``failures``, ``mine``, ``duplicates``, ``similar``.

Exit status: 0 on success, 1 on a project error (printed by ``app.cli.main``).
``hash`` follows ``sha256sum``: every readable file is printed, each
unreadable one gets an error line on stderr naming it, and the status is 1
when any file could not be hashed. ``failures add`` follows ``import``: the
readable images go in, unreadable ones are listed, and the status is 0 unless
nothing at all could be added.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import BinaryIO

from PIL import Image

from app.cli import validators
from app.cli.output import print_json, print_table, progress_bar, shown
from app.safe_files import UnreadableFile, max_file_bytes, open_regular_file
from app.workspace import Workspace, WorkspaceError
from sampling.hashing import HASH_METHODS, hash_files

# Files hashed per call to hash_files; a chunk holding an unreadable file is
# redone file by file, so one bad file costs little and names itself. Each
# file of a chunk is held open while it is hashed, so this also bounds the
# open descriptors.
_HASH_CHUNK = 64
_READ_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)
# Same values as app.mining's, repeated so that building the parser does not
# import faiss (half a second on every command); a test keeps them equal.
MINING_METHODS = ("phash", "embedding", "both")
DEFAULT_DUPLICATE_HAMMING = 6


def register(commands: argparse._SubParsersAction) -> None:
    hashing = commands.add_parser(
        "hash", help="perceptual hashes of image files (bit for bit as imagehash)",
        description="Prints 'HASH  FILE' per file, as str(imagehash.phash(Image.open(FILE))) "
                    "(dhash: imagehash.dhash, ahash: imagehash.average_hash). Unreadable files "
                    "get an error line on stderr; the exit status is then 1.",
    )
    hashing.add_argument("files", nargs="+", metavar="FILE")
    hashing.add_argument("--method", choices=HASH_METHODS, default="phash")
    hashing.add_argument("--json", action="store_true",
                         help='print [{"path", "hash"}] for the files that could be read')
    validators.add_max_file_size_option(hashing)
    hashing.set_defaults(run=run_hash)

    failures = commands.add_parser("failures", help="failure sets: add, list, remove")
    actions = failures.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add", help="add images from outside the pool (DIR or files) or pool samples",
        description="Outside images are copied into PROJECT/failures/ and hashed; pool "
                    "samples are referenced by id (or path) with --samples.",
    )
    add.add_argument("project")
    add.add_argument("name", metavar="NAME")
    add.add_argument("sources", nargs="*", metavar="DIR", help="folders or image files")
    add.add_argument("--samples", metavar="ID,...",
                     help="comma-separated pool sample ids (or stored paths)")
    add.add_argument("--json", action="store_true")
    validators.add_max_file_size_option(add)
    add.set_defaults(run=run_failures_add)
    listing = actions.add_parser("list", help="failure sets with their counts")
    listing.add_argument("project")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=run_failures_list)
    remove = actions.add_parser("remove", help="delete a failure set (and its copied images)")
    remove.add_argument("project")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(run=run_failures_remove)

    mine = commands.add_parser(
        "mine", help="rank unlabeled samples by likeness to a failure set",
        description="A candidate's score is its best match over the failure set: phash "
                    "1 - hamming/64; embedding (1 + cosine)/2 with the latest model; both "
                    "the mean of the two for the same failure. Labeled samples and the "
                    "failures themselves are never proposed. In --json, nearest_failure is "
                    "the stored path of the nearest failure image (the pool sample's path "
                    "for a failure that is a pool sample).",
    )
    mine.add_argument("project")
    mine.add_argument("--failures", required=True, metavar="NAME", help="failure set")
    mine.add_argument("--top", type=validators.count, default=20, metavar="K")
    mine.add_argument("--method", choices=MINING_METHODS, default="phash")
    mine.add_argument("--max-hamming", type=validators.hamming, metavar="H",
                      help="drop candidates further than H bits from every failure "
                           "(phash and both)")
    mine.add_argument("--json", action="store_true")
    mine.set_defaults(run=run_mine)

    duplicates = commands.add_parser(
        "duplicates", help="groups of near-duplicate samples (by perceptual hash)",
        description="Groups are chains of samples within H bits of phash of each other, so "
                    "two members can be further apart than H. --json prints one list per "
                    'group of {"sample_id", "path", "hamming_to_first"}.',
    )
    duplicates.add_argument("project")
    duplicates.add_argument("--max-hamming", type=validators.hamming,
                            default=DEFAULT_DUPLICATE_HAMMING,
                            metavar="H", help="largest phash distance that links two samples "
                                              f"(default {DEFAULT_DUPLICATE_HAMMING} of 64)")
    duplicates.add_argument("--json", action="store_true")
    duplicates.set_defaults(run=run_duplicates)

    similar = commands.add_parser(
        "similar", help="more like this: pool samples nearest to one sample by embedding",
        description="Uses the pool embedding index of a model version, kept under "
                    "PROJECT/cache/index/v<version>/ and rebuilt when the scored samples or "
                    "the checkpoint change.",
    )
    similar.add_argument("project")
    similar.add_argument("sample", metavar="SAMPLE_ID", help="sample id or path")
    similar.add_argument("--top", type=validators.count, default=20, metavar="K")
    similar.add_argument("--model", type=validators.version_id, metavar="V",
                         help="version id (default: latest)")
    similar.add_argument("--unlabeled", action="store_true", help="only unlabeled samples")
    similar.add_argument("--json", action="store_true")
    similar.set_defaults(run=run_similar)


# -- hash -----------------------------------------------------------------------


def _read_error(path: str, exc: Exception, max_bytes: int) -> str:
    """A human reason for an unreadable file, as ``labelloop import`` words it."""
    from app.image_io import UnreadableImage, load_image

    try:
        load_image(path, max_bytes)
    except UnreadableImage as reason:
        return str(reason)
    return str(exc) or type(exc).__name__


def _open_all(paths: list[str], max_bytes: int) -> tuple[list[tuple[str, BinaryIO]], dict]:
    """Open each path under app.safe_files' rules: ``([(path, file)], {path: reason})``."""
    opened, refused = [], {}
    for path in paths:
        try:
            opened.append((path, open_regular_file(path, max_bytes)))
        except UnreadableFile as exc:
            refused[path] = str(exc)
    return opened, refused


def hash_paths(paths: list[str], method: str, max_bytes: int | None = None
               ) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """``([(path, hex)], {path: reason})``: every path hashed, bad ones named, none lost.

    Files are opened here (regular files within the size cap, see
    :mod:`app.safe_files`) and handed to the hasher open, so a FIFO or a
    device never reaches Pillow and cannot block or exhaust it.
    """
    try:
        limit = max_file_bytes(max_bytes)
    except ValueError as exc:
        raise WorkspaceError(str(exc)) from exc
    workers = min(4, os.cpu_count() or 1)
    hashed: list[tuple[str, str]] = []
    errors: dict[str, str] = {}
    for start in range(0, len(paths), _HASH_CHUNK):
        opened, refused = _open_all(paths[start : start + _HASH_CHUNK], limit)
        errors.update(refused)
        try:
            # hash_files hands each item to Image.open, which takes open files too.
            files = [handle for _, handle in opened]
            try:
                hexes = hash_files(files, method, workers=workers)
                hashed.extend((path, hex_) for (path, _), hex_ in
                              zip(opened, hexes, strict=True))
                continue
            except _READ_ERRORS:
                pass
            for path, handle in opened:
                try:
                    hashed.append((path, hash_files([handle], method)[0]))
                except _READ_ERRORS as exc:
                    errors[path] = _read_error(path, exc, limit)
        finally:
            for _, handle in opened:
                handle.close()
    order = {path: i for i, path in enumerate(paths)}
    hashed.sort(key=lambda item: order[item[0]])
    return hashed, dict(sorted(errors.items(), key=lambda item: order[item[0]]))


def run_hash(args: argparse.Namespace) -> int:
    hashed, errors = hash_paths(list(args.files), args.method, args.max_file_size)
    for path, reason in errors.items():
        print(f"labelloop hash: {shown(path)}: {shown(reason)}", file=sys.stderr)
    if args.json:
        print_json([{"path": path, "hash": hex_} for path, hex_ in hashed])
    else:
        for path, hex_ in hashed:
            print(f"{hex_}  {shown(path)}")
    return 1 if errors else 0


# -- failures -------------------------------------------------------------------


def run_failures_add(args: argparse.Namespace) -> int:
    from app.failures import FailureAddReport, add_files, add_samples

    if not args.sources and not args.samples:
        raise WorkspaceError("give a folder (or image files) to add, or --samples ID,...")
    with Workspace.open(args.project) as workspace:
        report = FailureAddReport(args.name)
        if args.samples:
            refs = [part.strip() for part in args.samples.split(",") if part.strip()]
            ids = [workspace.find_sample(ref).id for ref in refs]
            _merge(report, add_samples(workspace, args.name, ids))
        if args.sources:
            _merge(report, add_files(workspace, args.name, args.sources,
                                     max_bytes=args.max_file_size))
    if args.json:
        print_json(report.to_json())
    else:
        print(f"failure set {shown(repr(report.name))}: added {report.added}, "
              f"already there {report.already_there}, failed {len(report.failed)}")
    for failure in report.failed:
        print(f"  {shown(failure.path)}: {shown(failure.reason)}", file=sys.stderr)
    nothing_in = report.added == 0 and report.already_there == 0
    return 1 if nothing_in and report.failed else 0


def _merge(total, part) -> None:
    total.added += part.added
    total.already_there += part.already_there
    total.failed.extend(part.failed)


def run_failures_list(args: argparse.Namespace) -> int:
    from app.failures import failure_sets

    with Workspace.open(args.project) as workspace:
        sets = failure_sets(workspace)
    if args.json:
        print_json([s.to_json() for s in sets])
        return 0
    if not sets:
        print("no failure sets yet; add one with `labelloop failures add`")
        return 0
    print_table(["name", "items", "pool samples", "outside images"],
                [[s.name, s.items, s.pool_samples, s.outside_images] for s in sets])
    return 0


def run_failures_remove(args: argparse.Namespace) -> int:
    from app.failures import remove_set

    with Workspace.open(args.project) as workspace:
        remove_set(workspace, args.name)
    print(f"removed failure set {shown(repr(args.name))}")
    return 0


# -- mine, duplicates, similar ----------------------------------------------------


def run_mine(args: argparse.Namespace) -> int:
    from app.mining import mine_failures

    with Workspace.open(args.project) as workspace, progress_bar("scoring") as bar:
        mined = mine_failures(workspace, args.failures, args.top, args.method,
                              args.max_hamming, progress=bar)
    if args.json:
        print_json([m.to_json() for m in mined])
        return 0
    print_table(
        ["#", "sample", "score", "hamming", "cosine", "nearest failure", "path"],
        [[i, m.sample_id, m.score, m.reason["hamming"], m.reason["cosine"],
          m.reason["nearest_failure"]["path"], m.path] for i, m in enumerate(mined, start=1)],
    )
    return 0


def run_duplicates(args: argparse.Namespace) -> int:
    from app.mining import duplicate_groups
    from sampling.hashing import hamming_distance, int64_to_codes

    with Workspace.open(args.project) as workspace:
        groups = duplicate_groups(workspace, args.max_hamming)
    rows = []
    for group in groups:
        codes = int64_to_codes([s.phash for s in group])
        distances = hamming_distance(codes, codes[0]).tolist()
        rows.append([{"sample_id": s.id, "path": s.path, "hamming_to_first": int(d)}
                     for s, d in zip(group, distances, strict=True)])
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"no near-duplicates within {args.max_hamming} bits")
        return 0
    for number, group in enumerate(rows, start=1):
        print(f"group {number} ({len(group)} samples)")
        for member in group:
            print(f"  {member['sample_id']:>8}  {member['hamming_to_first']:>2}  "
                  f"{shown(member['path'])}")
    return 0


def run_similar(args: argparse.Namespace) -> int:
    from app.similar import similar_samples

    with Workspace.open(args.project) as workspace, progress_bar("scoring") as bar:
        sample = workspace.find_sample(args.sample)
        found = similar_samples(workspace, sample.id, args.top, version_id=args.model,
                                unlabeled_only=args.unlabeled, progress=bar)
    if args.json:
        print_json([{"sample_id": r.sample_id, "path": r.path, "cosine": r.score,
                     "label": r.reason["current_label"]} for r in found])
        return 0
    print_table(["#", "sample", "cosine", "label", "path"],
                [[i, r.sample_id, r.score, r.reason["current_label"], r.path]
                 for i, r in enumerate(found, start=1)])
    return 0
