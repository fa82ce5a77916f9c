"""Targeted-learning commands: ``failures``, ``mine``, ``duplicates``, ``similar``.

Exit status: 0 on success, 1 on a project error (printed by ``app.cli.main``).
``failures add`` follows ``import``: the readable images go in, unreadable
ones are listed, and the status is 0 unless nothing at all could be added.
"""

from __future__ import annotations

import argparse
import sys

from app.cli import validators
from app.cli.output import print_json, print_table, progress_bar, shown
from app.pool.frame_rows import with_frame_fields
from app.project.workspace import Workspace, WorkspaceError

# Same values as app.targeted.failure_mining's, repeated so that building the
# parser imports neither numpy/scipy nor faiss (half a second on every
# command); a test keeps them equal. (``hash`` is app.cli.hash_command.)
MINING_METHODS = ("phash", "embedding", "both")
DEFAULT_DUPLICATE_HAMMING = 6


def register(commands: argparse._SubParsersAction) -> None:
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


# -- failures -------------------------------------------------------------------


def run_failures_add(args: argparse.Namespace) -> int:
    from app.targeted.failure_sets import FailureAddReport, add_files, add_samples

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
    from app.targeted.failure_sets import failure_sets

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
    from app.targeted.failure_sets import remove_set

    with Workspace.open(args.project) as workspace:
        remove_set(workspace, args.name)
    print(f"removed failure set {shown(repr(args.name))}")
    return 0


# -- mine, duplicates, similar ----------------------------------------------------


def run_mine(args: argparse.Namespace) -> int:
    from app.targeted.failure_mining import mine_failures

    with Workspace.open(args.project) as workspace, progress_bar("scoring") as bar:
        mined = mine_failures(workspace, args.failures, args.top, args.method,
                              args.max_hamming, progress=bar)
        rows = with_frame_fields(workspace, [m.to_json() for m in mined]) if args.json else []
    if args.json:
        print_json(rows)
        return 0
    print_table(
        ["#", "sample", "score", "hamming", "cosine", "nearest failure", "path"],
        [[i, m.sample_id, m.score, m.reason.hamming, m.reason.cosine,
          m.reason.nearest_failure.path, m.path] for i, m in enumerate(mined, start=1)],
    )
    return 0


def run_duplicates(args: argparse.Namespace) -> int:
    from app.targeted.failure_mining import duplicate_groups
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
            with_frame_fields(workspace, rows)
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
    from app.targeted.similar import similar_samples

    with Workspace.open(args.project) as workspace, progress_bar("scoring") as bar:
        sample = workspace.find_sample(args.sample)
        found = similar_samples(workspace, sample.id, args.top, version_id=args.model,
                                unlabeled_only=args.unlabeled, progress=bar)
        rows = with_frame_fields(workspace, [
            {"sample_id": r.sample_id, "path": r.path, "cosine": r.score,
             "label": r.reason.current_label} for r in found]) if args.json else []
    if args.json:
        print_json(rows)
        return 0
    print_table(["#", "sample", "cosine", "label", "path"],
                [[i, r.sample_id, r.score, r.reason.current_label, r.path]
                 for i, r in enumerate(found, start=1)])
    return 0
