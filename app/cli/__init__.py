"""The ``labelloop`` command line: every capability of the app, headless."""

from app.cli.main import main

__all__ = ["main"]
