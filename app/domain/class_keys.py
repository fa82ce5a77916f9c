"""Which key labels which class.

Digits first (1..9 then 0), then letters.  S, F and Z are taken by skip,
failure and undo (Ctrl+Z), so no class gets them; a test checks that no key
of the window's key table is one a class can get.
"""

from __future__ import annotations

from collections.abc import Mapping

_RESERVED_LETTERS = frozenset("sfz")
CLASS_KEYS: tuple[str, ...] = (
    *"123456789", "0", *(c for c in "abcdeghijklmnopqrtuvwxy" if c not in _RESERVED_LETTERS)
)


def class_shortcuts(classes: list[str], chosen: Mapping[str, str | None] | None = None
                    ) -> dict[str, str]:
    """``{key: class name}``; classes beyond the keys there are get no key.

    In this order: a key the project chose for a class (see
    :meth:`Workspace.set_class_key`); a class named by a usable key keeps
    its own name (digits "0".."9": pressing 3 labels "3"); every other class
    gets the next free key in order (1..9, 0, then letters).  So adding a
    class never moves the key of one already there.
    """
    keys: dict[str, str] = {}
    for name, key in (chosen or {}).items():
        if key and name in classes and key.lower() in CLASS_KEYS and key.lower() not in keys:
            keys[key.lower()] = name
    placed = set(keys.values())
    for name in classes:
        own = name.lower()
        if name not in placed and own in CLASS_KEYS and own not in keys:
            keys[own] = name
            placed.add(name)
    free = (key for key in CLASS_KEYS if key not in keys)
    for name in classes:
        if name not in placed:
            key = next(free, None)
            if key is None:
                break
            keys[key] = name
    # In class order, as the buttons and the help list them.
    order = {name: i for i, name in enumerate(classes)}
    return dict(sorted(keys.items(), key=lambda item: order[item[1]]))
