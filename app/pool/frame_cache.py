"""A frame item's pixels, export name and extra columns: what differs from an image file.

A frame's pixels live in the project as a lossless PNG under
``cache/frames/`` (written by :mod:`app.pool.video_import`), so the grid,
training, scoring and export read a file like any image's.  When that file
is missing (a cleaned cache, a copied project) it is decoded again from the
video by seeking (:func:`app.files.video_decode.decode_frame_at`), provided
the video still has the content it had at import.

The exporter asks :class:`FrameExports` three things per frame: where its
pixels are (:meth:`FrameExports.source`), what the exported file is called
(:meth:`FrameExports.file_name`) and the columns it adds
(:meth:`FrameExports.columns`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from app.domain.records import Item, Media
from app.files.file_digest import file_sha256
from app.files.safe_names import safe_component
from app.pool.frame_rows import frame_fields
from app.project.workspace import Workspace


class FrameUnavailable(Exception):
    """A frame whose pixels can be neither read nor decoded again; ``str`` is why."""


def timestamp_label(seconds: float) -> str:
    """``hh-mm-ss.mmm``: a frame's time as it can appear in a file name on any system."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}-{minutes:02d}-{rest // 1000:02d}.{rest % 1000:03d}"


def restore_frame(workspace: Workspace, item: Item, media: Media) -> Path:
    """The cached PNG of ``item``, decoded again from its video first if it is missing.

    Raises
    ------
    FrameUnavailable
        The file is missing and the video is gone, changed since import, or
        no longer has that frame.
    """
    target = workspace.resolve(item.path)
    if target.is_file():
        return target
    # PyAV and the writer load only when a frame must really be decoded again:
    # training and scoring call this for every item and rarely need them.
    from app.files.video_decode import decode_frame_at, scan_frames
    from app.files.video_probe import UnreadableVideo
    from app.pool.video_frame_worker import write_frame

    video = workspace.resolve(media.path)
    try:
        if file_sha256(video) != media.sha256:
            raise FrameUnavailable(f"cached frame missing and {media.path} changed since import")
        table = scan_frames(video)
        if item.frame_index is None or item.frame_index >= len(table):
            raise FrameUnavailable(f"{media.path} has no frame {item.frame_index}")
        rgb = decode_frame_at(video, int(table.pts[item.frame_index]))
    except OSError as exc:
        raise FrameUnavailable(f"cached frame missing and its video cannot be read: "
                               f"{exc.strerror or exc}") from exc
    except UnreadableVideo as exc:
        raise FrameUnavailable(f"cached frame missing: {exc}") from exc
    write_frame(str(target), rgb)
    return target


def restore_missing_frames(workspace: Workspace, items: Iterable[Item]) -> list[tuple[Item, str]]:
    """Make sure every frame among ``items`` has its cached PNG; return those that cannot.

    For training and scoring, which read items by path: a frame whose file
    was deleted is decoded again once here instead of failing there.
    """
    frames = [item for item in items if item.is_frame
              and not workspace.resolve(item.path).is_file()]
    if not frames:
        return []
    videos = {m.id: m for m in workspace.media(sorted({f.media_id for f in frames}))}
    lost = []
    for item in frames:
        try:
            restore_frame(workspace, item, videos[item.media_id])
        except FrameUnavailable as exc:
            lost.append((item, str(exc)))
    return lost


class FrameExports:
    """What the exporter needs to know about frame items, looked up once per export."""

    def __init__(self, workspace: Workspace, items: Iterable[Item]) -> None:
        self.workspace = workspace
        ids = sorted({item.media_id for item in items if item.media_id is not None})
        self.videos = {m.id: m for m in workspace.media(ids)} if ids else {}

    def source(self, item: Item) -> Path:
        """The PNG holding the frame's pixels (restored from the video if need be)."""
        return restore_frame(self.workspace, item, self.videos[item.media_id])

    def file_name(self, item: Item) -> str:
        """``<id>_<video name>_<hh-mm-ss.mmm>.png``: the id keeps two videos' frames apart."""
        media = self.videos[item.media_id]
        stem = Path(media.name).stem
        return (f"{item.id:06d}_{safe_component(stem, 160)}_"
                f"{timestamp_label(item.timestamp_s or 0.0)}.png")

    def columns(self, item: Item) -> dict[str, Any]:
        """``video``, ``frame_index``, ``timestamp`` (and the video's sha256) for rows."""
        media = self.videos[item.media_id]
        return {**frame_fields(item, media), "video_sha256": media.sha256}

    @staticmethod
    def file_sha256(path: Path) -> str:
        return file_sha256(path)
