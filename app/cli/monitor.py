"""Monitoring commands: ``live`` (live accuracy) and ``drift`` (data drift of a batch)."""

from __future__ import annotations

import argparse

from app.cli import validators
from app.cli.output import print_json, print_table, progress_bar, shown
from app.monitor.batch_drift import FEATURES, batch_drift
from app.monitor.drift_report import DEFAULT_ALPHA, DEFAULT_TOP, DriftReport
from app.monitor.label_free_drift import LabelFreeDriftReport
from app.monitor.live_accuracy import (
    ALERT_MARGIN_SETTING,
    DEFAULT_WINDOW,
    LiveAccuracy,
    LiveFigures,
    Tally,
    live_accuracy,
)
from app.pool.frame_rows import with_frame_fields
from app.project.workspace import Workspace

RANDOM_NOTE = (
    "note: queued samples were picked by a strategy (hard ones), so figures over all labels "
    "are biased low; the random-queue rows are the unbiased estimate."
)


def register(commands: argparse._SubParsersAction) -> None:
    live = commands.add_parser(
        "live", help="live accuracy: the model's predictions against the labels given since",
        description="Accuracy of a model version's predictions (recorded when each label was "
                    "given) on freshly labeled samples: overall, over the last N labels, per "
                    "class, and for the random queue alone (the unbiased estimate), with 95% "
                    f"Wilson intervals; alerts below validation accuracy minus the project "
                    f"setting {ALERT_MARGIN_SETTING} (default 0.1).",
    )
    live.add_argument("project")
    live.add_argument("--model", type=validators.version_id, help="version id (default: latest)")
    live.add_argument("--window", type=validators.count, default=DEFAULT_WINDOW, metavar="N",
                      help=f"sliding window: the last N labels (default {DEFAULT_WINDOW})")
    live.add_argument("--json", action="store_true")
    live.set_defaults(run=run_live)

    drift = commands.add_parser(
        "drift", help="test an import batch for data drift against the pool the model was "
                      "trained for",
        description="MMD two-sample test on embeddings (RBF kernel, median-heuristic "
                    "bandwidth, permutation p-value), PSI of the predicted classes and the "
                    "change in mean confidence, batch vs the pool at training time: every "
                    "sample, labeled or not, of the import batches that existed when the "
                    "version's training started (half against half when the batch was the "
                    "whole pool). top_samples in --json are objects "
                    "{sample_id, path, distance}: batch samples farthest (embedding distance) "
                    "from their nearest sample of the reference pool, farthest first. "
                    "Before the first model (or with --features label-free) the test runs on "
                    "the label-free embedding (the pretrained backbone's, else pixels + PCA) "
                    "against the batches imported earlier, without PSI or confidence; its "
                    "--json has \"model\": null and \"features\".",
    )
    drift.add_argument("project")
    drift.add_argument("--batch", type=validators.count,
                       help="import batch id (default: newest with samples)")
    drift.add_argument("--model", type=validators.version_id, help="version id (default: latest)")
    drift.add_argument("--alpha", type=validators.float_range(0, 1, low_open=True, high_open=True),
                       default=DEFAULT_ALPHA,
                       help=f"significance level of the test, in (0, 1) (default {DEFAULT_ALPHA})")
    drift.add_argument("--top", type=validators.int_range(0), default=DEFAULT_TOP, metavar="K",
                       help="how many most-responsible samples to list (0: none)")
    drift.add_argument("--seed", type=validators.seed, default=0)
    drift.add_argument("--features", choices=FEATURES, default="auto",
                       help="model: the model's embeddings, predictions and confidence; "
                            "label-free: the pretrained backbone's embedding (else pixels + PCA), "
                            "no model needed; auto (default): model when there is one")
    drift.add_argument("--json", action="store_true")
    drift.set_defaults(run=run_drift)


def _tally_row(title: str, tally: Tally) -> list:
    low, high = tally.interval or (None, None)
    return [title, tally.n, tally.correct, tally.accuracy, low, high]


def _class_rows(figures: LiveFigures) -> list[list]:
    return [_tally_row(name, t) for name, t in figures.per_class.items() if t.n]


