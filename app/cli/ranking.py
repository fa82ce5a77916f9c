"""``labelloop rank``: the unlabeled pool in an active-learning strategy's order;
``labelloop mislabeled``: the labeled samples the latest model contradicts;
``labelloop queue``: any of the window's queues, filtered and sorted as there."""

from __future__ import annotations

import argparse
import dataclasses

from app.cli import validators
from app.cli.output import print_json, print_table, progress_bar
from app.labeling.queue_filters import SORT_ORDERS, QueueFilter
from app.labeling.queues import MEDIA_FILTERS, QUEUE_KINDS, QUEUE_TITLES, QueueSpec, build_queue
from app.learning.pick_reasons import ColdStartReason
from app.learning.ranking import rank_unlabeled
from app.pool.frame_rows import with_frame_fields
from app.project.workspace import Workspace, WorkspaceError
from sampling.strategies import STRATEGIES


def register(commands: argparse._SubParsersAction) -> None:
    rank = commands.add_parser(
        "rank", help="rank unlabeled samples by a strategy (scores with the latest model)",
        description="Score: higher = more worth labeling. Before any model exists, every "
        "strategy that needs one gives the cold-start batch (k-center on downscaled pixels + "
        "PCA; score = distance to the nearest labeled or earlier pick); typiclust, probcover "
        "and auto rank on that label-free embedding without a model. Strategies: " + "; ".join(
            f"{name}: {spec.description}" for name, spec in STRATEGIES.items()),
    )
    rank.add_argument("project")
    rank.add_argument("--strategy", default="margin", choices=list(STRATEGIES))
    rank.add_argument("--top", type=validators.count, default=20, metavar="K",
                      help="how many samples to list (>= 1)")
    rank.add_argument("--seed", type=validators.seed, default=0)
    rank.add_argument("--json", action="store_true")
    rank.set_defaults(run=run_rank)

    review = commands.add_parser(
        "mislabeled", help="labeled samples the latest model confidently puts in another class",
        description="Confident learning: a label is suspect when the model gives another class "
        "at least the mean probability it gives that class's own labeled samples. Score: "
        "p(suggested) - p(label), higher = more likely wrong. The GUI's Likely mislabeled "
        "queue shows the same list.")
    review.add_argument("project")
    review.add_argument("--top", type=validators.count, default=50, metavar="K",
                        help="how many suspects to list (>= 1)")
    review.add_argument("--json", action="store_true")
    review.set_defaults(run=run_mislabeled)

    queue = commands.add_parser(
        "queue", help="list one of the window's queues, filtered and sorted as there",
        description="The queues of the labeling window, headless: " + "; ".join(
            f"{kind}: {QUEUE_TITLES[kind]}" for kind in QUEUE_KINDS)
        + ". Filters narrow any queue; a sample passes when it meets every one given.")
    queue.add_argument("project")
    queue.add_argument("--kind", default="unlabeled", choices=list(QUEUE_KINDS))
    queue.add_argument("--strategy", default="margin", choices=list(STRATEGIES),
                       help="order of the 'uncertain' queue")
    queue.add_argument("--failure-set", help="the failure set of the 'failures' queue")
    queue.add_argument("--method", default="phash", choices=["phash", "embedding", "both"],
                       help="similarity of the 'failures' queue")
    queue.add_argument("--class", dest="class_filter", metavar="CLASS",
                       help="the 'labeled' queue: only samples labeled CLASS")
    queue.add_argument("--predicted-class", metavar="CLASS",
                       help="only samples the latest model puts in CLASS")
    queue.add_argument("--min-confidence", type=validators.float_range(0.0, 1.0),
                       help="only samples the latest model gives at least this confidence")
    queue.add_argument("--max-confidence", type=validators.float_range(0.0, 1.0),
                       help="only samples the latest model gives at most this confidence")
    queue.add_argument("--labeled-by", metavar="NAME", help="only samples NAME labeled")
    queue.add_argument("--labeled-from", type=validators.calendar_day, metavar="YYYY-MM-DD",
                       help="only samples labeled on or after this day (UTC)")
    queue.add_argument("--labeled-to", type=validators.calendar_day, metavar="YYYY-MM-DD",
                       help="only samples labeled on or before this day (UTC)")
    queue.add_argument("--media", default="all", choices=list(MEDIA_FILTERS),
                       help="every item, image files only, or video frames only")
    queue.add_argument("--import-batch", type=validators.count, metavar="ID",
                       help="only samples of this import batch (see labelloop status --json)")
    queue.add_argument("--video", metavar="VIDEO",
                       help="only the frames of this video: its file name, its path as "
                            "--json rows give it, or its id")
    queue.add_argument("--sort", default="queue", choices=list(SORT_ORDERS),
                       help="; ".join(f"{k}: {v}" for k, v in SORT_ORDERS.items()))
    queue.add_argument("--top", type=validators.count, default=20, metavar="K",
                       help="how many samples to list (>= 1)")
    queue.add_argument("--seed", type=validators.seed, default=0)
    queue.add_argument("--json", action="store_true")
    queue.set_defaults(run=run_queue)


