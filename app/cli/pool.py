"""Pool commands: ``import``, ``import-labels``, ``label``, ``undo``, ``export``."""

from __future__ import annotations

import argparse
import sys

from app.cli import validators
from app.cli.output import print_json, progress_bar, shown
from app.domain.annotator import resolve_annotator
from app.labeling.roles import check_may_label
from app.monitor.live_accuracy import prediction_for
from app.pool.exporter import EXPORT_FORMATS, export_dataset
from app.pool.importer import import_images
from app.pool.label_import import import_labels
from app.project.workspace import Workspace


def _annotator_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--annotator", help="name stored on the labels (default: $LABELLOOP_ANNOTATOR, else OS user)"
    )


def register(commands: argparse._SubParsersAction) -> None:
    imp = commands.add_parser("import", help="import image files and folders (recursively)")
    imp.add_argument("project")
    imp.add_argument("sources", nargs="+", metavar="SOURCE")
    imp.add_argument("--json", action="store_true", help="print one JSON object")
    validators.add_max_file_size_option(imp)
    imp.set_defaults(run=run_import)

    labels = commands.add_parser("import-labels", help="label samples from a file,label CSV")
    labels.add_argument("project")
    labels.add_argument("csv", metavar="FILE.csv")
    labels.add_argument("--add-classes", action="store_true",
                        help="create classes the CSV names that the project lacks")
    labels.add_argument("--json", action="store_true")
    validators.add_max_file_size_option(labels)
    _annotator_option(labels)
    labels.set_defaults(run=run_import_labels)

    label = commands.add_parser("label", help="label one sample")
    label.add_argument("project")
    label.add_argument("sample", metavar="SAMPLE_ID_OR_PATH")
    label.add_argument("class_name", metavar="CLASS", help="a class name, or '-' to unlabel")
    label.add_argument("--seconds", type=validators.seconds,
                       help="time spent on the sample (a finite number >= 0)")
    _annotator_option(label)
    label.set_defaults(run=run_label)

    undo = commands.add_parser("undo", help="undo the annotator's last label (append-only)")
    undo.add_argument("project")
    _annotator_option(undo)
    undo.set_defaults(run=run_undo)

    export = commands.add_parser("export", help="export labeled samples with a manifest")
    export.add_argument("project")
    export.add_argument("out", metavar="OUT")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="imagefolder")
    export.add_argument("--force", action="store_true",
                        help="replace a non-empty folder not written by Labelloop "
                             "(its old content is moved aside, never deleted)")
    export.add_argument("--json", action="store_true")
    export.set_defaults(run=run_export)


def run_import(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace, progress_bar("importing") as bar:
        report = import_images(workspace, args.sources, progress=bar,
                               max_bytes=args.max_file_size)
    if args.json:
        print_json(report.to_json())
        return 0
    print(f"added {report.added}, duplicates skipped {report.duplicates}, "
          f"failed {len(report.failed)} (batch {report.batch})")
    for failure in report.failed:
        print(f"  {shown(failure.path)}: {shown(failure.reason)}", file=sys.stderr)
    return 0


def run_import_labels(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace:
        report = import_labels(workspace, args.csv, resolve_annotator(args.annotator),
                               add_classes=args.add_classes, max_bytes=args.max_file_size)
    if args.json:
        print_json(report.to_json())
        return 0
    print(f"labeled {report.labeled}, already so {report.unchanged}, "
          f"unmatched {len(report.unmatched)}, ambiguous {len(report.ambiguous)}, "
          f"conflicting {len(report.conflicting)}, empty label {len(report.empty_label)}, "
          f"invalid label {len(report.invalid_labels)}, refused path {len(report.refused_paths)}")
    if report.added_classes:
        print(f"added classes: {', '.join(shown(c) for c in report.added_classes)}")
    _print_label_problems(report)
    return 0


def _print_label_problems(report, limit: int = 20) -> None:
    """The first ``limit`` rows of each kind that was not applied, on stderr."""
    lines = (
        [f"no sample matches {shown(repr(f))}" for f in report.unmatched]
        + [f"several samples match {shown(repr(f))}; use a longer path"
           for f in report.ambiguous]
        + [f"{shown(repr(c['path']))}: conflicting labels {shown(', '.join(c['labels']))}; "
           "left as it was" for c in report.conflicting]
        + [f"{shown(repr(f))}: empty label, skipped" for f in report.empty_label]
        + [f"{shown(repr(i['file']))}: label {shown(repr(i['label']))} {i['reason']}"
           for i in report.invalid_labels]
        + [f"{shown(repr(r['file']))}: {r['reason']}" for r in report.refused_paths]
    )
    for line in lines[:limit]:
        print(f"  {line}", file=sys.stderr)
    if len(lines) > limit:
        print(f"  ... and {len(lines) - limit} more (see --json)", file=sys.stderr)


def run_label(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace:
        sample = workspace.find_sample(args.sample)
        class_name = None if args.class_name == "-" else args.class_name
        annotator = resolve_annotator(args.annotator)
        check_may_label(workspace, annotator, sample.id)
        # What the latest model said before this answer: live accuracy's raw data.
        prediction = prediction_for(workspace, sample.id) or {}
        workspace.label(sample.id, class_name, annotator,
                        seconds_spent=args.seconds, source="cli", **prediction)
    print(f"sample {sample.id} ({shown(sample.path)}): {shown(class_name or 'unlabeled')}")
    return 0


def run_undo(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace:
        undone = workspace.undo_last(resolve_annotator(args.annotator))
    if undone is None:
        print("nothing to undo")
        return 1
    print(f"undid label {shown(undone.class_name or 'unlabeled')} on sample {undone.sample_id}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace, progress_bar("exporting") as bar:
        report = export_dataset(workspace, args.out, args.format, force=args.force, progress=bar)
    if args.json:
        print_json(report.to_json())
        return 0
    print(f"exported {report.files} files to {shown(report.out)} ({report.format}), "
          f"dataset_version {report.dataset_version[:12]}")
    if report.previous_moved_to:
        print(f"the folder's previous content was moved to {shown(report.previous_moved_to)}")
    for item in report.skipped:
        print(f"  skipped {shown(item['path'])}: {shown(item['reason'])}", file=sys.stderr)
    return 0
