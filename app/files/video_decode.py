"""Decoding only the frames of a video that are wanted, and one frame on demand.

A video import keeps about one frame a second out of 25-60, so decoding
every frame to RGB would waste most of the work.  Two passes keep it small:

1. :func:`scan_frames` demuxes the file without decoding: every packet's
   presentation timestamp (pts) and keyframe flag.  Sorting the pts gives
   each frame its index and time in presentation order, exactly, for a
   variable frame rate too.  Reading packets costs about as much as reading
   the file, a few percent of decoding it.
2. :class:`SelectiveDecoder` decodes again, asking the decoder to skip what
   nobody wants: a group of pictures (keyframe to keyframe, in decode
   order) holding no wanted frame is never sent to the decoder at all, nor
   is the rest of a group after its last wanted frame; inside a group a
   frame that is not wanted and that no other frame refers to
   (``skip_frame = NONREF``: H.264/H.265 disposable B-frames, VP8/VP9
   frames that refresh no reference) is dropped by the decoder unbuilt.
   Only wanted frames are converted to pixels, by the caller.

Memory stays at a few frames whatever the length of the video: packets are
streamed, the decoder holds its reference frames, and frames are handed on
one at a time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from numpy.typing import NDArray

from app.files.video_probe import UnreadableVideo, open_video

av.logging.set_level(av.logging.PANIC)  # reasons are reported per file, not as decoder chatter

# A video whose packets stop this much before its declared duration was cut short.
_TRUNCATION_SLACK_S = 0.5


@dataclass(frozen=True)
class FrameTable:
    """Every frame of a video's first video stream, from its packets alone.

    ``pts`` (ascending) and ``times`` are in presentation order, so frame
    ``i`` of the video has timestamp ``pts[i]`` and time ``times[i]`` seconds
    from the first frame.  ``decode_pts`` and ``decode_key`` are the same
    packets in file (decode) order with their keyframe flags.
    """

    pts: NDArray[np.int64]
    times: NDArray[np.float64]
    time_base: Fraction
    first_pts: int
    decode_pts: NDArray[np.int64]
    decode_key: NDArray[np.bool_]
    damage: str | None  # why the readable frames end before the video does, if they do

    def __len__(self) -> int:
        return int(self.pts.size)

    def index_of(self, pts: int) -> int:
        return int(np.searchsorted(self.pts, pts))


def scan_frames(path: str | os.PathLike[str], duration_s: float | None = None) -> FrameTable:
    """Read every packet's timestamp and keyframe flag, decoding nothing.

    Parameters
    ----------
    path : path-like
        The video.
    duration_s : float, optional
        The duration its header declares; packets ending well before it mean
        the file was cut short, which ``damage`` then says.

    Raises
    ------
    UnreadableVideo
        The file has no video packet with a timestamp.
    """
    with open_video(path) as container:
        return scan_container(container, duration_s)


def scan_container(container: av.container.InputContainer,
                   duration_s: float | None = None) -> FrameTable:
    """:func:`scan_frames` on a container already open (read to its end)."""
    decode_pts: list[int] = []
    decode_key: list[bool] = []
    cause = None  # why reading stopped early, if it did
    stream = container.streams.video[0]
    time_base = stream.time_base or Fraction(1, av.time_base)
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the demuxer's end-of-stream marker
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is None or packet.is_corrupt:
                # Past the end of a cut file the index still lists packets,
                # but their data is missing or cut off.
                cause = "a packet is missing or cut off"
                break
            decode_pts.append(int(stamp))
            decode_key.append(bool(packet.is_keyframe))
    except av.error.FFmpegError as exc:
        cause = f"unreadable data ({exc.strerror or exc})"
    if not decode_pts:
        raise UnreadableVideo("no decodable video frame" + (f": {cause}" if cause else ""))
    dec = np.asarray(decode_pts, dtype=np.int64)
    pts = np.unique(dec)
    first = int(pts[0])
    times = (pts - first).astype(np.float64) * float(time_base)
    frame_gap = float(np.median(np.diff(times))) if times.size > 1 else 0.0
    end = float(times[-1]) + frame_gap
    declared = f" of a declared {duration_s:.2f} s" if duration_s else ""
    damage = None
    if cause is not None:
        damage = f"the data ends after {end:.2f} s{declared} ({cause})"
    elif duration_s is not None and \
            end < duration_s - max(_TRUNCATION_SLACK_S, 2 * frame_gap):
        damage = f"the file ends after {end:.2f} s{declared}"
    return FrameTable(pts, times, time_base, first, dec, np.asarray(decode_key, dtype=bool),
                      damage)


class _Misaligned(Exception):
    """A rewound container does not start at the scan's first packet."""


