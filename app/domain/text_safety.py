"""Characters in untrusted text (class names, file names, CSV cells) that must not reach a terminal raw.

A class name read from a CSV, or a file name on disk, can hold ``ESC [`` and
friends (terminal escape sequences that repaint or retitle a terminal), line
breaks that forge extra output lines, or bidirectional overrides that make
text read differently from what it is. :func:`escape_controls` turns each
into a visible ``\\x1b`` / ``\\n`` / ``\\u202e`` escape; :func:`unsafe_characters`
lists them so that names can be refused where they enter.
"""

from __future__ import annotations

import unicodedata

# Bidirectional embeddings, overrides and isolates ("Trojan Source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters, line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def is_unsafe_character(char: str) -> bool:
    """True for a control character, a line/paragraph separator or a bidi control."""
    return char in _BIDI_CONTROLS or unicodedata.category(char) in _UNSAFE_CATEGORIES


def unsafe_characters(text: str) -> list[str]:
    """The distinct unsafe characters of ``text``, in order of first appearance."""
    found: dict[str, None] = {}
    for char in text:
        if is_unsafe_character(char):
            found.setdefault(char)
    return list(found)


def escape_character(char: str) -> str:
    """``'\\x1b'`` -> ``'\\\\x1b'``: a visible, unambiguous spelling of one character."""
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with every unsafe character written as an escape, the rest unchanged.

    Backslashes are doubled only when the text holds something to escape, so
    ordinary Windows paths print as they are while an escaped name can never
    be mistaken for a clean one.
    """
    # Every unsafe character is one str.isprintable refuses (categories Cc,
    # Zl, Zp; the bidi controls are Cf): one C call clears the common case,
    # which matters where a name is printed per file (``labelloop hash``).
    if text.isprintable():
        return text
    if not any(is_unsafe_character(char) for char in text):
        return text
    return "".join(
        escape_character(char) if char == "\\" or is_unsafe_character(char) else char
        for char in text
    )
