"""What every label reader returns: one entry per labeled file, with its history.

A reader turns a file of some format into :class:`LabelEntry` objects and
nothing more; matching them to items, checking class names and writing
annotations is :mod:`app.pool.label_import`'s job, the same for every format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LabelVote:
    """An earlier annotation of the same file, kept as history."""

    label: str
    annotator: str | None = None


@dataclass(frozen=True)
class LabelEntry:
    """One file's label as the source gives it.

    Attributes
    ----------
    file : str
        The file as the source names it (shown in reports, matched by path).
    label : str
        The class; empty when the source gives none (reported, not applied).
    annotator : str or None
        Who gave it; None: the importing user.
    sha256 : str or None
        The image's digest when the source records it: matched before the path.
    local_file : Path or None
        The image itself when it lies beside the label file (an export's own
        copy): matched by its content before the path.
    history : tuple of LabelVote
        Earlier annotations of the file, oldest first (Label Studio tasks
        annotated several times); written before ``label``.
    url_path : bool
        ``file`` is the path of a URL, whose leading parts may be the
        server's (``https://host/data/images/a.png``): when the whole path
        matches nothing, shorter trailing parts are tried.
    """

    file: str
    label: str
    annotator: str | None = None
    sha256: str | None = None
    local_file: Path | None = None
    history: tuple[LabelVote, ...] = ()
    url_path: bool = False


@dataclass
class LabelSource:
    """A parsed label file: its format, its entries and what the format counted.

    ``counts`` holds format-specific figures for the summary (Label Studio:
    tasks, cancelled annotations, predictions ignored, ...); ``problems``
    lists entries that could not become a label (several choices ticked, an
    index outside the class list) with the reason.
    """

    format: str
    entries: list[LabelEntry] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n
