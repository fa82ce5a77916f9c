"""The one timestamp format of Labelloop."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> str:
    """ISO-8601 UTC timestamp with microseconds, sortable as text."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")
