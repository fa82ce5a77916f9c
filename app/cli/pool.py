"""Pool commands: ``import``, ``import-labels``, ``label``, ``undo``, ``export``."""

from __future__ import annotations

import argparse
import sys

from app.cli import validators
from app.cli.output import print_json, progress_bar, shown, video_progress_bars
from app.domain.annotator import resolve_annotator
from app.labeling.roles import check_may_label, relabel_guard
from app.monitor.live_accuracy import prediction_for
from app.pool.export_formats import ExportOptions
from app.pool.export_formats.hf_imagefolder import METADATA_KINDS
from app.pool.exporter import EXPORT_FORMATS, export_dataset
from app.pool.importer import import_images
from app.pool.label_import import import_labels
from app.pool.labeled_folder_import import import_labeled_folder
from app.pool.video_import import DEFAULT_EVERY_S, DEFAULT_MAX_HAMMING, FrameSampling
from app.project.workspace import Workspace, WorkspaceError


def _annotator_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--annotator", help="name stored on the labels (default: $LABELLOOP_ANNOTATOR, else OS user)"
    )


def register(commands: argparse._SubParsersAction) -> None:
    imp = commands.add_parser("import",
                              help="import image and video files and folders (recursively)")
    imp.add_argument("project")
    imp.add_argument("sources", nargs="+", metavar="SOURCE")
    imp.add_argument("--json", action="store_true", help="print one JSON object")
    imp.add_argument("--with-labels", action="store_true",
                     help="SOURCE is an ImageFolder tree (or an export folder with its "
                          "images): label each image with its class folder's name")
    imp.add_argument("--add-classes", action="store_true",
                     help="with --with-labels: create classes the folders name")
    validators.add_max_file_size_option(imp)
    _annotator_option(imp)
    imp.add_argument("--every", type=validators.float_range(0.0, low_open=True),
                     default=DEFAULT_EVERY_S, metavar="SECONDS",
                     help="videos: at most one candidate frame per SECONDS of presentation "
                          f"time (default {DEFAULT_EVERY_S:g})")
    imp.add_argument("--max-hamming", type=validators.hamming, default=DEFAULT_MAX_HAMMING,
                     metavar="H", help="videos: drop a candidate within H bits (phash) of the "
                                       f"last kept frame (default {DEFAULT_MAX_HAMMING})")
    imp.add_argument("--scene-change", action="store_true",
                     help="videos: also keep the first frame after every cut")
    imp.set_defaults(run=run_import)

    labels = commands.add_parser(
        "import-labels",
        help="label samples from a label file (CSV, Label Studio, Hugging Face, COCO, "
             "FiftyOne) or an export / class folder; the format is detected")
    labels.add_argument("project")
    labels.add_argument("csv", metavar="FILE")
    labels.add_argument("--add-classes", action="store_true",
                        help="create classes the file names that the project lacks")
    labels.add_argument("--json", action="store_true")
    validators.add_max_file_size_option(labels)
    _annotator_option(labels)
    labels.set_defaults(run=run_import_labels)

    label = commands.add_parser(
        "label", help="label samples (several at once are one batch: one undo takes it back)")
    label.add_argument("project")
    label.add_argument("samples", metavar="SAMPLE_ID_OR_PATH", nargs="+")
    label.add_argument("class_name", metavar="CLASS", help="a class name, or '-' to unlabel")
    label.add_argument("--seconds", type=validators.seconds,
                       help="time spent on the sample (a finite number >= 0)")
    _annotator_option(label)
    label.set_defaults(run=run_label)

    undo = commands.add_parser(
        "undo", help="undo the annotator's last label, or last batch (append-only)")
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
    export.add_argument("--image-url-prefix", metavar="PREFIX",
                        help="labelstudio: what data.image starts with (default: Label "
                             "Studio's /data/local-files/?d=; '' for plain file paths)")
    export.add_argument("--image-root", metavar="DIR",
                        help="labelstudio: image paths are written relative to DIR (Label "
                             "Studio's LOCAL_FILES_DOCUMENT_ROOT; default /)")
    export.add_argument("--predictions", action="store_true",
                        help="labelstudio: add unlabeled items with the latest model's "
                             "prediction and score as Label Studio predictions")
    export.add_argument("--hf-metadata", choices=METADATA_KINDS, default="jsonl",
                        help="hf: metadata.jsonl (load_dataset(OUT) types labels as a "
                             "ClassLabel from the card; load_dataset('imagefolder', "
                             "data_dir=OUT) as strings) or metadata.parquet (a ClassLabel "
                             "either way)")
    export.set_defaults(run=run_export)


