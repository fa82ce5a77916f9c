"""Team commands: ``migrate`` (a project onto PostgreSQL), ``next`` (leased items),
``annotators`` (who labeled what, how fast, agreement)."""

from __future__ import annotations

import argparse

from app.cli import validators
from app.cli.output import print_json, print_table, shown
from sampling.strategies import STRATEGIES


def register(commands: argparse._SubParsersAction) -> None:
    migrate = commands.add_parser(
        "migrate", help="move a project's records onto a PostgreSQL server",
        description="Copies every record (labels with their history, classes, failure sets, "
        "model registry, evaluations, jobs) into an EMPTY database, checks every count and "
        "the dataset version, then points the project folder at the server. The SQLite "
        "file is kept beside it, renamed.")
    migrate.add_argument("project")
    migrate.add_argument("--to", required=True, metavar="URL",
                         help="postgresql://USER@HOST:PORT/DB (empty; password from "
                         "PGPASSWORD or ~/.pgpass)")
    migrate.add_argument("--json", action="store_true")
    migrate.set_defaults(run=run_migrate)

    claim = commands.add_parser(
        "next", help="lease the next K items of the queue to an annotator",
        description="Hands this annotator the next K items of the strategy's queue that "
        "nobody else holds, and leases them (PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED; "
        "SQLite: one machine, claims run one after another). A label ends the lease; an "
        "expired lease returns the item to the pool. Calling again renews the annotator's "
        "own leases.")
    claim.add_argument("project")
    claim.add_argument("--annotator", help="who claims (default: $LABELLOOP_ANNOTATOR, "
                       "else OS user)")
    claim.add_argument("--claim", type=validators.count, required=True, metavar="K",
                       help="how many items (>= 1)")
    claim.add_argument("--lease", type=validators.float_range(0.0, low_open=True),
                       default=30.0, metavar="MINUTES",
                       help="how long the items stay reserved (fractions allowed; default 30)")
    claim.add_argument("--strategy", default="random", choices=list(STRATEGIES))
    claim.add_argument("--seed", type=validators.seed, default=0)
    claim.add_argument("--json", action="store_true", help="rows as in rank --json, plus "
                       "lease_expires_at (epoch seconds)")
    claim.set_defaults(run=run_next)

    team = commands.add_parser(
        "annotators", help="per annotator: labels, items, labels/hour, seconds per label, "
        "agreement",
        description="Agreement is measured on items two or more annotators labeled: the "
        "share of an annotator's votes another annotator matches, Cohen's kappa per pair, "
        "Fleiss' kappa overall and per class. Active time leaves out gaps over 10 minutes.")
    team.add_argument("project")
    team.add_argument("--role", action="append", default=[], metavar="NAME=ROLE",
                      help="give NAME the role annotator or reviewer (repeatable). Once any "
                      "role is set, unnamed people are annotators: they label unlabeled "
                      "items, their own and items leased to them; reviewers relabel anything "
                      "and settle disagreements")
    team.add_argument("--json", action="store_true")
    team.set_defaults(run=run_annotators)


def run_migrate(args: argparse.Namespace) -> int:
    from app.project.move_to_server import move_to_server

    report = move_to_server(args.project, args.to)
    if args.json:
        print_json({"target": report.target, "rows": report.rows,
                    "dataset_version": report.dataset_version, "backup": str(report.backup)})
        return 0
    print(f"moved to {report.target}; dataset version {report.dataset_version} on both sides; "
          f"the SQLite file is kept as {shown(report.backup)}")
    print_table(["table", "rows"], sorted(report.rows.items()))
    return 0


def run_next(args: argparse.Namespace) -> int:
    from app.domain.annotator import resolve_annotator
    from app.labeling.claims import claim_next
    from app.pool.frame_rows import with_frame_fields
    from app.project.workspace import Workspace

    annotator = resolve_annotator(args.annotator)
    with Workspace.open(args.project) as workspace:
        items = claim_next(workspace, annotator, args.claim, lease_minutes=args.lease,
                           strategy=args.strategy, seed=args.seed)
        # Frames name their video, index and time, as in every other --json row.
        rows = with_frame_fields(workspace, [item.to_json() for item in items]) \
            if args.json else []
    if args.json:
        print_json(rows)
        return 0
    print(f"{len(items)} item(s) leased to {annotator} for {args.lease:g} min.")
    print_table(["#", "sample", "score", "path"],
                [[i, c.ranked.sample_id, c.ranked.score, c.ranked.path]
                 for i, c in enumerate(items, start=1)])
    return 0


def run_annotators(args: argparse.Namespace) -> int:
    from app.labeling.roles import read_roles, set_role
    from app.labeling.team_report import team_report
    from app.project.workspace import Workspace, WorkspaceError

    with Workspace.open(args.project) as workspace:
        for assignment in args.role:
            name, _, role = assignment.partition("=")
            if not name.strip() or not role:
                raise WorkspaceError(f"--role {assignment!r}: expected NAME=annotator or "
                                     "NAME=reviewer")
            set_role(workspace, name.strip(), role.strip())
        report = team_report(workspace)
        roles = read_roles(workspace)
    if args.json:
        print_json({**report.to_json(), "roles": roles})
        return 0
    if roles:
        print("roles: " + ", ".join(f"{n}={r}" for n, r in sorted(roles.items())))
    print_table(["annotator", "labels", "items", "labels/h", "median s", "shared",
                 "agreement"],
                [[a.name, a.labels, a.items, a.labels_per_hour, a.median_seconds_per_label,
                  a.shared_items, a.agreement] for a in report.annotators])
    print(f"items labeled by 2+ annotators: {report.overlap_items}; "
          f"Fleiss' kappa: {report.fleiss_kappa}")
    if report.overlap_items:
        print_table(["class", "Fleiss' kappa"], list(report.fleiss_kappa_per_class.items()))
    return 0
