"""Importing videos: the frames worth labeling become items, their pixels cached as PNG.

For each video: the header is probed (:mod:`app.files.video_probe`), the
file hashed, the video recorded once per content (``media``), every
packet's timestamp read (:func:`app.files.video_decode.scan_frames`), the
candidates chosen by time (:func:`sampling.frame_selection.interval_candidates`)
and only the groups of pictures holding them decoded.  A candidate within
``max_hamming`` bits of the last frame kept from the same video is dropped
as a near-duplicate.  Kept frames are written as lossless PNG files under
``cache/frames/`` by writer threads while this one decodes on, and
recorded a few at a time, each row after its file exists.

Re-running an import is safe at any point: a frame's identity (its
``sha256`` column) is the sha256 of ``"<video sha256>:<frame index>"``, so
a frame already recorded is skipped, and one whose file was written but
whose row was not (a killed import) is written again and recorded.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from app.files.file_digest import file_sha256
from app.files.video_decode import SelectiveDecoder, scan_container
from app.files.video_probe import (
    NotAVideo,
    UnreadableVideo,
    VideoInfo,
    open_video,
    probe_container,
)
from app.pool.video_frame_worker import write_frame
from app.project.workspace import Workspace
from sampling.frame_selection import interval_candidates, is_scene_cut
from sampling.hashing import hamming_distance, hash_images

#: Default ``--every``: at most one candidate frame per second of video.
DEFAULT_EVERY_S = 1.0
#: Default ``--max-hamming``: a candidate within this many bits (of 64) of the
#: last kept frame is a near-duplicate.  Measured on the test videos: one
#: still scene through H.264, VP9 or MJPEG stays within 0-8 bits of itself
#: (compression noise, worst for MJPEG), distinct scenes are 28-40 bits
#: apart; 10 drops the first kind and keeps anything that changed visibly.
DEFAULT_MAX_HAMMING = 10
# Frames recorded per transaction: a killed import re-does at most this many.
_ROWS_PER_COMMIT = 16
# Width of the thumbnail the near-duplicate test and cut detection look at.
_THUMB_WIDTH = 64

VideoProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FrameSampling:
    """How frames are chosen from a video (the ``import`` flags)."""

    every: float = DEFAULT_EVERY_S
    max_hamming: int = DEFAULT_MAX_HAMMING
    scene_change: bool = False

    def __post_init__(self) -> None:
        if not (self.every > 0 and np.isfinite(self.every)):
            raise ValueError(f"--every must be a number of seconds > 0, not {self.every!r}")
        if not 0 <= self.max_hamming <= 64:
            raise ValueError(f"--max-hamming must be 0..64 bits, not {self.max_hamming!r}")


@dataclass
class VideoOutcome:
    """What one video gave: frames kept and added, or why it gave fewer or none."""

    path: str
    added: int = 0
    kept: int = 0
    duplicates: int = 0  # kept frames already in the pool (an earlier import of the video)
    candidates: int = 0
    frames_in_video: int = 0
    reason: str | None = None  # a failure, or the damage of a truncated file
    imported: bool = False  # the file was a readable video (frames were looked at)
    not_a_video: bool = False  # FFmpeg read no video in it: the image import may


def frame_identity(video_sha256: str, frame_index: int) -> str:
    """The ``sha256`` column of a frame item: one value per (video content, frame index)."""
    return hashlib.sha256(f"{video_sha256}:{frame_index}".encode()).hexdigest()


def frame_file(video_sha256: str, frame_index: int) -> str:
    """Where a frame's PNG lives, relative to the project folder.

    Grouped by video, then by ten thousand frame indices, so no folder
    grows past a few thousand files (every write lists its folder).
    """
    return (f"cache/frames/{video_sha256[:16]}/{frame_index // 10000:04d}/"
            f"{frame_index:08d}.png")


def _thumb(frame: av.VideoFrame) -> Image.Image:
    height = max(1, round(_THUMB_WIDTH * frame.height / max(1, frame.width)))
    small = frame.reformat(width=_THUMB_WIDTH, height=height, format="rgb24",
                           interpolation="AREA")
    return small.to_image()


class FrameWriters:
    """Threads that convert, hash and write kept frames (see :mod:`app.pool.video_frame_worker`).

    At most ``2 * workers`` frames wait for a writer, so memory stays at a
    few frames whatever the length of the video.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="frame-writer")
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _write_kept(path: str, frame: av.VideoFrame) -> int:
    # The RGB conversion runs in the writer thread too: swscale releases the GIL.
    return write_frame(path, frame.to_ndarray(format="rgb24"))


