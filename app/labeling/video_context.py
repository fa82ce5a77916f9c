"""What an annotator sees around a video frame: its clock, its neighbours, the next one.

Headless, so the GUI's header, filmstrip and ``[`` / ``]`` keys are tested
without a window.  Neighbours are the *kept* frames of the same video (the
items the import made), in frame order.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.records import Item
from app.project.workspace import Workspace

#: Kept frames shown on each side of the current one in the filmstrip.
FILMSTRIP_SIDE = 3


def clock(seconds: float) -> str:
    """``mm:ss.mmm`` (minutes keep counting past 59: ``125:03.250``)."""
    millis = round(seconds * 1000)
    minutes, rest = divmod(millis, 60_000)
    return f"{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def frame_caption(workspace: Workspace, item: Item) -> str | None:
    """``"drive.mp4 · 01:23.456"`` for a frame; None for an image file."""
    if not item.is_frame:
        return None
    [media] = workspace.media([item.media_id])
    return f"{media.name} · {clock(item.timestamp_s or 0.0)}"


@dataclass(frozen=True)
class Neighbour:
    """One kept frame of the filmstrip."""

    sample_id: int
    frame_index: int
    timestamp_s: float
    offset: int  # position relative to the current frame: -N … +N, 0 is the current one


def neighbours(workspace: Workspace, item: Item, side: int = FILMSTRIP_SIDE) -> list[Neighbour]:
    """The kept frames of ``item``'s video within ``side`` places of it, in order.

    Empty for an image file.
    """
    if not item.is_frame:
        return []
    frames = workspace.frames_of_media(item.media_id)
    here = next(i for i, (sid, _, _) in enumerate(frames) if sid == item.id)
    low, high = max(0, here - side), min(len(frames), here + side + 1)
    return [Neighbour(sid, index, time, i - here)
            for i, (sid, index, time) in enumerate(frames[low:high], start=low)]


def step_frame(workspace: Workspace, item: Item, delta: int) -> int | None:
    """The id of the kept frame ``delta`` places from ``item`` in its video, or None.

    None for an image file, and past the first or last kept frame.
    """
    if not item.is_frame:
        return None
    frames = workspace.frames_of_media(item.media_id)
    here = next(i for i, (sid, _, _) in enumerate(frames) if sid == item.id)
    target = here + delta
    return frames[target][0] if 0 <= target < len(frames) else None
