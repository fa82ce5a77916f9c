"""Decoding files into tensors and the train / eval transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from models.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageDataset,
    ImageReadError,
    decode_image,
    decode_images,
    eval_transform,
    load_rgb,
    read_image_size,
    train_transform,
)


def _save_with_orientation(path, image: Image.Image, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, exif=exif)


def test_exif_orientation_is_applied(tmp_path):
    # A 40x20 landscape frame whose EXIF says "rotate 90 degrees": a portrait photo.
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)
    pixels[:, :10] = 255  # white band on the left edge
    path = tmp_path / "rotated.jpg"
    _save_with_orientation(path, Image.fromarray(pixels), 6)
    assert Image.open(path).size == (40, 20)
    assert read_image_size(path) == (20, 40)
    image = load_rgb(path)
    assert image.size == (20, 40)
    # Orientation 6 rotates clockwise, so the left band ends up along the top.
    top, bottom = np.asarray(image)[:5].mean(), np.asarray(image)[-5:].mean()
    assert top > 200 > 50 > bottom


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16", "1"])
def test_any_mode_becomes_three_channels(tmp_path, mode):
    path = tmp_path / f"img_{mode.replace(';', '')}.png"
    Image.new(mode, (12, 9)).save(path)
    tensor = decode_image(path, 16)
    assert tensor.dtype == torch.uint8
    assert tensor.shape == (3, 16, 16)


def test_decode_keeps_pixel_layout(tmp_path):
    pixels = np.zeros((16, 16, 3), dtype=np.uint8)
    pixels[0, :, 0] = 255  # red top row
    pixels[:, 0, 2] = 200  # blue left column
    path = tmp_path / "layout.png"
    Image.fromarray(pixels).save(path)
    tensor = decode_image(path, 16)
    assert torch.equal(tensor.permute(1, 2, 0), torch.from_numpy(pixels))


def test_unreadable_image_names_the_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageReadError, match="broken.png") as info:
        decode_image(path, 16)
    assert info.value.path == str(path)
    with pytest.raises(ImageReadError, match="missing.png"):
        decode_images([tmp_path / "missing.png"], 16)


def test_eval_transform_normalises_deterministically():
    raw = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    out = eval_transform()(raw)
    assert out.dtype == torch.float32
    expected = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert torch.allclose(out[0, :, 0, 0], expected)
    assert torch.equal(eval_transform()(raw), out)


def test_train_transform_is_random_but_seedable():
    raw = torch.zeros((3, 32, 32), dtype=torch.uint8)
    raw[:, 8:24, 12:20] = 255
    transform = train_transform()
    torch.manual_seed(0)
    first = [transform(raw) for _ in range(4)]
    torch.manual_seed(0)
    again = [transform(raw) for _ in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], first[1])
    assert train_transform(strength=0)(raw).equal(eval_transform()(raw))


def test_flip_is_off_by_default_and_on_when_asked():
    raw = torch.zeros((3, 8, 8), dtype=torch.uint8)
    raw[:, :, :2] = 255  # bright left edge
    mirrored = eval_transform()(raw.flip(-1))
    no_jitter = train_transform(strength=0)
    assert not any(no_jitter(raw).equal(mirrored) for _ in range(30))
    flipping = train_transform(flip=True, strength=0)
    torch.manual_seed(0)
    assert any(flipping(raw).equal(mirrored) for _ in range(30))


def test_dataset_with_and_without_cache_agree(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (10, 14), color=(40 * i, 10, 200)).save(path)
        paths.append(path)
    cache = decode_images(paths, 16)
    lazy = ImageDataset(paths, 16, labels=[0, 1, 2])
    cached = ImageDataset(paths, 16, labels=[0, 1, 2], cache=cache)
    for i in range(3):
        (a, la), (b, lb) = lazy[i], cached[i]
        assert torch.equal(a, b) and la == lb == i
    assert ImageDataset(paths, 16)[0][1] == -1
    with pytest.raises(ValueError):
        ImageDataset(paths, 16, labels=[0])