def run_import(args: argparse.Namespace) -> int:
    if args.with_labels:
        return _run_import_with_labels(args)
    sampling = FrameSampling(args.every, args.max_hamming, args.scene_change)
    with Workspace.open(args.project) as workspace, progress_bar("importing") as bar, \
            video_progress_bars() as video_bar:
        report = import_images(workspace, args.sources, progress=bar,
                               max_bytes=args.max_file_size, sampling=sampling,
                               video_progress=video_bar)
    if args.json:
        print_json(report.to_json())
        return 0
    videos = report.video_summary()
    print(f"added {report.added}{videos}, duplicates skipped {report.duplicates}, "
          f"failed {len(report.failed)} (batch {report.batch})")
    for failure in report.failed:
        print(f"  {shown(failure.path)}: {shown(failure.reason)}", file=sys.stderr)
    return 0


def _run_import_with_labels(args: argparse.Namespace) -> int:
    if len(args.sources) != 1:
        raise WorkspaceError("--with-labels takes one folder of class folders")
    with Workspace.open(args.project) as workspace, progress_bar("importing") as bar:
        report, labels = import_labeled_folder(
            workspace, args.sources[0], resolve_annotator(args.annotator),
            add_classes=args.add_classes, progress=bar, max_bytes=args.max_file_size)
    if args.json:
        print_json({**report.to_json(), "labels": labels.to_json()})
        return 0
    print(f"added {report.added}, duplicates skipped {report.duplicates}, "
          f"failed {len(report.failed)} (batch {report.batch})")
    for failure in report.failed:
        print(f"  {shown(failure.path)}: {shown(failure.reason)}", file=sys.stderr)
    _print_label_summary(labels)
    return 0


def run_import_labels(args: argparse.Namespace) -> int:
    annotator = resolve_annotator(args.annotator)
    with Workspace.open(args.project) as workspace:
        report = import_labels(workspace, args.csv, annotator, add_classes=args.add_classes,
                               max_bytes=args.max_file_size,
                               may_write=relabel_guard(workspace, annotator))
    if args.json:
        print_json(report.to_json())
        return 0
    _print_label_summary(report)
    return 0


def _print_label_summary(report) -> None:
    print(f"labeled {report.labeled}, already so {report.unchanged}, "
          f"unmatched {len(report.unmatched)}, ambiguous {len(report.ambiguous)}, "
          f"conflicting {len(report.conflicting)}, empty label {len(report.empty_label)}, "
          f"invalid label {len(report.invalid_labels)}, refused path {len(report.refused_paths)}"
          + (f", refused by role {len(report.refused_by_role)}" if report.refused_by_role
             else ""))
    if report.format != "csv":
        print(f"read as {report.format}")
    if report.history:
        print(f"earlier annotations kept as history: {report.history}")
    if len(report.per_annotator) > 1:
        print("by annotator: " + ", ".join(
            f"{shown(name)} {counts['labeled']}" for name, counts in
            sorted(report.per_annotator.items())))
    if report.added_classes:
        print(f"added classes: {', '.join(shown(c) for c in report.added_classes)}")
    _print_label_problems(report)


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
        + [f"{shown(repr(r['path']))}: {shown(r['reason'])}; left as it was"
           for r in report.refused_by_role]
    )
    for line in lines[:limit]:
        print(f"  {line}", file=sys.stderr)
    if len(lines) > limit:
        print(f"  ... and {len(lines) - limit} more (see --json)", file=sys.stderr)


def run_label(args: argparse.Namespace) -> int:
    class_name = None if args.class_name == "-" else args.class_name
    annotator = resolve_annotator(args.annotator)
    with Workspace.open(args.project) as workspace:
        samples = [workspace.find_sample(text) for text in args.samples]
        for sample in samples:  # a role that may not relabel stops the lot, before any
            check_may_label(workspace, annotator, sample.id)
        # What the latest model said before this answer: live accuracy's raw data.
        predictions = {s.id: prediction_for(workspace, s.id) or {} for s in samples}
        if len(samples) == 1:
            workspace.label(samples[0].id, class_name, annotator, seconds_spent=args.seconds,
                            source="cli", **predictions[samples[0].id])
        else:
            workspace.label_many([s.id for s in samples], class_name, annotator,
                                 source="cli", predictions=predictions)
    for sample in samples:
        print(f"sample {sample.id} ({shown(sample.path)}): {shown(class_name or 'unlabeled')}")
    return 0


def run_undo(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace:
        undone = workspace.undo_last_step(resolve_annotator(args.annotator))
    if not undone:
        print("nothing to undo")
        return 1
    for annotation in undone:
        print(f"undid label {shown(annotation.class_name or 'unlabeled')} "
              f"on sample {annotation.sample_id}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace:
        predictions = None
        if args.predictions:
            if args.format != "labelstudio":
                raise WorkspaceError("--predictions is for --format labelstudio")
            from app.learning.pool_predictions import latest_predictions

            with progress_bar("scoring") as bar:
                predictions = latest_predictions(workspace, progress=bar)
        options = ExportOptions(image_url_prefix=args.image_url_prefix,
                                image_root=args.image_root, predictions=predictions,
                                hf_metadata=args.hf_metadata)
        with progress_bar("exporting") as bar:
            report = export_dataset(workspace, args.out, args.format, force=args.force,
                                    progress=bar, options=options)
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
