"""Importing folders of images and videos into a project's pool.

Files are decoded and hashed in worker processes (one per core) while this
process records the results, chunk by chunk, so an interrupted import keeps
what it finished and re-running it adds only what is missing.  Videos go
to :mod:`app.pool.video_import`, which adds the frames worth labeling.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from app.files.image_io import IMAGE_SUFFIXES, NOT_AN_IMAGE
from app.files.image_walk import walk_image_files
from app.files.safe_files import max_file_bytes
from app.files.video_probe import (
    VIDEO_SUFFIXES,
    NotAVideo,
    UnreadableVideo,
    VideoInfo,
    looks_like_video,
    probe_video,
)
from app.pool.import_worker import FileResult, inspect_chunk
from app.pool.video_import import FrameSampling, FrameWriters, VideoProgress, import_video
from app.pool.worker_setup import set_up_worker, warm_up
from app.project.workspace import SUBFOLDERS, Workspace, WorkspaceError

CHUNK_SIZE = 64
# Results are recorded (one transaction) per this many files, or sooner when
# this long has passed since the last record (progress stays lively).
RECORD_FILES = 1024
RECORD_SECONDS = 0.5
# Below this many files, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 2 * CHUNK_SIZE

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportFailure:
    path: str
    reason: str


@dataclass
class ImportReport:
    """The outcome of one import; ``to_json`` is the CLI's ``--json`` object."""

    batch: int
    added: int = 0  # new items: image files and video frames
    duplicates: int = 0
    failed: list[ImportFailure] = field(default_factory=list)
    videos: int = 0  # readable videos looked at (a truncated one too)
    frames: int = 0  # of ``added``, the frames taken from videos

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "duplicates": self.duplicates,
            "failed": [{"path": f.path, "reason": f.reason} for f in self.failed],
            "batch": self.batch,
            "videos": self.videos,
            "frames": self.frames,
        }

    def video_summary(self) -> str:
        """``", 3 frames from 1 video"`` for the CLI's and the window's summary line.

        Empty when no video was imported.
        """
        if not self.videos:
            return ""
        frames = "frame" if self.frames == 1 else "frames"
        videos = "video" if self.videos == 1 else "videos"
        return f", {self.frames} {frames} from {self.videos} {videos}"


def find_image_files(
    sources: Sequence[str | os.PathLike[str]], skip: Iterable[Path] = (),
    suffixes: Iterable[str] = IMAGE_SUFFIXES, sniff: Callable[[str], bool] | None = None,
) -> tuple[list[str], list[ImportFailure]]:
    """Expand folders recursively into image files, in a stable order.

    A file named directly is always tried (its content decides); inside
    folders only ``suffixes`` (image suffixes unless told) are taken, and
    any other file ``sniff`` accepts by content; hidden entries are skipped.
    Symbolic links are listed but not followed into folders, so a link
    loop cannot hang the walk; a broken link is listed and then reported.
    """
    skip_dirs = {os.path.abspath(p) for p in skip}
    wanted = frozenset(suffixes)
    files: list[str] = []
    missing: list[ImportFailure] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        if path not in seen:
            seen.add(path)
            files.append(path)

    for source in sources:
        source_path = os.path.abspath(source)
        if os.path.isdir(source_path):
            for path in walk_image_files(source_path, skip_dirs, wanted, sniff):
                add(path)
        elif os.path.lexists(source_path):
            add(source_path)
        else:
            missing.append(ImportFailure(source_path, "no such file or folder"))
    return files, missing


def _inspect_all(
    paths: list[str], workers: int, max_bytes: int
) -> Iterator[list[FileResult]]:
    chunks = [paths[i : i + CHUNK_SIZE] for i in range(0, len(paths), CHUNK_SIZE)]
    inspect = partial(inspect_chunk, max_bytes=max_bytes)
    if workers <= 1 or len(paths) < PARALLEL_THRESHOLD:
        for chunk in chunks:
            yield inspect(chunk)
        return
    # Forking a multi-threaded process (the GUI imports from a worker thread)
    # can deadlock the child, so fork only when this process has one thread;
    # fork saves each worker re-importing Pillow, numpy and scipy (~0.3 s).
    single_threaded = threading.active_count() == 1
    method = "fork" if single_threaded and "fork" in multiprocessing.get_all_start_methods() \
        else "spawn"
    context = multiprocessing.get_context(method)
    if method == "fork":
        warm_up()  # the forked workers inherit what it sets up
    # Workers do nothing but decode and hash (see set_up_worker).
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=set_up_worker) as pool:
        yield from pool.map(inspect, chunks)


