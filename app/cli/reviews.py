"""``review``: a reviewer accepts or rejects labels, or lists those awaiting review."""

from __future__ import annotations

import argparse

from app.cli.output import print_json, print_table, shown
from app.domain.annotator import resolve_annotator
from app.labeling.reviews import judge, to_review
from app.project.workspace import Workspace, WorkspaceError


def register(commands: argparse._SubParsersAction) -> None:
    review = commands.add_parser(
        "review", help="accept or reject labels (reviewers), or list those not reviewed",
        description="With --accept or --reject, judges the current label of each SAMPLE (id "
        "or file name): an accepted label stands and leaves the review list; a rejected one "
        "sends the item back to the labeling queues and stays in the history with the "
        "verdict. Without either, lists the labels no reviewer has judged, oldest first. "
        "Once a project has roles only reviewers judge (annotators --role NAME=reviewer).")
    review.add_argument("project")
    review.add_argument("samples", nargs="*", metavar="SAMPLE")
    verdict = review.add_mutually_exclusive_group()
    verdict.add_argument("--accept", dest="verdict", action="store_const", const="accepted")
    verdict.add_argument("--reject", dest="verdict", action="store_const", const="rejected")
    review.add_argument("--note", help="why (stored with the verdict)")
    review.add_argument("--reviewer", help="who judges (default: $LABELLOOP_ANNOTATOR, "
                        "else OS user)")
    review.add_argument("--by", metavar="ANNOTATOR",
                        help="list only labels this annotator gave")
    review.add_argument("--json", action="store_true")
    review.set_defaults(run=run_review)


def run_review(args: argparse.Namespace) -> int:
    if args.verdict is None:
        if args.samples or args.note:
            raise WorkspaceError("give --accept or --reject to judge samples")
        return _list(args)
    if not args.samples:
        raise WorkspaceError(f"name the samples to {args.verdict[:-2]}")
    reviewer = resolve_annotator(args.reviewer)
    with Workspace.open(args.project) as workspace:
        samples = [workspace.find_sample(text) for text in args.samples]
        verdicts = judge(workspace, [s.id for s in samples], reviewer, args.verdict, args.note)
    paths = {s.id: s.path for s in samples}
    if args.json:
        print_json({"reviewer": reviewer, "verdicts": [
            {"sample_id": v.sample_id, "path": paths[v.sample_id], "verdict": v.verdict,
             "review_id": v.review_id} for v in verdicts]})
        return 0
    for v in verdicts:
        back = " (back to the queue)" if v.verdict == "rejected" else ""
        print(f"sample {v.sample_id} ({shown(paths[v.sample_id])}): {v.verdict}{back}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace:
        items = to_review(workspace, annotator=args.by)
    rows = [{"sample_id": item.sample_id, "path": item.path, **item.reason.json_fields()}
            for item in items]
    if args.json:
        print_json({"to_review": rows})
        return 0
    if not rows:
        print("no label awaits review")
        return 0
    print_table(["sample", "label", "labeled by", "path"],
                [[r["sample_id"], shown(r["label"]), shown(r["labeled_by"]), shown(r["path"])]
                 for r in rows])
    return 0
