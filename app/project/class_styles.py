"""How each class looks and which key labels it: the project's choice, kept with the project.

Stored as one JSON setting keyed by class id, so a renamed class keeps its
colour and key, and the whole table is one read (the window asks on every
key press).  Classes nobody styled get no colour and the next free key (see
:func:`app.domain.class_keys.class_shortcuts`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from app.domain.errors import WorkspaceError

SETTING = "class_styles"
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class ClassStyle:
    """A class's colour (``#rrggbb`` or None) and chosen key (one character or None)."""

    colour: str | None = None
    key: str | None = None


def parse_styles(text: str | None) -> dict[int, ClassStyle]:
    """The stored table, ``{class id: ClassStyle}``; a damaged value reads as no styles."""
    try:
        raw = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    styles = {}
    for key, value in raw.items():
        if not (isinstance(key, str) and key.isdigit() and isinstance(value, dict)):
            continue
        colour, chosen = value.get("colour"), value.get("key")
        styles[int(key)] = ClassStyle(
            colour if isinstance(colour, str) and _COLOUR.fullmatch(colour) else None,
            chosen if isinstance(chosen, str) and len(chosen) == 1 else None)
    return styles


def dump_styles(styles: dict[int, ClassStyle]) -> str:
    return json.dumps({str(cid): {"colour": s.colour, "key": s.key}
                       for cid, s in sorted(styles.items()) if s != ClassStyle()},
                      sort_keys=True)


def check_colour(colour: str) -> str:
    """``#rrggbb`` in lower case; anything else is refused with the reason."""
    if not _COLOUR.fullmatch(colour.strip()):
        raise WorkspaceError(f"a class colour is written #rrggbb, not {colour!r}")
    return colour.strip().lower()