def run_rank(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace, progress_bar("scoring") as bar:
        ranked = rank_unlabeled(workspace, args.strategy, args.top, seed=args.seed, progress=bar)
        rows = with_frame_fields(workspace, [r.to_json() for r in ranked]) if args.json else []
    if args.json:
        print_json(rows)
        return 0
    reason = ranked[0].reason if ranked else None
    if isinstance(reason, ColdStartReason):
        print(f"No model yet: cold start. A diverse first batch ({reason.method} on "
              f"{reason.embedding}); {args.strategy} ranks once a model is trained. "
              "Score: distance to the nearest labeled or earlier pick (inf: first pick).")
    else:
        print(f"Strategy {args.strategy}; score: higher = more worth labeling.")
    print_table(["#", "sample", "score", "path"],
                [[i, r.sample_id, r.score, r.path] for i, r in enumerate(ranked, start=1)])
    return 0


def run_mislabeled(args: argparse.Namespace) -> int:
    from app.learning.label_review import likely_mislabeled

    with Workspace.open(args.project) as workspace:
        if workspace.latest_model() is None:
            raise WorkspaceError("no model yet: train one (labelloop train) to check labels")
        with progress_bar("scoring") as bar:
            suspects = likely_mislabeled(workspace, args.top, progress=bar)
        rows = with_frame_fields(workspace, [r.to_json() for r in suspects]) if args.json else []
    if args.json:
        print_json(rows)
        return 0
    print(f"{len(suspects)} suspect label(s); score: p(suggested) - p(label).")
    print_table(["#", "sample", "label", "suggested", "score", "path"],
                [[i, r.sample_id, r.reason.given, r.reason.suggested, r.score, r.path]
                 for i, r in enumerate(suspects, start=1)])
    return 0


def run_queue(args: argparse.Namespace) -> int:
    try:
        filters = QueueFilter(
            predicted_class=args.predicted_class, min_confidence=args.min_confidence,
            max_confidence=args.max_confidence, labeled_by=args.labeled_by,
            labeled_from=args.labeled_from, labeled_to=args.labeled_to,
            import_batch=args.import_batch, sort=args.sort)
    except ValueError as exc:
        raise WorkspaceError(str(exc)) from None
    if args.kind == "failures" and not args.failure_set:
        raise WorkspaceError("the 'failures' queue needs --failure-set NAME")
    with Workspace.open(args.project) as workspace:
        _check_names(workspace, args)
        if args.video is not None:
            filters = dataclasses.replace(filters, video=_video_id(workspace, args.video))
        spec = QueueSpec(kind=args.kind, strategy=args.strategy, failure_set=args.failure_set,
                         method=args.method, class_filter=args.class_filter, seed=args.seed,
                         filters=filters, media=args.media)
        with progress_bar("building queue") as bar:
            items = build_queue(workspace, spec, bar)
        labels = workspace.current_labels()
        shown_items = items[:args.top]
        rows = with_frame_fields(workspace, [
            {**item.to_json(), "label": labels.get(item.sample_id)} for item in shown_items
        ]) if args.json else []
    if args.json:
        print_json(rows)
        return 0
    described = filters.describe()
    print(f"{QUEUE_TITLES[args.kind]}: {len(items):,} sample(s)"
          + (f" ({described})" if described else "") + f"; showing {len(shown_items):,}.")
    print_table(["#", "sample", "score", "label", "path"],
                [[i, r.sample_id, r.score, labels.get(r.sample_id) or "", r.path]
                 for i, r in enumerate(shown_items, start=1)])
    return 0


def _check_names(workspace: Workspace, args: argparse.Namespace) -> None:
    # A misspelt class or batch would quietly give an empty queue.
    classes = workspace.classes()
    for option, name in (("--class", args.class_filter),
                         ("--predicted-class", args.predicted_class)):
        if name is not None and name not in classes:
            raise WorkspaceError(f"{option}: no class {name!r}; classes: {', '.join(classes)}")
    batches = [b.id for b in workspace.list_batches()]
    if args.import_batch is not None and args.import_batch not in batches:
        raise WorkspaceError(f"--import-batch: no import batch {args.import_batch}; batches: "
                             f"{', '.join(map(str, batches)) or 'none'}")


def _video_id(workspace: Workspace, wanted: str) -> int:
    """The media id of the video ``wanted`` names (file name, stored path or id)."""
    videos = workspace.media()
    found = [m for m in videos if wanted in (m.path, m.name, str(m.id))]
    if len(found) == 1:
        return found[0].id
    known = ", ".join(f"{m.id} ({m.path})" for m in videos) or "none"
    if not found:
        raise WorkspaceError(f"--video: no video {wanted!r}; videos: {known}")
    raise WorkspaceError(f"--video: {wanted!r} names {len(found)} videos; give its path or "
                         f"id: {known}")
