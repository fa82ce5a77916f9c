"""Exporting the labeled samples as a standard, versioned dataset.

Every export is built in a hidden temporary folder beside ``OUT``, made
durable and swapped into place at the end (:func:`app.files.atomic_write.replace_folder`),
so an interrupted export never leaves half a dataset where a training script
would pick it up.  A temporary folder left by a
killed export is removed by the next export to the same place.

What a format writes is the business of its module in
:mod:`app.pool.export_formats`; everything else is done here, once, for
every format.

Replacing an earlier Labelloop export removes only what its manifest lists
(unchanged images, the files its format generated while unchanged, the
manifest); anything the user added or edited there is kept, moved aside
beside ``OUT`` and reported.  ``OUT`` is never the
project folder nor inside it (except under ``PROJECT/exports/``), so an
export cannot move the project's checkpoints or database away.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from PIL import Image

from app.domain.dataset_version import dataset_version
from app.domain.timestamps import utc_now
from app.files.atomic_write import replace_folder
from app.files.confined_paths import OutsideFolderError, confined_path
from app.files.file_digest import file_sha256
from app.files.os_errors import with_filename
from app.files.process_identity import is_alive
from app.files.safe_names import safe_folder_names
from app.pool.export_formats import EXPORT_FORMATS, writer_for
from app.pool.export_formats.common import (
    CONVERT_TO_PNG,
    ExportContext,
    ExportedItem,
    ExportError,
    ExportOptions,
    FormatWriter,
)
from app.pool.frame_cache import FrameExports, FrameUnavailable
from app.project.workspace import Workspace

__all__ = ["EXPORT_FORMATS", "ExportError", "ExportOptions", "ExportReport", "export_dataset"]

MANIFEST = "manifest.json"
GENERATOR = "labelloop"
# Label files of exports written before formats listed what they generate.
_LEGACY_GENERATED = ("labels.csv", "labels.jsonl")


@dataclass
class ExportReport:
    out: Path
    format: str
    files: int
    dataset_version: str
    skipped: list[dict[str, str]] = field(default_factory=list)
    previous_moved_to: Path | None = None
    # Files found in the replaced export that its manifest did not list (or
    # that changed since), relative to ``previous_moved_to``: kept, not deleted.
    kept_aside: list[str] = field(default_factory=list)
    # Temporary folders of killed exports that this export removed.
    cleaned_stale: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "out": str(self.out),
            "format": self.format,
            "files": self.files,
            "dataset_version": self.dataset_version,
            "skipped": self.skipped,
            "previous_moved_to": str(self.previous_moved_to) if self.previous_moved_to else None,
            "kept_aside": self.kept_aside,
            "cleaned_stale": self.cleaned_stale,
        }


def _written_by_us(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("generator") == GENERATOR


def _check_target(workspace: Workspace, out: Path, force: bool) -> bool:
    """Validate ``out``; return whether an existing folder there must be replaced."""
    real_out, root = out.resolve(), workspace.root.resolve()
    if real_out == root or root.is_relative_to(real_out):
        raise ExportError(f"{out}: refusing to export over the project folder itself")
    exports = workspace.exports_dir.resolve()
    if real_out.is_relative_to(root) and not (real_out != exports
                                              and real_out.is_relative_to(exports)):
        raise ExportError(
            f"{out}: inside the project folder {root}; export outside it, or into a "
            f"subfolder of {exports}"
        )
    if not out.exists():
        return False
    if not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder")
    if not any(out.iterdir()):
        return True
    inside = [
        s.path for s in workspace.samples() if workspace.resolve(s.path).is_relative_to(out)
    ]
    if inside:
        raise ExportError(
            f"{out}: holds {len(inside)} of the project's own images (e.g. {inside[0]}); "
            "refusing to replace it"
        )
    if not force and not _written_by_us(out):
        raise ExportError(
            f"{out}: folder is not empty and was not written by Labelloop; "
            "choose another folder or pass --force"
        )
    return True


_STAGING_MARK = ".labelloop-tmp-"


def _staging_folder(out: Path) -> Path:
    # The PID in the name tells a live export's folder from a killed one's.
    return out.parent / f".{out.name}{_STAGING_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _clean_stale_staging(out: Path) -> list[str]:
    """Remove temporary folders that killed exports to ``out`` left behind."""
    removed = []
    try:
        candidates = list(out.parent.glob(f".{out.name}{_STAGING_MARK}*"))
    except OSError:
        return removed
    for folder in candidates:
        owner = folder.name[len(f".{out.name}{_STAGING_MARK}"):].split("-")[0]
        # Names without a PID come from older versions: no live export owns them.
        if owner.isdigit() and int(owner) != os.getpid() and is_alive(int(owner)):
            continue
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
    return removed


def _place_file(source: Path, dest: Path) -> None:
    try:
        _link_or_copy(source, dest)
    except OSError as exc:
        raise with_filename(exc, dest) from exc  # a full disk: say where


def _link_or_copy(source: Path, dest: Path) -> None:
    if source.suffix.lower() in CONVERT_TO_PNG:
        with Image.open(source) as image:
            image.seek(0)
            image.save(dest, format="PNG")
        return
    try:
        os.link(source, dest)  # instant and no extra space on the same volume
    except OSError:
        shutil.copy2(source, dest)


def export_dataset(
    workspace: Workspace,
    out: str | os.PathLike[str],
    fmt: str,
    *,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    options: ExportOptions | None = None,
) -> ExportReport:
    """Write the labeled samples to ``out`` in format ``fmt``, atomically.

    Parameters
    ----------
    workspace : Workspace
        The open project.
    out : path
        The export folder; replaced as a whole when the export is finished.
    fmt : str
        One of :data:`app.pool.export_formats.EXPORT_FORMATS`.
    force : bool
        Replace a non-empty folder Labelloop did not write (its content is
        moved aside, never deleted).
    progress : callable, optional
        Called with ``(done, total)`` as images are listed.
    options : ExportOptions, optional
        Choices that only some formats read (Label Studio's image URLs and
        predictions).

    Returns
    -------
    ExportReport
    """
    writer = writer_for(fmt)
    out = Path(os.path.abspath(out))
    replace = _check_target(workspace, out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    cleaned = _clean_stale_staging(out)
    staging = _staging_folder(out)
    staging.mkdir()
    try:
        manifest, skipped = _write_dataset(workspace, staging, writer,
                                           options or ExportOptions(), progress)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        moved, kept = _swap_into_place(staging, out, replace)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportReport(out, fmt, len(manifest["files"]), manifest["dataset_version"], skipped,
                        moved, kept, cleaned)


def _write_dataset(
    workspace: Workspace,
    staging: Path,
    writer: FormatWriter,
    options: ExportOptions,
    progress: Callable[[int, int], None] | None,
) -> tuple[dict, list[dict[str, str]]]:
    classes = workspace.classes()
    folders = safe_folder_names(classes)
    # The module global is looked up now, so a test can interrupt the copying.
    ctx = ExportContext(workspace, staging, classes, folders, options, _place_file)
    labeled = workspace.labeled_samples()
    newest = workspace.current_annotations()
    items: list[ExportedItem] = []
    skipped: list[dict[str, str]] = []
    frames = FrameExports(workspace, (sample for sample, _ in labeled))
    for done, (sample, label) in enumerate(labeled, start=1):
        extra: dict = {}
        if sample.is_frame:
            # A frame's pixels are its cached PNG; its sha256 names (video, index).
            try:
                source = frames.source(sample)
            except FrameUnavailable as exc:
                skipped.append({"path": sample.path, "reason": str(exc)})
                continue
            extra = frames.columns(sample)
        else:
            source = workspace.resolve(sample.path)
            if not source.is_file():
                skipped.append({"path": str(source), "reason": "file missing since import"})
                continue
            if file_sha256(source) != sample.sha256:
                skipped.append({"path": str(source), "reason": "file changed since import"})
                continue
        written, file_sha = str(source), sample.sha256
        relative = writer.image_path(ctx, sample, label, source)
        if relative is not None:
            if sample.is_frame:  # named after its video and time, not the cache's file
                relative = str(PurePosixPath(relative).with_name(frames.file_name(sample)))
            dest = ctx.place(source, relative)
            written = dest.relative_to(staging).as_posix()
            if source.suffix.lower() in CONVERT_TO_PNG:
                file_sha = file_sha256(dest)
        if sample.is_frame:
            file_sha = file_sha256(source)
        items.append(ExportedItem(sample, label, newest[sample.id], source, written, file_sha,
                                  sample.sha256, extra))
        if progress:
            progress(done, len(labeled))
    writer.write(ctx, items)
    files = [{"path": i.path, "label": i.label, "sha256": i.sha256,
              "source_sha256": i.source_sha256, **i.frame} for i in items]
    counts = {name: 0 for name in classes}
    for item in items:
        counts[item.label] += 1
    present = sorted(folders[name] for name in classes if counts[name])
    manifest = {
        "generator": GENERATOR,
        "format": writer.name,
        "created_at": utc_now(),
        "project": str(workspace.root),
        "classes": classes,
        "class_folders": folders,
        # What torchvision.datasets.ImageFolder will assign: sorted folder names.
        "class_to_idx": {folder: i for i, folder in enumerate(present)},
        "counts": counts,
        "files": files,
        "dataset_version": dataset_version((f["source_sha256"], f["label"]) for f in files),
        "skipped": skipped,
        # What a later export to the same place may delete (besides listed files),
        # each only while it still has this sha256: an edited file is the user's.
        "generated": [{"path": name, "sha256": file_sha256(staging / name)}
                      for name in sorted(set(ctx.generated))],
        "folders": sorted(ctx.folders),
    }
    return manifest, skipped


def _columns(rows: list[dict]) -> list[str]:
    """CSV columns: the keys of every row in first-seen order (frames add video columns)."""
    names = {"path": None, "label": None, "sha256": None, "annotator": None, "labeled_at": None}
    if rows:
        names = {}
        for row in rows:
            names.update(dict.fromkeys(row))
    return list(names)


def _swap_into_place(staging: Path, out: Path, replace: bool) -> tuple[Path | None, list[str]]:
    """Rename the finished export to ``out``.

    Returns where the previous content that was kept went (None if nothing
    was kept) and the kept files, relative to that folder.
    """
    if not replace:
        replace_folder(staging, out)
        return None, []
    if not any(out.iterdir()):
        out.rmdir()
        replace_folder(staging, out)
        return None, []
    ours = _written_by_us(out)
    aside = out.parent / f"{out.name}.replaced-{uuid.uuid4().hex[:8]}"
    replace_folder(staging, out, keep_old_at=aside)
    if not ours:
        # Someone else's files (allowed by --force): never delete them, keep them aside.
        return aside, sorted(p.relative_to(aside).as_posix() for p in aside.rglob("*")
                             if not p.is_dir())
    kept = _remove_listed(aside)
    if kept:
        return aside, kept
    aside.rmdir()
    return None, []


def _remove_listed(folder: Path) -> list[str]:
    """Delete from an old export what its manifest lists; return what is left.

    A listed file is deleted only while its sha256 is the one recorded (a
    file edited since is the user's now); paths that would leave ``folder``
    (a tampered manifest) are never followed.  Class folders left empty go.
    """
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    for entry in manifest.get("files", []):
        try:
            relative = str(entry["path"])
            if os.path.isabs(relative):  # csv / jsonl list the project's images: not ours
                continue
            path = confined_path(folder, folder / relative, "exported file")
        except (KeyError, TypeError, OutsideFolderError):
            continue
        if path.is_file() and not path.is_symlink() and file_sha256(path) == entry.get("sha256"):
            path.unlink()
    listed = manifest.get("generated")
    # Exports written before formats listed what they generate: their label files
    # go by name, as they always did.
    for name in (MANIFEST, *(_LEGACY_GENERATED if not isinstance(listed, list) else ())):
        generated = folder / name
        if generated.is_file() and not generated.is_symlink():
            generated.unlink()
    for entry in listed if isinstance(listed, list) else ():
        try:
            path = confined_path(folder, folder / str(entry["path"]), "generated file")
        except (KeyError, TypeError, OutsideFolderError):
            continue
        if path.is_file() and not path.is_symlink() and file_sha256(path) == entry.get("sha256"):
            path.unlink()
    class_folders = manifest.get("class_folders", {})
    image_folders = manifest.get("folders", [])
    names = [*(class_folders.values() if isinstance(class_folders, dict) else ()),
             *(image_folders if isinstance(image_folders, list) else ())]
    # Deepest first, so a folder emptied of its subfolders goes too.
    for name in sorted({str(n) for n in names}, key=lambda n: n.count("/"), reverse=True):
        try:
            confined_path(folder, folder / name, "image folder").rmdir()
        except (OSError, OutsideFolderError):
            pass  # not empty: the user's files stay with it
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
