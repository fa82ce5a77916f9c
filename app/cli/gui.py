"""``labelloop gui``: the labeling workbench window."""

from __future__ import annotations

import argparse

from app.annotator import resolve_annotator


def register(commands: argparse._SubParsersAction) -> None:
    gui = commands.add_parser("gui", help="open the labeling workbench window")
    gui.add_argument("project", nargs="?", help="project folder (default: the last one opened)")
    gui.add_argument("--annotator", help="name stored on labels (default: $LABELLOOP_ANNOTATOR)")
    gui.set_defaults(run=run_gui_command)


def run_gui_command(args: argparse.Namespace) -> int:
    from app.gui.application import run_gui

    return run_gui(args.project, resolve_annotator(args.annotator))