def _grouped(chunks: Iterable[list[FileResult]]) -> Iterator[list[FileResult]]:
    """Consecutive chunks joined until RECORD_FILES files or RECORD_SECONDS have gathered.

    Each recorded group is one transaction, and a durable commit costs
    milliseconds (an fsync), more on a busy disk: one per chunk of small files
    made this process, not the decoding workers, the bottleneck of an import.
    """
    group: list[FileResult] = []
    started = time.monotonic()
    for chunk in chunks:
        group.extend(chunk)
        if len(group) >= RECORD_FILES or time.monotonic() - started >= RECORD_SECONDS:
            yield group
            group, started = [], time.monotonic()
    if group:
        yield group


def split_videos(
    paths: Sequence[str],
) -> tuple[list[str], list[tuple[str, VideoInfo | None]], list[ImportFailure]]:
    """Sort files into images, videos and failures, by content where the suffix is no image's.

    A file with an image suffix goes to the image import (its decoder
    decides; one it cannot read whose bytes are a video's comes back as a
    video, see :func:`_second_look`).  A file with a video container's
    signature goes to the video import, which probes it on the container it
    decodes (opening one costs ~30 ms).  Any other file is probed with
    FFmpeg: a video goes to the video import, a still image or unknown bytes
    to the image import (which names the reason), and a file that is a
    container but no usable video (audio only, an unknown codec, an MP4 cut
    before its index) fails here.
    """
    images: list[str] = []
    # With what the probe found, not probed twice; None: probed by the video
    # import on the container it reads (a file with a container's signature).
    videos: list[tuple[str, VideoInfo | None]] = []
    failed: list[ImportFailure] = []
    for path in paths:
        if os.path.splitext(path)[1].lower() in IMAGE_SUFFIXES:
            images.append(path)
            continue
        if looks_like_video(path):
            videos.append((path, None))
            continue
        try:
            info = probe_video(path)
        except NotAVideo:
            images.append(path)
        except UnreadableVideo as exc:
            failed.append(ImportFailure(path, str(exc)))
        else:
            videos.append((path, info))
    return images, videos, failed


def import_images(
    workspace: Workspace,
    sources: Sequence[str | os.PathLike[str]],
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    max_bytes: int | None = None,
    sampling: FrameSampling | None = None,
    video_progress: VideoProgress | None = None,
) -> ImportReport:
    """Import every image and video under ``sources`` into the workspace as one batch.

    Content already in the pool (same sha256) is skipped and counted as a
    duplicate; unreadable files are reported with the reason and the import
    carries on. Only regular files up to ``max_bytes`` (default:
    :func:`app.files.safe_files.max_file_bytes`) are read: FIFOs, devices and
    larger files fail with a reason instead of hanging or filling memory.
    Videos (any size: they are streamed) give the frames ``sampling``
    chooses (default :class:`app.pool.video_import.FrameSampling`), with
    ``video_progress(name, done, total)`` per video.
    """
    try:
        limit = max_file_bytes(max_bytes)
    except ValueError as exc:
        raise WorkspaceError(str(exc)) from exc
    skip = [workspace.root / name for name in SUBFOLDERS]
    found, missing = find_image_files(sources, skip, IMAGE_SUFFIXES | VIDEO_SUFFIXES,
                                      sniff=looks_like_video)
    paths, videos, refused = split_videos(found)
    batch_id = workspace.create_batch([os.path.abspath(s) for s in sources])
    report = ImportReport(batch=batch_id, failed=list(missing) + refused)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    seen_sha: set[str] = set()
    done = 0
    if progress:
        progress(0, len(paths))
    for results in _grouped(_inspect_all(paths, workers, limit)):
        _record_chunk(workspace, batch_id, results, seen_sha, report,
                      partial(_second_look, videos=videos))
        done += len(results)
        if progress:
            progress(done, len(paths))
    if videos:
        not_videos = _import_videos(workspace, batch_id, videos, sampling or FrameSampling(),
                                    workers, video_progress, report)
        if not_videos:  # a container's signature, but no video in it: maybe an image
            _record_chunk(workspace, batch_id, inspect_chunk(not_videos, limit), seen_sha,
                          report, partial(_second_look, videos=None))
    workspace.finish_batch(batch_id, report.added, report.duplicates, len(report.failed))
    return report


