"""Real videos made with PyAV for the video tests, with known content.

A video is a list of scenes, each a solid colour with a pattern (so that
perceptual hashes of different scenes differ) shown for a number of
seconds.  The encoder is real (libx264 in MP4, libvpx-vp9 in WebM, MJPEG in
AVI), so the tests exercise the same demuxers and decoders users' files do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

CODECS = {".mp4": "libx264", ".webm": "libvpx-vp9", ".avi": "mjpeg", ".mkv": "libx264"}


@dataclass(frozen=True)
class Scene:
    """``seconds`` of one still picture: a smooth random pattern drawn from ``seed``.

    Smooth and random, not flat: a perceptual hash of a flat colour rests on
    near-zero DCT terms that compression noise flips, while distinct smooth
    patterns lie ~30 of 64 bits apart and survive encoding within a few bits.
    """

    seconds: float
    seed: int

    def picture(self, width: int, height: int) -> np.ndarray:
        grid = np.random.default_rng(self.seed).integers(0, 256, (4, 5, 3), dtype=np.uint8)
        image = Image.fromarray(grid, mode="RGB").resize((width, height), Image.BILINEAR)
        return np.asarray(image)


SCENES = (Scene(2.0, 1), Scene(1.5, 2), Scene(3.0, 3), Scene(1.0, 4))


def make_video(path: Path, scenes: Sequence[Scene] = SCENES, *, fps: int = 25,
               width: int = 64, height: int = 48, frame_times: Sequence[float] | None = None,
               codec: str | None = None, gop: int | None = None,
               preset: str = "ultrafast", faststart: bool = False) -> list[float]:
    """Write a video of ``scenes`` and return the presentation time of every frame.

    ``frame_times`` (seconds, ascending) gives a variable-frame-rate video:
    frame ``i`` is shown at ``frame_times[i]``; otherwise frames are ``1/fps`` apart.
    ``preset`` is x264's (H.264 only); ``faststart`` puts an MP4's index (moov)
    before the frames, as streaming-ready files have it.
    """
    codec = codec or CODECS[path.suffix]
    total = sum(s.seconds for s in scenes)
    if frame_times is None:
        frame_times = [i / fps for i in range(round(total * fps))]
    time_base = Fraction(1, 1000) if path.suffix != ".avi" else Fraction(1, fps)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        stream.time_base = time_base
        if codec == "libx264":
            # ultrafast: no B-frames; "medium" gives B-frames, reordered and partly disposable.
            stream.options = {"preset": preset, "crf": "10"}
            if gop:  # fixed groups of pictures: no extra keyframe at a scene cut
                stream.codec_context.gop_size = gop
                stream.options = {**stream.options, "sc_threshold": "0"}
        if codec == "libvpx-vp9":
            stream.options = {"deadline": "realtime", "cpu-used": "8", "crf": "10", "b": "0"}
        pictures = [s.picture(width, height) for s in scenes]
        bounds = np.cumsum([s.seconds for s in scenes])
        for t in frame_times:
            scene = min(int(np.searchsorted(bounds, t, side="right")), len(scenes) - 1)
            frame = av.VideoFrame.from_ndarray(pictures[scene], format="rgb24")
            frame.pts = round(t / time_base)
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return list(frame_times)


def scene_of(t: float, scenes: Sequence[Scene] = SCENES) -> int:
    """The index of the scene shown at time ``t``."""
    bounds = np.cumsum([s.seconds for s in scenes])
    return min(int(np.searchsorted(bounds, t, side="right")), len(scenes) - 1)


def make_audio_only(path: Path, seconds: float = 1.0) -> None:
    """An AAC-in-MP4 file with one audio stream and no video."""
    rate = 16000
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        samples = np.sin(np.linspace(0, 440 * 2 * np.pi * seconds, int(rate * seconds)))
        pcm = (samples * 0.3).astype(np.float32)[None, :]
        for start in range(0, pcm.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, start:start + 1024]),
                                               format="fltp", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_unknown_codec(path: Path) -> None:
    """An AVI whose video stream names a codec (FourCC) no decoder knows."""
    make_video(path.with_suffix(".tmp.avi"), SCENES[:1], fps=5)
    data = path.with_suffix(".tmp.avi").read_bytes()
    path.with_suffix(".tmp.avi").unlink()
    path.write_bytes(data.replace(b"MJPG", b"QQ9Z"))


def decoded_frames(path: Path) -> list[tuple[float, np.ndarray]]:
    """Every frame of ``path`` as (time in seconds, RGB pixels), by a plain full decode."""
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            out.append((float(frame.time), frame.to_ndarray(format="rgb24")))
    return out