class _Recorder:
    """Collects written frames in order and records them in small transactions."""

    def __init__(self, workspace: Workspace, batch_id: int, media_id: int) -> None:
        self.workspace = workspace
        self.batch_id = batch_id
        self.media_id = media_id
        self.pending: deque[tuple[Future[int] | int, tuple]] = deque()
        self.rows: list[tuple] = []
        self.added = 0

    def add(self, phash: Future[int] | int, row: tuple) -> None:
        self.pending.append((phash, row))

    def collect(self, keep_in_flight: int) -> None:
        while len(self.pending) > keep_in_flight:
            phash, (path, sha, width, height, index, time_s) = self.pending.popleft()
            code = phash.result() if isinstance(phash, Future) else phash
            self.rows.append((path, sha, width, height, code, self.media_id, index, time_s))
            if len(self.rows) >= _ROWS_PER_COMMIT:
                self.flush()

    def collect_done(self) -> None:
        """Record the frames whose files are already written (after an error stopped the loop)."""
        for phash, (path, sha, width, height, index, time_s) in self.pending:
            if isinstance(phash, Future) and (phash.cancelled() or phash.exception()):
                continue
            code = phash.result() if isinstance(phash, Future) else phash
            self.rows.append((path, sha, width, height, code, self.media_id, index, time_s))
        self.pending.clear()

    def flush(self) -> None:
        if self.rows:
            self.added += self.workspace.insert_frames(self.rows, self.batch_id)
            self.rows = []


def _refused(outcome: VideoOutcome, exc: UnreadableVideo) -> VideoOutcome:
    """``outcome`` with the reason nothing was imported; ``NotAVideo`` marks it no video at all."""
    outcome.reason, outcome.not_a_video = str(exc), isinstance(exc, NotAVideo)
    return outcome


def import_video(
    workspace: Workspace,
    path: str,
    batch_id: int,
    sampling: FrameSampling,
    writers: FrameWriters | None = None,
    progress: VideoProgress | None = None,
    info: VideoInfo | None = None,
) -> VideoOutcome:
    """Import the frames of one video worth labeling (see the module docstring).

    Parameters
    ----------
    workspace : Workspace
        The project.
    path : str
        The video file.
    batch_id : int
        The import batch the new frame items join.
    sampling : FrameSampling
        ``every``, ``max_hamming``, ``scene_change``.
    writers : FrameWriters, optional
        Writer threads for the PNG files; without them, frames are written here.
    progress : callable, optional
        ``progress(video name, frames looked at, frames in the video)``.
    info : VideoInfo, optional
        What :func:`app.files.video_probe.probe_video` said of ``path``, if
        the caller asked already; otherwise the container opened here is probed.

    Returns
    -------
    VideoOutcome
        ``reason`` set when the file is no usable video (nothing imported) or
        was cut short (the frames before the damage imported);
        ``not_a_video`` when FFmpeg found no video in it at all.
    """
    outcome = VideoOutcome(path)
    try:
        # Probed, scanned, then rewound and decoded: one open (~30 ms: FFmpeg
        # reads the first frames to learn the streams), not one per step.
        container = open_video(path)
    except UnreadableVideo as exc:
        return _refused(outcome, exc)
    with container:
        try:
            info = info if info is not None else \
                probe_container(container, path, Path(path).stat().st_size)
            video_sha = file_sha256(path)
        except UnreadableVideo as exc:
            return _refused(outcome, exc)
        except OSError as exc:
            outcome.reason = f"cannot be read: {exc.strerror or exc}"
            return outcome
        return _import_frames(workspace, path, container, info, video_sha, batch_id,
                              sampling, writers, progress, outcome)


