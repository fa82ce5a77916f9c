"""Every key of the labeling window, in one table.

The keyboard router dispatches through this table, the shortcut overlay
(``?`` or F1) lists it, and the README's keyboard table is generated from it
(``python -m app.gui.key_bindings``; a test checks the README is current), so
the three can never disagree.  The overlay and the README also list the menus'
keys (:func:`app.gui.actions.menu_shortcuts`), which Qt's actions handle.

Class keys are not in the table: they depend on the project's classes (see
:func:`app.domain.class_keys.class_shortcuts`).  No key here may be one a class
can get; a test checks that against ``CLASS_KEYS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QKeySequence

CLASS_KEYS_ROW = ("1 … 9, 0, then letters", "Label the sample with that class and move on "
                  "(classes named 0 … 9 keep their digit)")


@dataclass(frozen=True)
class KeyBinding:
    """One action and the keys that trigger it.

    ``keys`` are key names as :func:`key_name` gives them: the typed
    character for unmodified punctuation (``"+"``, ``"?"``), the upper-case
    letter or digit (``"S"``), else Qt's portable text (``"Ctrl+Z"``,
    ``"Right"``).  ``repeats``: whether a held key acts again; a label, an
    undo or a skip must each be one deliberate press.
    """

    action: str
    keys: tuple[str, ...]
    description: str
    group: str
    repeats: bool = False


BINDINGS: tuple[KeyBinding, ...] = (
    KeyBinding("undo", ("Backspace", "Ctrl+Z"),
               "Undo the last label (writes an undo row; history stays)", "Label"),
    KeyBinding("skip", ("S",), "Skip this sample", "Label"),
    KeyBinding("mark_failure", ("F",),
               "Put the sample into the failure set chosen in Label ▸ Choose failure set",
               "Label"),
    KeyBinding("accept_suggestion", ("Return", "Enter"),
               "Accept the model's suggestion (suggestion mode, Ctrl+G)", "Label"),
    KeyBinding("select_all", ("Ctrl+A",),
               "Select every sample of the queue in the grid; a class key then labels "
               "them all (one undo takes the batch back; Ctrl/Shift-click selects some)",
               "Label"),
    KeyBinding("clear_selection", ("Esc",), "Select none", "Label"),
    KeyBinding("review_accept", ("Ctrl+Return", "Ctrl+Enter"),
               "Accept the label of the sample (or of the selection) and move on (reviewers; "
               "queue To review)", "Review"),
    KeyBinding("review_reject", ("Ctrl+Backspace",),
               "Reject the label: the sample goes back to the labeling queues, the label "
               "stays in its history (reviewers)", "Review"),
    KeyBinding("right", ("Right",), "Next sample; pans right when zoomed in", "Move",
               repeats=True),
    KeyBinding("down", ("Down",), "Next sample; pans down when zoomed in", "Move",
               repeats=True),
    KeyBinding("left", ("Left",), "Previous sample; pans left when zoomed in", "Move",
               repeats=True),
    KeyBinding("up", ("Up",), "Previous sample; pans up when zoomed in", "Move", repeats=True),
    KeyBinding("previous_frame", ("[",),
               "Previous kept frame of the same video (video frames)", "Move", repeats=True),
    KeyBinding("next_frame", ("]",), "Next kept frame of the same video (video frames)",
               "Move", repeats=True),
    KeyBinding("zoom_in", ("+", "="), "Zoom in (also the mouse wheel; drag to pan)", "View",
               repeats=True),
    KeyBinding("zoom_out", ("-",), "Zoom out", "View", repeats=True),
    KeyBinding("fit", ("Ctrl+0",), "Fit the image to the window", "View"),
    KeyBinding("actual_pixels", ("Ctrl+1",), "Actual pixels (1:1)", "View"),
    KeyBinding("darker", ("{",), "Darker", "View", repeats=True),
    KeyBinding("brighter", ("}",), "Brighter", "View", repeats=True),
    KeyBinding("less_contrast", (";",), "Less contrast", "View", repeats=True),
    KeyBinding("more_contrast", ("'",), "More contrast", "View", repeats=True),
    KeyBinding("invert", ("~",), "Invert the image (dark frames)", "View"),
    KeyBinding("reset_view", ("Ctrl+R",),
               "Reset the view: fit, normal brightness and contrast, not inverted", "View"),
    KeyBinding("show_keys", ("?", "F1"), "Show every key and what it does", "Help"),
)

_BY_KEY = {key: binding for binding in BINDINGS for key in binding.keys}
_NO_MODIFIER = (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)


def key_name(event: QKeyEvent) -> str:
    """The name of the pressed key, in the form :class:`KeyBinding` uses.

    Typed characters are named by what they type, so ``?`` and ``+`` work on
    any keyboard layout whatever Shift it takes to type them; a letter with
    or without Shift is the same key (``"S"``).
    """
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    text = event.text()
    if modifiers in _NO_MODIFIER and len(text) == 1 and text.isprintable() and text != " ":
        return text.upper() if text.isalnum() else text
    combination = event.keyCombination().key().value | modifiers.value
    return QKeySequence(combination).toString(QKeySequence.SequenceFormat.PortableText)


def binding_for(event: QKeyEvent) -> KeyBinding | None:
    """The binding the event triggers, or None (a class key, or not ours)."""
    return _BY_KEY.get(key_name(event))


def keyboard_markdown() -> str:
    """The README's keyboard table, generated from :data:`BINDINGS` and the menus' keys."""
    from app.gui.actions import menu_shortcuts  # the menus import nothing from here

    lines = ["| key | does |", "|---|---|",
             f"| {CLASS_KEYS_ROW[0]} | {CLASS_KEYS_ROW[1]} |"]
    for binding in BINDINGS:
        keys = " or ".join(f"`{_markdown_key(key)}`" for key in binding.keys)
        lines.append(f"| {keys} | {binding.description} |")
    for key, where in menu_shortcuts():
        lines.append(f"| `{_markdown_key(key)}` | {where} |")
    return "\n".join(lines) + "\n"


def _markdown_key(key: str) -> str:
    return key.replace("|", "\\|")


if __name__ == "__main__":
    print(keyboard_markdown(), end="")
