"""Parser assembly and error handling for ``labelloop``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from app.cli.errors import describe_os_error
from app.cli.output import shown
from app.cli.validators import OneLineParser
from app.project.workspace import WorkspaceError
from app.store.errors import StoreError

# Each module adds its sub-commands; keeping them apart keeps files short.
# They are imported when the parser is built, so that a command can import
# only its own module (see LIGHT_COMMANDS).
COMMAND_MODULES = (
    "project", "pool", "training", "pretrain", "registry", "ranking", "simulate", "targeted",
    "monitor", "settings", "teams", "gui",
)
# Commands run with only their own module imported: `hash` is started on
# folders of small files, where importing every command (torch among them)
# would cost more than the hashing. A test checks each is registered there.
LIGHT_COMMANDS = {"hash": "targeted"}


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    # Subparsers inherit the class: every usage error is one line.
    parser = OneLineParser(
        prog="labelloop",
        description="Local-first active-learning labeling loop for images.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in modules:
        importlib.import_module(f"app.cli.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    light = LIGHT_COMMANDS.get(args_list[0]) if args_list else None
    parser = build_parser((light,) if light else COMMAND_MODULES)
    argv = args_list
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (WorkspaceError, StoreError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("labelloop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `labelloop ... | head`: the reader left; that is not an error of ours.
        # Point stdout at devnull so the interpreter's final flush stays quiet
        # (the recipe in Python's signal module documentation).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        # A full disk, a read-only folder, a path under /proc: the file and
        # the reason, not a traceback.
        return _fail(describe_os_error(exc))


def _fail(message: str) -> int:
    # One line, whatever the message carries (paths with newlines, tails of logs).
    # Control characters from untrusted names are escaped, not sent to the terminal.
    line = shown(" ".join(message.split()))
    print(f"labelloop: error: {line}", file=sys.stderr)
    return 1