def _import_frames(workspace: Workspace, path: str, container: av.container.InputContainer,
                   info: VideoInfo, video_sha: str, batch_id: int, sampling: FrameSampling,
                   writers: FrameWriters | None, progress: VideoProgress | None,
                   outcome: VideoOutcome) -> VideoOutcome:
    try:
        table = scan_container(container, info.duration_s)
    except UnreadableVideo as exc:
        outcome.reason = str(exc)
        return outcome
    outcome.imported = True
    outcome.frames_in_video = len(table)
    media = workspace.add_media(workspace.stored_path(path), video_sha, info.duration_s,
                                info.fps, info.width, info.height, info.size_bytes)
    stored = {index for _, index, _ in workspace.frames_of_media(media.id)}
    candidate_index = interval_candidates(table.times, sampling.every)
    candidate_pts = {int(table.pts[i]) for i in candidate_index}
    outcome.candidates = len(candidate_pts)
    pool = writers.pool() if writers is not None else None
    in_flight = 2 * writers.workers if writers is not None else 0
    recorder = _Recorder(workspace, batch_id, media.id)
    decoder = SelectiveDecoder(path, table, None if sampling.scene_change else candidate_pts,
                               container=container)
    last_kept: np.ndarray | None = None
    previous_thumb: np.ndarray | None = None
    name = Path(path).name
    total = len(table)
    # About 200 progress calls per video: a bar redrawn (or a Qt signal sent)
    # per frame would cost more than the frame on a two-hour video.
    step, reported = max(1, total // 200), 0
    try:
        for pts, frame in decoder:
            index = table.index_of(pts)
            if progress is not None and index + 1 - reported >= step:
                reported = index + 1
                progress(name, reported, total)
            thumb = _thumb(frame) if sampling.scene_change or pts in candidate_pts else None
            cut = False
            if sampling.scene_change and thumb is not None:
                grey = np.asarray(thumb.convert("L"))
                cut = is_scene_cut(previous_thumb, grey)
                previous_thumb = grey
            if pts not in candidate_pts and not cut:
                continue
            code = hash_images([thumb], "phash")[0]
            if not cut and last_kept is not None and \
                    int(hamming_distance(code[None, :], last_kept)[0]) <= sampling.max_hamming:
                continue  # a near-duplicate of the last kept frame
            last_kept = code
            outcome.kept += 1
            identity = frame_identity(video_sha, index)
            relative = frame_file(video_sha, index)
            target = workspace.resolve(relative)
            if index in stored and target.is_file():
                outcome.duplicates += 1  # recorded by an earlier import
                continue
            row = (relative, identity, frame.width, frame.height, index,
                   float(table.times[index]))
            if pool is not None:
                recorder.add(pool.submit(_write_kept, str(target), frame), row)
                recorder.collect(in_flight)  # bounded: at most a few frames held
            else:
                recorder.add(_write_kept(str(target), frame), row)
                recorder.collect(0)
        recorder.collect(0)
    finally:
        # Whatever stopped the loop, what was written is recorded.
        for phash, _ in list(recorder.pending):
            if isinstance(phash, Future):
                phash.cancel()
        recorder.collect_done()
        recorder.flush()
    if progress is not None:
        progress(name, total, total)
    outcome.added = recorder.added
    damage = decoder.damage or table.damage
    if damage is not None:
        outcome.reason = (f"truncated or damaged: {damage}; kept {outcome.kept} frames "
                          f"decoded before it")
    return outcome