def _second_look(failure: ImportFailure,
                 videos: list[tuple[str, VideoInfo | None]] | None) -> ImportFailure | None:
    """A file no image decoder recognised: a video under an image's name, or neither.

    Returns the failure to report, or None when the file is a video after
    all (then appended to ``videos``; None: FFmpeg has had its look already).
    Only files that failed are looked at again, so a folder of good images
    pays nothing for it.
    """
    image_suffix = os.path.splitext(failure.path)[1].lower() in IMAGE_SUFFIXES
    if failure.reason == NOT_AN_IMAGE and (videos is None or not image_suffix):
        # FFmpeg was asked already (split_videos or the video import): no video either.
        return ImportFailure(failure.path, "not an image or video (unrecognised format)")
    if videos is None:
        return failure
    # Unrecognised, or over the size cap for an image (videos are streamed: no cap).
    if not image_suffix or not (failure.reason == NOT_AN_IMAGE
                                or failure.reason.startswith("too large (")) \
            or not looks_like_video(failure.path):
        return failure
    try:
        info = probe_video(failure.path)
    except NotAVideo:
        return failure
    except UnreadableVideo as exc:
        return ImportFailure(failure.path, str(exc))
    videos.append((failure.path, info))
    return None


def _import_videos(workspace: Workspace, batch_id: int,
                   videos: list[tuple[str, VideoInfo | None]], sampling: FrameSampling,
                   workers: int, progress: VideoProgress | None,
                   report: ImportReport) -> list[str]:
    """Import each video's frames; return the files that held no video after all."""
    writers = FrameWriters(workers) if workers > 1 else None
    not_videos: list[str] = []
    try:
        for path, info in videos:
            outcome = import_video(workspace, path, batch_id, sampling, writers, progress, info)
            if outcome.not_a_video:
                not_videos.append(path)
                continue
            report.videos += outcome.imported
            report.frames += outcome.added
            report.added += outcome.added
            report.duplicates += outcome.duplicates
            if outcome.reason is not None:
                report.failed.append(ImportFailure(path, outcome.reason))
    finally:
        if writers is not None:
            writers.close()
    return not_videos


def _record_chunk(
    workspace: Workspace,
    batch_id: int,
    results: list[FileResult],
    seen_sha: set[str],
    report: ImportReport,
    second_look: Callable[[ImportFailure], ImportFailure | None] = lambda f: f,
) -> None:
    readable = [r for r in results if r.sha256 is not None]
    for r in results:
        if r.reason is not None:
            failure = second_look(ImportFailure(r.path, r.reason))
            if failure is not None:
                report.failed.append(failure)
    known = workspace.known_sha256([r.sha256 for r in readable])
    stored_paths = {r.path: workspace.stored_path(r.path) for r in readable}
    # One query for the chunk, not one per file: at thousands of files a
    # second, a query (and its transaction) per file cost more than decoding.
    taken = workspace.known_paths(list(stored_paths.values()))
    rows = []
    for r in readable:
        if r.sha256 in known or r.sha256 in seen_sha:
            report.duplicates += 1
            continue
        seen_sha.add(r.sha256)
        stored = stored_paths[r.path]
        if stored in taken:
            report.failed.append(
                ImportFailure(r.path, "content changed since it was imported (same path)")
            )
            continue
        rows.append((stored, r.sha256, r.width, r.height, r.phash))
    if rows:
        report.added += workspace.insert_samples(rows, batch_id)
