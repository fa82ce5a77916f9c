"""Failure sets: known model failures that targeted learning mines look-alikes of.

A failure is either a pool sample or an image from outside the pool; the
latter is copied into ``PROJECT/failures/`` (so the set survives the
original being moved) and hashed exactly like an imported sample.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.domain.records import FailureItem
from app.files.atomic_write import write_bytes_atomic
from app.files.confined_paths import confined_path
from app.files.image_io import UnreadableImage, decode_image, read_image_bytes
from app.files.safe_files import max_file_bytes
from app.pool.importer import ImportFailure, find_image_files
from app.project.workspace import Workspace, WorkspaceError
from sampling.hashing import codes_to_int64, hash_images


@dataclass
class FailureAddReport:
    name: str
    added: int = 0
    already_there: int = 0
    failed: list[ImportFailure] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"failure_set": self.name, "added": self.added,
                "already_there": self.already_there,
                "failed": [{"path": f.path, "reason": f.reason} for f in self.failed]}


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise WorkspaceError("a failure set needs a name")
    return name


def add_samples(workspace: Workspace, name: str, sample_ids: Sequence[int]) -> FailureAddReport:
    """Add pool samples (by id) to the failure set ``name``, creating it if needed."""
    set_id = workspace.create_failure_set(_check_name(name))
    samples = [workspace.sample(int(i)) for i in sample_ids]
    added = workspace.add_failure_items(
        set_id, [(s.id, None, s.sha256, s.phash) for s in samples])
    return FailureAddReport(name, added, len(samples) - added)


def add_files(workspace: Workspace, name: str, sources: Sequence[str | os.PathLike[str]],
              *, max_bytes: int | None = None) -> FailureAddReport:
    """Add images from outside the pool; unreadable ones are reported, the rest go in.

    A set that does not exist yet is only created when at least one image is
    readable, so a mistyped folder leaves no empty set behind. Files are read
    under :mod:`app.files.safe_files`' rules (regular files up to ``max_bytes``),
    and the copy is written from the very bytes that were hashed.
    """
    name = _check_name(name)
    try:
        limit = max_file_bytes(max_bytes)
    except ValueError as exc:
        raise WorkspaceError(str(exc)) from exc
    paths, missing = find_image_files(sources)
    report = FailureAddReport(name, failed=list(missing))
    set_id: int | None = None
    items = []
    for path in paths:
        try:
            data = read_image_bytes(path, limit)
            loaded = decode_image(data)
        except UnreadableImage as exc:
            report.failed.append(ImportFailure(path, str(exc)))
            continue
        code = int(codes_to_int64(hash_images([loaded.image], "phash"))[0])
        if set_id is None:
            set_id = workspace.create_failure_set(name)
        folder = workspace.failures_dir / f"set-{set_id:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / f"{loaded.sha256[:16]}{os.path.splitext(path)[1].lower()}"
        if not copy.exists():
            write_bytes_atomic(copy, data)  # never a half-written copy under the final name
        items.append((None, workspace.stored_path(copy), loaded.sha256, code))
    if set_id is None:
        return report
    report.added = workspace.add_failure_items(set_id, items)
    report.already_there = len(items) - report.added
    return report


@dataclass(frozen=True)
class FailureSetSummary:
    """One failure set and how many of its items are pool samples or outside images."""

    name: str
    items: int
    pool_samples: int
    outside_images: int

    def to_json(self) -> dict:
        return {"name": self.name, "items": self.items, "pool_samples": self.pool_samples,
                "outside_images": self.outside_images}


def failure_sets(workspace: Workspace) -> list[FailureSetSummary]:
    """Every failure set, by name, with its counts (empty sets included)."""
    summaries = []
    for name in workspace.failure_set_names():
        items = workspace.failure_items(name)
        in_pool = sum(item.sample_id is not None for item in items)
        summaries.append(FailureSetSummary(name, len(items), in_pool, len(items) - in_pool))
    return summaries


def failure_items(workspace: Workspace, name: str) -> list[FailureItem]:
    items = workspace.failure_items(name)
    if not items and name not in workspace.failure_set_names():
        known = ", ".join(workspace.failure_set_names()) or "none yet"
        raise WorkspaceError(f"no failure set named {name!r} (failure sets: {known})")
    return items


def remove_set(workspace: Workspace, name: str) -> None:
    items = failure_items(workspace, name)
    # Every copy is checked before the set goes: a tampered row deletes nothing.
    copies = [confined_path(workspace.failures_dir, workspace.resolve(item.path),
                            f"failure set {name!r} item {item.id}")
              for item in items if item.path and item.sample_id is None]
    workspace.remove_failure_set(name)
    for copy in copies:
        copy.unlink(missing_ok=True)
