"""Where a JSON row names a sample, a frame also names its video, index and time.

Every ``--json`` row that names a sample (``rank``, ``mislabeled``, ``mine``,
``similar``, ``duplicates``, the top samples of ``drift``) is built by its
own stage; :func:`with_frame_fields` adds the video fields to all of them in
one place, just before they are printed, with one look-up for the lot.
"""

from __future__ import annotations

from typing import Any

from app.domain.records import Item, Media
from app.project.workspace import Workspace

#: The keys a frame's row gains, right after ``"path"``.
FRAME_KEYS = ("video", "frame_index", "timestamp")


def frame_fields(item: Item, media: Media) -> dict[str, Any]:
    """``{"video", "frame_index", "timestamp"}`` of a frame item (video: its stored path)."""
    return {"video": media.path, "frame_index": item.frame_index,
            "timestamp": item.timestamp_s}


def _rows_naming_samples(value: Any, found: list[dict]) -> None:
    if isinstance(value, dict):
        if "sample_id" in value and "path" in value:
            found.append(value)
        for child in value.values():
            _rows_naming_samples(child, found)
    elif isinstance(value, list):
        for child in value:
            _rows_naming_samples(child, found)


def with_frame_fields(workspace: Workspace, value: Any) -> Any:
    """``value`` (a JSON-ready dict or list) with frame rows given their video fields.

    Every dict holding ``"sample_id"`` and ``"path"``, however deeply nested,
    whose sample is a video frame gets ``"video"``, ``"frame_index"`` and
    ``"timestamp"`` inserted after ``"path"``; rows of image files are left
    exactly as they were.  The dicts are updated in place; ``value`` is returned.
    """
    rows: list[dict] = []
    _rows_naming_samples(value, rows)
    ids = sorted({row["sample_id"] for row in rows if isinstance(row["sample_id"], int)})
    frames = {item.id: item for item in workspace.samples(ids) if item.is_frame} if ids else {}
    if not frames:
        return value
    videos = {m.id: m for m in workspace.media(sorted({f.media_id for f in frames.values()}))}
    for row in rows:
        item = frames.get(row["sample_id"])
        if item is None:
            continue
        extra = frame_fields(item, videos[item.media_id])
        rebuilt: dict[str, Any] = {}
        for key, field in row.items():
            if key not in FRAME_KEYS:
                rebuilt[key] = field
            if key == "path":
                rebuilt.update(extra)
        row.clear()
        row.update(rebuilt)
    return value
