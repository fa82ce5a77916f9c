"""Turning class names and file names into folder names that are safe everywhere.

A class name is user text; as a folder name it must not climb out of the
export (``..``, separators), nor be illegal on Windows (``<>:"|?*``, control
characters, trailing dots or spaces, reserved device names like ``CON``),
nor longer than file systems allow: most cap a component at 255 *bytes*
(ext4, APFS) or UTF-16 units (NTFS), so a name of 100 emoji (400 bytes in
UTF-8) must be cut by bytes, not by characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Byte budget for a component built from user text. It leaves room under the
#: 255-byte limit for what the exporter adds around it: a ``000123_`` id
#: prefix, a ``-NN`` collision counter and a suffix such as ``.jpeg``.
MAX_COMPONENT_BYTES = 200

_ILLEGAL = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_WINDOWS_RESERVED = {
    "CON", "PRN", "AUX", "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}


def cut_to_bytes(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits in ``max_bytes``.

    The cut falls between characters, never inside one.
    """
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def safe_component(name: str, max_bytes: int = MAX_COMPONENT_BYTES) -> str:
    """One path component derived from ``name`` that cannot be a path trick.

    At most ``max_bytes`` bytes in UTF-8 (and so at most as many UTF-16
    units, which is NTFS's measure).
    """
    safe = _ILLEGAL.sub("_", name).replace("..", "__")
    safe = cut_to_bytes(safe, max_bytes - 1).rstrip(" .")
    if not safe or safe in {".", ".."}:
        safe = "_"
    if safe.split(".")[0].upper() in _WINDOWS_RESERVED:
        safe = "_" + safe
    return safe


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
