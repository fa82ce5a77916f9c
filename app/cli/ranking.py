"""``labelloop rank``: the unlabeled pool in an active-learning strategy's order;
``labelloop mislabeled``: the labeled samples the latest model contradicts."""

from __future__ import annotations

import argparse

from app.cli import validators
from app.cli.output import print_json, print_table, progress_bar
from app.learning.pick_reasons import ColdStartReason
from app.learning.ranking import rank_unlabeled
from app.pool.frame_rows import with_frame_fields
from app.project.workspace import Workspace, WorkspaceError
from sampling.strategies import STRATEGIES


def register(commands: argparse._SubParsersAction) -> None:
    rank = commands.add_parser(
        "rank", help="rank unlabeled samples by a strategy (scores with the latest model)",
        description="Score: higher = more worth labeling. Before any model exists, every "
        "strategy but random gives the cold-start batch (k-center on downscaled pixels + PCA; "
        "score = distance to the nearest labeled or earlier pick). Strategies: " + "; ".join(
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
