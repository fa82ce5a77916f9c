"""``labelloop import PROJECT DIR --with-labels``: images and their classes in one step.

``DIR`` is an ImageFolder tree (``DIR/CLASS/image.png``, any depth below
the class folder), or an export folder whose images lie beside its label
file (a Hugging Face ``imagefolder`` export's ``train/`` with
``metadata.jsonl``, COCO, FiftyOne, Label Studio, CSV): the images are
imported as any folder is, then each is labeled with its class (the class
folder's name, or the label file's), matched by content, so a file that was
already in the pool (a duplicate) is labeled too.  Reading the folder as
``import-labels`` does keeps a split folder such as ``train`` from being
taken for a class.  Unknown class names
are handled as ``import-labels`` handles them: an error before anything is
imported, unless ``add_classes``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from app.domain.class_names import class_name_problem
from app.pool.importer import ImportReport, import_images
from app.pool.label_formats import read_label_file
from app.pool.label_import import LabelImportReport, apply_labels
from app.project.workspace import Workspace, WorkspaceError


def import_labeled_folder(
    workspace: Workspace,
    folder: str | os.PathLike[str],
    annotator: str,
    *,
    add_classes: bool = False,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_bytes: int | None = None,
) -> tuple[ImportReport, LabelImportReport]:
    """Import the images under ``folder`` and label them by class folder.

    Parameters
    ----------
    workspace : Workspace
        The open project.
    folder : path
        The ImageFolder tree.
    annotator : str
        Stored on the labels.
    add_classes : bool
        Create classes for folder names the project lacks.
    workers, progress, max_bytes
        As for :func:`app.pool.importer.import_images`.

    Returns
    -------
    (ImportReport, LabelImportReport)
    """
    root = Path(folder)
    if not root.is_dir():
        raise WorkspaceError(f"{folder}: --with-labels needs a folder of class folders")
    source = read_label_file(root, max_bytes)
    known = set(workspace.classes())
    unknown = sorted({e.label for e in source.entries
                      if e.label not in known and class_name_problem(e.label) is None})
    if unknown and not add_classes:
        raise WorkspaceError(
            f"{folder}: unknown classes {', '.join(repr(u) for u in unknown)}; "
            "add them with --add-classes or rename the folders")
    imported = import_images(workspace, [root], workers=workers, progress=progress,
                             max_bytes=max_bytes)
    labels = apply_labels(workspace, source, annotator, add_classes=add_classes,
                          where=str(folder))
    return imported, labels