def print_live(report: LiveAccuracy) -> None:
    validation = ("-" if report.validation_accuracy is None
                  else f"{report.validation_accuracy:.4f} ({report.validation_split})")
    print(f"model version {report.model}: validation accuracy {validation}, "
          f"alert margin {report.margin:g}")
    headers = ["labels", "n", "correct", "accuracy", "95% CI low", "95% CI high"]
    window = f"last {report.window}"
    print_table(headers, [
        _tally_row("all", report.overall.overall),
        _tally_row(window, report.windowed.overall),
        _tally_row("random queue, all", report.random_overall.overall),
        _tally_row(f"random queue, {window}", report.random_windowed.overall),
    ])
    print(RANDOM_NOTE)
    if report.n_suggested:
        print(f"note: {report.n_suggested} of the {report.overall.overall.n} labels were given "
              "with the prediction pre-selected (suggestion mode); anchoring may inflate "
              "their agreement.")
    for title, figures in ((f"per class, {window} labels", report.windowed),
                           (f"per class, random queue, {window}", report.random_windowed)):
        rows = _class_rows(figures)
        if rows:
            print(f"\n{title}:")
            print_table(["class", "n", "correct", "accuracy", "95% CI low", "95% CI high"],
                        rows)
    if report.overall.overall.n == 0:
        print("\nno labels with a recorded prediction of this version yet")
    if report.alert is not None:
        print(f"\nALERT: {shown(report.alert.message)}")
    else:
        print("\nno alert")


def run_live(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace:
        report = live_accuracy(workspace, args.model, args.window)
    if args.json:
        print_json(report.to_json())
    else:
        print_live(report)
    return 0


def print_drift(report: DriftReport) -> None:
    print(f"batch {report.batch} ({report.n_batch} samples tested) against model version "
          f"{report.model}'s reference ({report.n_reference} samples)")
    _print_test(report)
    print(f"predicted classes: PSI {report.psi:.4f} ({report.psi_level})")
    print(f"mean confidence: {report.mean_confidence_reference:.4f} -> "
          f"{report.mean_confidence_batch:.4f} (delta {report.mean_confidence_delta:+.4f})")
    verdict = "DRIFT" if report.drift else "no drift"
    print(f"verdict at alpha {report.alpha:g}: {verdict}")
    if report.unscored:
        print(f"{len(report.unscored)} batch sample(s) could not be scored and were left out")
    _print_top(report.top_samples, "the reference pool")


def print_label_free_drift(report: LabelFreeDriftReport) -> None:
    print(f"batch {report.batch} ({report.n_batch} samples tested) without a model, on the "
          f"{report.features}")
    _print_test(report)
    verdict = "DRIFT" if report.drift else "no drift"
    print(f"verdict at alpha {report.alpha:g}: {verdict}")
    if report.unreadable:
        print(f"{len(report.unreadable)} batch sample(s) could not be read and were left out")
    _print_top(report.top_samples, "the earlier pool")


def _print_test(report: DriftReport | LabelFreeDriftReport) -> None:
    print(f"reference: {report.reference.describe()}")
    print(f"MMD test on embeddings: mmd2 {report.mmd2:.5f}, p-value {report.mmd_p_value:.4f} "
          f"({report.n_permutations} permutations, {report.n_batch_tested} vs "
          f"{report.n_reference_tested} samples)")


def _print_top(samples, reference: str) -> None:
    if samples:
        print(f"\nsamples farthest from {reference}:")
        print_table(["#", "sample", "distance", "path"],
                    [[i, s.sample_id, s.distance, s.path]
                     for i, s in enumerate(samples, start=1)])


def run_drift(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace, progress_bar("embedding") as bar:
        report = batch_drift(workspace, args.batch, args.alpha, args.top, args.seed,
                             features=args.features, version_id=args.model, progress=bar)
        data = with_frame_fields(workspace, report.to_json()) if args.json else None
    if args.json:
        print_json(data)
    elif isinstance(report, LabelFreeDriftReport):
        print_label_free_drift(report)
    else:
        print_drift(report)
    return 0