class SelectiveDecoder:
    """Decode the frames whose pts are in ``wanted`` (all frames when it is None).

    Iterating yields ``(pts, frame)`` in presentation order.  If the data
    turns out damaged part way, iteration ends after the last good frame and
    ``damage`` says what happened and when.  ``container``: the one the table
    was scanned from, rewound and read again instead of opening the file a
    second time (opening costs ~30 ms: FFmpeg probes the streams); when it
    cannot be rewound to the scan's first packet, the file is opened anew.
    """

    def __init__(self, path: str | os.PathLike[str], table: FrameTable,
                 wanted: set[int] | None, *, threads: bool = True,
                 container: av.container.InputContainer | None = None) -> None:
        self.path = os.fspath(path)
        self.container = container
        self.table = table
        self.wanted = wanted
        self.threads = threads
        self.damage: str | None = None
        self.decoded = 0  # frames the decoder produced (wanted or not)
        self._last_index = 0

    def _needed_packets(self) -> NDArray[np.bool_]:
        """Per packet (decode order): whether it must be sent to the decoder.

        A packet is needed when it belongs to a group of pictures holding a
        wanted frame and does not come after the group's last wanted packet:
        a frame is decoded from frames decoded before it, never after, so
        the tail of a group is nobody's reference once its wanted frames are in.
        """
        count = self.table.decode_pts.size
        if self.wanted is None:
            return np.ones(count, dtype=bool)
        group = np.cumsum(self.table.decode_key)
        hit = np.isin(self.table.decode_pts, np.fromiter(self.wanted, dtype=np.int64))
        last_hit = np.full(int(group.max(initial=0)) + 1, -1, dtype=np.int64)
        np.maximum.at(last_hit, group[hit], np.flatnonzero(hit))
        return np.arange(count) <= last_hit[group]

    def __iter__(self) -> Iterator[tuple[int, av.VideoFrame]]:
        if self.container is not None:
            try:
                self.container.seek(0)
                yield from self._decode(self.container)
                return
            except _Misaligned:
                pass  # nothing was yielded yet: read the file afresh
            except av.error.FFmpegError:
                pass  # not seekable
        with open_video(self.path) as container:
            yield from self._decode(container)

    def _decode(self, container: av.container.InputContainer
                ) -> Iterator[tuple[int, av.VideoFrame]]:
        needed = self._needed_packets()
        wanted = self.wanted
        stream = container.streams.video[0]
        if self.threads:
            stream.thread_type = "AUTO"
        context = stream.codec_context
        skipping = False  # the decoder was drained before a skipped group
        mode = "DEFAULT"
        number = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if number >= needed.size:
                    break  # beyond what the scan saw (it stopped at damage)
                stamp = packet.pts if packet.pts is not None else packet.dts
                if number == 0 and stamp != self.table.decode_pts[0]:
                    raise _Misaligned
                send = bool(needed[number])
                number += 1
                if not send:
                    if not skipping:
                        # Drain what the decoder still holds, then forget the
                        # references: the next group sent starts at a keyframe.
                        yield from self._frames(context.decode(None))
                        context.flush_buffers()
                        skipping = True
                    continue
                skipping = False
                want_mode = "DEFAULT" if wanted is None or stamp in wanted else "NONREF"
                if want_mode != mode:
                    context.skip_frame = want_mode
                    mode = want_mode
                yield from self._frames(context.decode(packet))
            if not skipping:
                yield from self._frames(context.decode(None))
        except av.error.FFmpegError as exc:
            seen = self.table.times[min(self._last_index, len(self.table) - 1)]
            self.damage = (f"damaged data after {seen:.2f} s "
                           f"({exc.strerror or type(exc).__name__})")
            # Leave no frame in flight in the frame threads (see decode_frame_at).
            with contextlib.suppress(av.error.FFmpegError):
                context.decode(None)

    def _frames(self, frames: list[av.VideoFrame]) -> Iterator[tuple[int, av.VideoFrame]]:
        for frame in frames:
            self.decoded += 1
            stamp = frame.pts
            if stamp is None:
                continue
            self._last_index = self.table.index_of(stamp)
            if self.wanted is None or stamp in self.wanted:
                yield int(stamp), frame


def decode_frame_at(path: str | os.PathLike[str], pts: int) -> NDArray[np.uint8]:
    """The RGB pixels ``[h, w, 3]`` of the frame with timestamp ``pts``, by seeking.

    Seeks to the keyframe at or before ``pts`` and decodes forward: the cost
    of one group of pictures, not of the video.

    Raises
    ------
    UnreadableVideo
        The video is unreadable or has no frame at ``pts``.
    """
    with open_video(path) as container:
        stream = container.streams.video[0]
        # Slice threads only: this loop stops with frames still in flight, and
        # leaving a frame-threaded decoder so, in a process that has imported
        # torch, can hang forever (PyAV issues #1849, #1861; seen here once in
        # about four runs of the video benchmark).
        stream.thread_type = "SLICE"
        container.seek(int(pts), stream=stream, backward=True, any_frame=False)
        try:
            for frame in container.decode(stream):
                if frame.pts is not None and frame.pts >= pts:
                    if frame.pts != pts:
                        break
                    return frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise UnreadableVideo(f"frame at pts {pts}: {exc.strerror or exc}") from exc
    raise UnreadableVideo(f"no frame with pts {pts} in {os.fspath(path)}")
