"""Overlap for quality: k annotators label a fraction f of the items independently.

The setting lives in the project's database (every member sees it):
``{"annotators": k, "fraction": f}``.  Which items belong to the overlap
set is decided by each item's sha256 (its first 64 bits as a fraction of
2**64 below f), so every desktop agrees without a list and an item keeps
its membership forever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.domain.errors import WorkspaceError
from app.domain.records import Sample
from app.project.workspace import Workspace

OVERLAP_SETTING = "overlap"


@dataclass(frozen=True)
class Overlap:
    annotators: int
    fraction: float

    def includes(self, sample: Sample) -> bool:
        return int(sample.sha256[:16], 16) / 2.0**64 < self.fraction


def parse_overlap(text: str) -> Overlap | None:
    """``"K:F"`` (e.g. ``"2:0.1"``) or ``"off"``."""
    if text.strip().lower() == "off":
        return None
    try:
        k_text, f_text = text.split(":")
        overlap = Overlap(int(k_text), float(f_text))
    except ValueError:
        raise WorkspaceError(f"overlap {text!r}: expected K:F, e.g. 2:0.1, or off") from None
    if overlap.annotators < 2 or not 0.0 < overlap.fraction <= 1.0:
        raise WorkspaceError(f"overlap {text!r}: K must be >= 2 and 0 < F <= 1")
    return overlap


def read_overlap(workspace: Workspace) -> Overlap | None:
    value = workspace.setting(OVERLAP_SETTING)
    if not value:
        return None
    stored = json.loads(value)
    return Overlap(int(stored["annotators"]), float(stored["fraction"]))


def write_overlap(workspace: Workspace, overlap: Overlap | None) -> None:
    workspace.set_setting(OVERLAP_SETTING, "" if overlap is None else json.dumps(
        {"annotators": overlap.annotators, "fraction": overlap.fraction}))
