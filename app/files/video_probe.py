"""Is this file a video, and what kind: detected by content with PyAV (FFmpeg).

The suffix only decides which files of a folder are looked at; whether a
file is a video is what FFmpeg's demuxers make of its bytes.  Every way a
file can fail to be a usable video has a reason a user can act on, the way
:mod:`app.files.image_io` has for images.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from fractions import Fraction

import av

#: Suffixes a folder walk offers to the video import (a file named on the
#: command line is probed whatever its name).
VIDEO_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts",
    ".m2ts", ".wmv", ".flv", ".3gp", ".ogv",
})

# FFmpeg opens a still image as a one-frame "video" through these demuxers;
# such a file is an image and goes to the image import instead.
_IMAGE_DEMUXERS = ("image2", "_pipe")


class UnreadableVideo(Exception):
    """A file that cannot be used as a video; ``str(exc)`` is the reason."""


class NotAVideo(UnreadableVideo):
    """The bytes are no video container at all (the image import may still take them)."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container header says about a video's first video stream."""

    path: str
    size_bytes: int
    container: str
    codec: str
    width: int
    height: int
    fps: float | None
    duration_s: float | None
    time_base: Fraction


def _regular_size(path: str) -> int:
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise UnreadableVideo("no such file (or a broken link)") from exc
    except PermissionError as exc:
        raise UnreadableVideo("permission denied") from exc
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or a device is never opened here: the image import refuses it
        # unread and names what it is (app.files.safe_files).
        raise NotAVideo("not a regular file")
    if st.st_size == 0:
        raise UnreadableVideo("empty file (0 bytes)")
    return st.st_size


def _looks_like_mp4(path: str) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(12)
    return head[4:8] in (b"ftyp", b"mdat", b"moov", b"wide", b"free")


def is_image_container(container: av.container.InputContainer) -> bool:
    """FFmpeg read the file as a still image (PNG, JPEG, ...), not as a video."""
    name = container.format.name
    return any(part in name for part in _IMAGE_DEMUXERS)


def open_video(path: str | os.PathLike[str]) -> av.container.InputContainer:
    """Open ``path`` for demuxing; a file that is not one gets the reason why.

    Raises
    ------
    NotAVideo
        Zero bytes aside, FFmpeg recognises no container in the file.
    UnreadableVideo
        Missing, not a regular file, empty, or an MP4 cut short before its index.
    """
    path = os.fspath(path)
    _regular_size(path)
    try:
        return av.open(path, metadata_errors="ignore")
    except av.error.InvalidDataError as exc:
        if _looks_like_mp4(path):
            # An MP4 whose index (moov box) was to come after the cut.
            raise UnreadableVideo("truncated or damaged MP4: its index (moov) is missing; "
                                  "no frame can be located") from exc
        raise NotAVideo("not an image or video (unrecognised format)") from exc
    except av.error.FFmpegError as exc:
        raise UnreadableVideo(f"cannot be read as a video: {exc.strerror or exc}") from exc


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """The facts of a video file, or the reason it is not one that can be imported.

    Raises
    ------
    NotAVideo
        Not a container FFmpeg knows, or a still image.
    UnreadableVideo
        Empty, truncated before its index, audio only, or a video codec no
        decoder here reads.
    """
    path = os.fspath(path)
    size = _regular_size(path)
    with open_video(path) as container:
        if is_image_container(container):
            raise NotAVideo("a still image, not a video")
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams})
            if "audio" in kinds:
                raise UnreadableVideo("audio only: the file has no video stream")
            raise UnreadableVideo("no video stream in the file"
                                  + (f" (only {', '.join(kinds)})" if kinds else ""))
        stream = container.streams.video[0]
        context = stream.codec_context
        if context is None or _no_decoder(stream):
            raise UnreadableVideo(f"unsupported video codec "
                                  f"({_codec_label(stream)}): no decoder for it here")
        rate = stream.average_rate or stream.guessed_rate
        duration = (float(stream.duration * stream.time_base) if stream.duration
                    else container.duration / av.time_base if container.duration else None)
        return VideoInfo(path, size, container.format.name, context.name, context.width,
                         context.height, float(rate) if rate else None, duration,
                         stream.time_base or Fraction(1, av.time_base))


def _no_decoder(stream: av.video.stream.VideoStream) -> bool:
    name = stream.codec_context.name if stream.codec_context is not None else None
    if not name:
        return True
    try:
        av.codec.Codec(name, "r")
    except (av.error.FFmpegError, ValueError):  # UnknownCodecError is a ValueError
        return True
    return False


def _codec_label(stream: av.video.stream.VideoStream) -> str:
    # FFmpeg names a codec it knows of even without a decoder for it; a codec it
    # does not know at all (an unregistered FourCC) leaves no context to ask.
    name = stream.codec_context.name if stream.codec_context is not None else None
    return name or "a codec FFmpeg does not know"


