"""Is this file a video, and what kind: detected by content with PyAV (FFmpeg).

Whether a file is a video is what FFmpeg's demuxers make of its bytes, not
its name.  A folder walk offers files with an image or video suffix, and any
other file whose first bytes are a video container's signature
(:func:`looks_like_video`: a read of 512 bytes, so a folder of sidecar files
costs little); a file with an image suffix that no image decoder reads but
whose bytes are a video's is imported as the video it is.  Every way a file
can fail to be a usable video has a reason a user can act on, the way
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

# ISO base media (MP4, MOV, M4V, 3GP) brands that are still images, not videos.
_STILL_IMAGE_BRANDS = frozenset({b"avif", b"heic", b"heix", b"mif1", b"jpeg"})
# The first box of an ISO base media file (MP4, MOV): ``ftyp``, or in old
# QuickTime files a movie, data or padding box.
_ISO_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
_SNIFF_BYTES = 512
_TS_PACKET = 188  # MPEG transport stream packets each start with the sync byte 0x47

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


def video_signature(head: bytes) -> str | None:
    """The container family whose signature ``head`` (a file's first bytes) starts with.

    ``None`` when it is no video container's.  Only families with a fixed
    signature are named (a raw elementary stream has none to trust); the
    probe that follows decides whether the file really holds a video.
    """
    if head[4:8] in _ISO_FIRST_BOXES:
        return None if head[4:8] == b"ftyp" and head[8:12] in _STILL_IMAGE_BRANDS else "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"  # MKV and WebM (EBML)
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg"  # MPEG program stream (.mpg, .vob)
    if head.startswith(b"FLV\x01"):
        return "flv"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf"  # WMV
    if head.startswith(b"OggS"):
        return "ogg"
    for offset in (0, 4):  # .ts, then .m2ts (a 4-byte time code before each packet)
        step = _TS_PACKET + offset
        if len(head) > offset + 2 * step and all(
                head[offset + k * step] == 0x47 for k in range(3)):
            return "mpegts"
    return None


def looks_like_video(path: str | os.PathLike[str]) -> bool:
    """Whether a regular file's first bytes are a video container's signature.

    Reads at most 512 bytes; a FIFO, a device or a missing file is no video
    here (and is never opened, so a FIFO cannot block the walk).
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return False
    return video_signature(head) is not None


def _looks_like_mp4(path: str) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(12)
    return head[4:8] in _ISO_FIRST_BOXES


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
        return probe_container(container, path, size)


def probe_container(container: av.container.InputContainer, path: str,
                    size_bytes: int) -> VideoInfo:
    """:func:`probe_video` of a container already open (the import reads it on)."""
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
    return VideoInfo(path, size_bytes, container.format.name, context.name, context.width,
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


