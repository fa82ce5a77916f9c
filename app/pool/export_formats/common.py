"""What every export format shares: the context a writer works in and its items.

:mod:`app.pool.exporter` owns the transaction (target checks, the staging
folder, the manifest, the atomic swap).  A format writer only decides where
each image goes inside the export (if it copies images at all) and which
label files it writes; every path it names goes through
:meth:`ExportContext.inside`, so no format can write outside the export.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from app.domain.records import Annotation, Item
from app.files.safe_names import safe_component
from app.project.workspace import Workspace, WorkspaceError

# torchvision's ImageFolder does not list GIFs; those samples are written as PNG.
CONVERT_TO_PNG = {".gif"}


class ExportError(WorkspaceError):
    """An export that cannot be written as asked."""


@dataclass(frozen=True)
class ExportOptions:
    """Choices that only some formats read.

    Attributes
    ----------
    image_url_prefix : str or None
        Label Studio: what ``data.image`` starts with. None gives Label
        Studio's local-files URL (``/data/local-files/?d=``); an empty string
        gives the plain file path.
    image_root : str or None
        Label Studio: the folder image paths are written relative to (Label
        Studio's ``LOCAL_FILES_DOCUMENT_ROOT``); None means the file system root.
    predictions : mapping, optional
        Label Studio: ``{item id: (class, score, model version name)}`` put
        on unlabeled items as predictions (the caller reads them from the
        latest model's scores; the pool layer cannot).
    hf_metadata : str
        ``hf``: ``"jsonl"`` (``metadata.jsonl``, labels read as strings) or
        ``"parquet"`` (``metadata.parquet`` whose schema makes labels a
        ``ClassLabel``).
    """

    image_url_prefix: str | None = None
    image_root: str | None = None
    predictions: Mapping[int, tuple[str, float, str]] | None = None
    hf_metadata: str = "jsonl"


@dataclass(frozen=True)
class ExportedItem:
    """One labeled item as an export lists it.

    ``path`` is where the image is in the export (relative, POSIX) for
    formats that copy images, else the project's file (absolute);
    ``sha256`` is that file's digest, ``source_sha256`` the imported one.
    """

    sample: Item
    label: str
    annotation: Annotation
    source: Path
    path: str
    sha256: str
    source_sha256: str
    # A video frame's ``video`` (stored path), ``frame_index``, ``timestamp``
    # and ``video_sha256``; empty for an image file.
    frame: dict = field(default_factory=dict)


@dataclass
class ExportContext:
    """The staging folder a writer fills, and the project it reads."""

    workspace: Workspace
    staging: Path
    classes: list[str]
    class_folders: dict[str, str]
    options: ExportOptions
    place_file: Callable[[Path, Path], None]
    #: Files the writer generated (label files, cards), relative: replaced on re-export.
    generated: list[str] = field(default_factory=list)
    #: Folders created for images, relative: removed on re-export once empty.
    folders: set[str] = field(default_factory=set)

    def inside(self, relative: str) -> Path:
        """``staging / relative`` after checking it cannot land outside the export."""
        parts = PurePosixPath(relative).parts
        if not parts or os.path.isabs(relative) or ".." in parts:
            raise ExportError(f"refusing to write {relative!r}: outside the export folder")
        path = self.staging.joinpath(*parts)
        if not path.resolve().is_relative_to(self.staging.resolve()):
            raise ExportError(f"refusing to write {path}: outside the export folder")
        return path

    def image_name(self, sample: Item, source: Path) -> str:
        """A unique, safe file name for a copied image: ``000042_stem.png``."""
        suffix = ".png" if source.suffix.lower() in CONVERT_TO_PNG else source.suffix.lower()
        return f"{sample.id:06d}_{safe_component(source.stem)}{suffix}"

    def _make_parents(self, relative: str) -> None:
        parent = PurePosixPath(relative).parent
        for depth in range(1, len(parent.parts) + 1):
            folder = PurePosixPath(*parent.parts[:depth]).as_posix()
            self.inside(folder).mkdir(exist_ok=True)
            self.folders.add(folder)

    def place(self, source: Path, relative: str) -> Path:
        """Link or copy ``source`` to ``relative`` in the export, creating its folders."""
        dest = self.inside(relative)
        self._make_parents(relative)
        self.place_file(source, dest)
        return dest

    def new_file(self, relative: str) -> Path:
        """The path of a file the writer generates, its folders created, recorded as generated."""
        path = self.inside(relative)
        self._make_parents(relative)
        self.generated.append(PurePosixPath(relative).as_posix())
        return path

    @contextmanager
    def open_text(self, relative: str, newline: str | None = None) -> Iterator[IO[str]]:
        """Open a generated text file (UTF-8) in the export."""
        with open(self.new_file(relative), "w", encoding="utf-8", newline=newline) as handle:
            yield handle

    def write_text(self, relative: str, text: str) -> None:
        with self.open_text(relative) as handle:
            handle.write(text)


class FormatWriter:
    """One export format: where images go (if copied) and which files it writes.

    Subclasses set ``name`` and ``summary`` and implement :meth:`write`;
    formats that copy images override :meth:`image_path`.
    """

    name: str = ""
    summary: str = ""

    def image_path(self, ctx: ExportContext, sample: Item, label: str, source: Path) -> str | None:
        """Where the image goes in the export (relative POSIX path); None: not copied."""
        return None

    def write(self, ctx: ExportContext, items: list[ExportedItem]) -> None:
        """Write the format's label files for ``items`` into ``ctx.staging``."""
        raise NotImplementedError


def label_row(item: ExportedItem) -> dict:
    """The flat record the table formats carry: path, label, sha256, annotator, time.

    A video frame also carries ``video``, ``frame_index`` and ``timestamp``.
    """
    return {"path": item.path, **frame_fields(item), "label": item.label,
            "sha256": item.source_sha256, "annotator": item.annotation.annotator,
            "labeled_at": item.annotation.created_at}


def frame_fields(item: ExportedItem) -> dict:
    """``video`` (its stored path), ``frame_index``, ``timestamp`` of a frame; {} for an image."""
    return {k: v for k, v in item.frame.items() if k != "video_sha256"}
