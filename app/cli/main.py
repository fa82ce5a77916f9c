"""Parser assembly and error handling for ``labelloop``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from app.cli.errors import CommandError, describe_os_error
from app.cli.validators import OneLineParser
from app.domain.text_safety import escape_controls

# Each module adds its sub-commands; keeping them apart keeps files short.
# They are imported when the parser is built, so that a command can import
# only its own module (see LIGHT_COMMANDS).
COMMAND_MODULES = (
    "project", "pool", "training", "pretrain", "registry", "ranking", "simulate",
    "targeted", "monitor", "settings", "teams", "reviews", "gui", "hash_command",
)
# Commands run with only their own module imported: `hash` is started on
# folders of small files, where importing every command (the store, torch)
# would cost more than the hashing. A test checks each is registered there.
# This module itself imports nothing heavy at the top for the same reason.
LIGHT_COMMANDS = {"hash": "hash_command"}
# The errors a command raises for what it foresees, by module: looked up in
# sys.modules, because an exception of a class whose module was never
# imported cannot have been raised, and importing them (the store) would
# cost a light command a quarter of a second.
_FORESEEN_ERRORS = (("app.project.workspace", "WorkspaceError"),
                    ("app.store.errors", "StoreError"))


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
    except Exception as exc:
        if isinstance(exc, (CommandError, *_foreseen_errors())):
            return _fail(str(exc))
        if isinstance(exc, BrokenPipeError):
            return _reader_left()
        if isinstance(exc, OSError):
            # A full disk, a read-only folder, a path under /proc: the file and
            # the reason, not a traceback.
            return _fail(describe_os_error(exc))
        raise
    except KeyboardInterrupt:
        print("labelloop: interrupted", file=sys.stderr)
        return 130


def _foreseen_errors() -> tuple[type[Exception], ...]:
    return tuple(getattr(sys.modules[module], name) for module, name in _FORESEEN_ERRORS
                 if module in sys.modules)


def _reader_left() -> int:
    # `labelloop ... | head`: the reader left; that is not an error of ours.
    # Point stdout at devnull so the interpreter's final flush stays quiet
    # (the recipe in Python's signal module documentation).
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _fail(message: str) -> int:
    # One line, whatever the message carries (paths with newlines, tails of logs).
    # Control characters from untrusted names are escaped, not sent to the terminal.
    line = escape_controls(" ".join(message.split()))
    print(f"labelloop: error: {line}", file=sys.stderr)
    return 1
