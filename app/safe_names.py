"""Turning class names and file names into folder names that are safe everywhere.

A class name is user text; as a folder name it must not climb out of the
export (``..``, separators), nor be illegal on Windows (``<>:"|?*``, control
characters, trailing dots or spaces, reserved device names like ``CON``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_ILLEGAL = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_WINDOWS_RESERVED = {
    "CON", "PRN", "AUX", "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}


def safe_component(name: str) -> str:
    """One path component derived from ``name`` that cannot be a path trick."""
    safe = _ILLEGAL.sub("_", name).replace("..", "__").rstrip(" .")
    if not safe or safe in {".", ".."}:
        safe = "_"
    if safe.split(".")[0].upper() in _WINDOWS_RESERVED:
        safe = "_" + safe
    return safe[:120]


def safe_folder_names(names: Iterable[str]) -> dict[str, str]:
    """Map each name to a distinct safe folder name (case-insensitively distinct).

    Names that collide after cleaning get ``-2``, ``-3``... so two classes
    never share a folder, even on a case-insensitive file system.
    """
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = safe_component(name)
        candidate, counter = base, 1
        while candidate.lower() in taken:
            counter += 1
            candidate = f"{base}-{counter}"
        taken.add(candidate.lower())
        mapping[name] = candidate
    return mapping
