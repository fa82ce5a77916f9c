"""The frame cache's PNG writer: standard files, exact pixels, imagehash's hash."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from PIL import Image

from app.files.png_write import encode_png
from app.pool.importer import import_images
from app.project.workspace import Workspace
from sampling.hashing import int64_to_codes
from tests.app.video_fixtures import make_video


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (48, 64), (37, 101)])
def test_png_round_trips_exactly_through_pillow(tmp_path, shape):
    rgb = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    path = tmp_path / "f.png"
    path.write_bytes(encode_png(rgb))
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        assert np.array_equal(np.asarray(image), rgb)


def test_png_refuses_what_is_not_rgb8():
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), dtype=np.float32))


def test_stored_frame_hash_is_imagehash_of_the_cached_file(tmp_path):
    video = tmp_path / "v.webm"
    make_video(video, fps=25, width=96, height=64)
    with Workspace.init(tmp_path / "p", ["a"]) as ws:
        import_images(ws, [video], workers=2)  # the writer threads
        frames = [s for s in ws.samples() if s.is_frame]
        assert frames
        for frame in frames:
            expected = str(imagehash.phash(Image.open(ws.resolve(frame.path))))
            assert int64_to_codes([frame.phash])[0].tobytes().hex() == expected
