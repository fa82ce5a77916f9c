"""``labelloop gui``: the labeling workbench window."""

from __future__ import annotations

import argparse
import os
import sys

from app.domain.annotator import ANNOTATOR_ENV


def register(commands: argparse._SubParsersAction) -> None:
    gui = commands.add_parser("gui", help="open the labeling workbench window")
    gui.add_argument("project", nargs="?", help="project folder (default: the last one opened)")
    gui.add_argument("--annotator", help="name stored on labels (default: $LABELLOOP_ANNOTATOR)")
    gui.set_defaults(run=run_gui_command)


def _has_display() -> bool:
    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_gui_command(args: argparse.Namespace) -> int:
    if not _has_display():
        # Qt would abort with a cryptic plugin error; say what is wrong instead.
        print("labelloop: no display found (DISPLAY/WAYLAND_DISPLAY unset). Run it on a "
              "desktop, or under a virtual screen: xvfb-run labelloop gui PROJECT",
              file=sys.stderr)
        if args.project:
            from app.cli.project import run_status

            run_status(argparse.Namespace(project=args.project, json=False))
        return 1
    from app.gui.application import run_gui

    # --annotator or $LABELLOOP_ANNOTATOR win; else the name chosen in the
    # window's Settings, else the OS user (resolved by the window).
    explicit = args.annotator or os.environ.get(ANNOTATOR_ENV)
    return run_gui(args.project, explicit.strip() if explicit and explicit.strip() else None)
