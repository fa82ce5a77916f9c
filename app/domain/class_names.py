"""The one rule for what a class name may be, applied wherever a name enters.

Class names reach the terminal (``classes``, ``status``, tables), folder names
in exports and the window's buttons, so a name must be non-empty, free of
control characters (see :mod:`app.domain.text_safety`) and of a length a person can
read. Callers turn the reason into their own error type.
"""

from __future__ import annotations

from app.domain.text_safety import escape_character, unsafe_characters

#: Longest accepted class name, in characters.
MAX_CLASS_NAME_LENGTH = 100


def class_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a class name, or ``None`` when it can.

    Parameters
    ----------
    name : str
        The name as it will be stored (callers strip surrounding spaces first).

    Returns
    -------
    str or None
        A short reason such as ``"contains control characters (\\x1b)"``.
    """
    if not name.strip():
        return "is empty"
    if name != name.strip():
        return "starts or ends with white space"
    bad = unsafe_characters(name)
    if bad:
        return f"contains control characters ({' '.join(escape_character(c) for c in bad)})"
    if len(name) > MAX_CLASS_NAME_LENGTH:
        return f"is {len(name)} characters long (at most {MAX_CLASS_NAME_LENGTH})"
    return None
