"""Paths read from the database or a manifest must stay inside their folder.

The database is a plain file: anyone who can write it can put
``../victim.txt`` or ``/etc/passwd`` where a checkpoint path belongs.  Before
Labelloop reads or deletes a file a stored path names, the path is resolved
(``..`` and symbolic links followed) and must land inside the folder it
belongs to: ``models/`` for checkpoints, ``failures/`` for copied failure
images, the export folder for files its manifest lists.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.domain.errors import WorkspaceError


class OutsideFolderError(WorkspaceError):
    """A stored path that resolves outside the folder it must stay in."""


def confined_path(folder: Path, stored: str | os.PathLike[str], what: str) -> Path:
    """The file ``stored`` names, checked to lie inside ``folder``.

    Parameters
    ----------
    folder : Path
        The folder the file must be in (e.g. ``PROJECT/models``).
    stored : str or path
        The file, already joined to the folder it was recorded relative to
        (e.g. :meth:`app.project.workspace.Workspace.resolve` of a stored path).
    what : str
        What the path is, for the message (``"model version 3's checkpoint"``).

    Returns
    -------
    Path
        The path, not resolved (so a caller deleting it removes the link it
        names, never a link's target), after the resolved form was checked.

    Raises
    ------
    OutsideFolderError
        The resolved path is not strictly inside ``folder``.
    """
    path = Path(stored)
    resolved = path.resolve()
    base = folder.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise OutsideFolderError(
            f"{what} {os.fspath(stored)!r} resolves to {resolved}, outside {base}; "
            "refusing to touch it (the database or manifest was altered)"
        )
    return path
