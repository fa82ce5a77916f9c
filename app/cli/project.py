"""Project commands: ``init``, ``status``, ``classes``, ``demo``."""

from __future__ import annotations

import argparse

from app.cli.output import print_json, print_table, shown
from app.domain.class_keys import class_shortcuts
from app.project.workspace import Workspace, WorkspaceError, parse_class_names


def register(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser("init", help="create a project folder")
    init.add_argument("project", help="folder to create the project in")
    init.add_argument("--classes", required=True, help="comma-separated class names, e.g. cat,dog")
    init.add_argument("--database", metavar="URL",
                      help="keep the records on a PostgreSQL server for a team: "
                      "postgresql://USER@HOST:PORT/DB (an empty database; the password comes "
                      "from PGPASSWORD or ~/.pgpass); default: labelloop.sqlite in the folder")
    init.add_argument("--media-root", metavar="DIR",
                      help="where this desktop sees the shared image files; stored paths are "
                      "relative to it (default: the project folder)")
    init.set_defaults(run=run_init)

    config = commands.add_parser("config", help="this desktop's settings of a project")
    config.add_argument("project")
    config.add_argument("--media-root", metavar="DIR",
                        help="map the media root (stored paths are relative to it) to DIR; "
                        "'-' resets it to the project folder")
    config.add_argument("--overlap", metavar="K:F",
                        help="a project setting (shared by the team): K annotators label a "
                        "fraction F of the items independently, e.g. 2:0.1; 'off' to stop")
    config.add_argument("--json", action="store_true", help="print one JSON object")
    config.set_defaults(run=run_config)

    status = commands.add_parser("status", help="counts of samples, labels and models")
    status.add_argument("project")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(run=run_status)

    classes = commands.add_parser(
        "classes", help="list, add, rename, remove, reorder, colour or key classes")
    classes.add_argument("project")
    group = classes.add_mutually_exclusive_group()
    group.add_argument("--add", metavar="NAMES", help="comma-separated names to add")
    group.add_argument("--rename", nargs=2, metavar=("OLD", "NEW"))
    group.add_argument("--remove", metavar="NAME", help="remove a class no sample carries")
    group.add_argument("--move", nargs=2, metavar=("NAME", "POSITION"),
                       help="put a class at POSITION (1 = first)")
    group.add_argument("--colour", nargs=2, metavar=("NAME", "#RRGGBB"),
                       help="the class's colour in the window ('-' for none)")
    group.add_argument("--key", nargs=2, metavar=("NAME", "KEY"),
                       help="the key that labels the class ('-' for the next free key)")
    classes.add_argument("--json", action="store_true",
                         help="name, position, key and colour of each class")
    classes.set_defaults(run=run_classes)

    demo = commands.add_parser(
        "demo", help="build the demo project from scikit-learn's digits (no download)"
    )
    demo.add_argument("folder", help="where to build it (reused if already built)")
    demo.set_defaults(run=run_demo)


def run_init(args: argparse.Namespace) -> int:
    with Workspace.init(args.project, parse_class_names(args.classes),
                        database=args.database) as workspace:
        if args.media_root:
            workspace.set_media_root(args.media_root)
        where = "" if args.database is None else f" on {workspace.database_location}"
        print(f"created project {shown(workspace.root)}{where} with classes "
              f"{', '.join(shown(c) for c in workspace.classes())}")
    return 0


def run_config(args: argparse.Namespace) -> int:
    from app.labeling.overlap import parse_overlap, read_overlap, write_overlap

    with Workspace.open(args.project) as workspace:
        if args.media_root is not None:
            workspace.set_media_root(None if args.media_root == "-" else args.media_root)
        if args.overlap is not None:
            write_overlap(workspace, parse_overlap(args.overlap))
        overlap = read_overlap(workspace)
        settings = {"database": workspace.database_location,
                    "database_kind": workspace.database_kind,
                    "media_root": str(workspace.media_root),
                    "models": str(workspace.models_dir),
                    "overlap": None if overlap is None
                    else f"{overlap.annotators}:{overlap.fraction:g}"}
    if args.json:
        print_json(settings)
        return 0
    print_table(["setting", "value"], list(settings.items()))
    return 0


def run_status(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace:
        status = workspace.status()
    if args.json:
        print_json(status)
        return 0
    print(f"samples:   {status['samples']}")
    print(f"labeled:   {status['labeled']}")
    print(f"unlabeled: {status['unlabeled']}")
    print(f"latest model: {status['latest_model'] or 'none yet'}")
    print_table(["class", "labeled"], list(status["per_class"].items()))
    if status["per_annotator"]:
        print_table(["annotator", "labeled"], list(status["per_annotator"].items()))
    return 0


def run_classes(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace:
        if args.add:
            workspace.add_classes(parse_class_names(args.add))
        elif args.rename:
            old, new = args.rename
            workspace.rename_class(old, new.strip())
        elif args.remove:
            workspace.remove_class(args.remove)
        elif args.move:
            workspace.move_class(args.move[0], _position(args.move[1]) - 1)
        elif args.colour:
            name, colour = args.colour
            workspace.set_class_colour(name, None if colour == "-" else colour)
        elif args.key:
            name, key = args.key
            workspace.set_class_key(name, None if key == "-" else key)
        styles = workspace.class_styles()
    keys = {name: key for key, name in
            class_shortcuts(list(styles), {n: s.key for n, s in styles.items()}).items()}
    rows = [{"name": name, "position": i, "key": keys.get(name), "colour": style.colour}
            for i, (name, style) in enumerate(styles.items(), start=1)]
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        extras = [f"key {row['key']}" if row["key"] else "no key"]
        if row["colour"]:
            extras.append(row["colour"])
        print(f"{shown(row['name'])}  ({', '.join(extras)})")
    return 0


def _position(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise WorkspaceError(f"a class position is a whole number from 1, not {text!r}")
    return int(text)


def run_demo(args: argparse.Namespace) -> int:
    from app.pool.demo import build_demo

    paths = build_demo(args.folder)
    print(f"demo project: {shown(paths.project)}")
    print(f"true labels (kept aside): {shown(paths.truth_csv)}")
    print(f"simulation pool/test: {shown(paths.simulate_pool)} {shown(paths.simulate_test)}")
    return 0
