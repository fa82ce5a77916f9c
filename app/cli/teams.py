"""Team commands: ``migrate`` (a project onto PostgreSQL)."""

from __future__ import annotations

import argparse

from app.cli.output import print_json, print_table, shown


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
