"""Who is labeling: the name stored on every annotation and model version."""

from __future__ import annotations

import getpass
import os

ANNOTATOR_ENV = "LABELLOOP_ANNOTATOR"


def resolve_annotator(explicit: str | None = None) -> str:
    """Return ``explicit``, else ``$LABELLOOP_ANNOTATOR``, else the OS user name."""
    for candidate in (explicit, os.environ.get(ANNOTATOR_ENV)):
        if candidate and candidate.strip():
            return candidate.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # No passwd entry (some containers): still record something honest.
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
