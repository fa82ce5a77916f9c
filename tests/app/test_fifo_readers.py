"""A FIFO put where a pool image was refuses at once in every later reader.

Import already refuses FIFOs (tests/app/test_hostile_inputs.py); these are the
readers of files already in the pool: training and scoring decode, the GUI's
thumbnails, and the exporter's sha256. Each call runs in a daemon thread, so
a reader that blocks fails the test instead of hanging it.
"""

from __future__ import annotations

import os
import threading

import pytest

from app.files.file_digest import file_sha256
from models.data import ImageReadError, load_rgb, read_image_size


def _finishes(call, seconds: float = 10.0):
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the reader blocked on a FIFO"
    return outcome


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "digit.png"
    os.mkfifo(path)
    return path


def test_decoding_for_training_and_scoring_refuses_a_fifo(fifo):
    for reader in (load_rgb, read_image_size):
        error = _finishes(lambda reader=reader: reader(fifo))["error"]
        assert isinstance(error, ImageReadError) and "not a regular file" in str(error)


def test_the_exporters_sha256_refuses_a_fifo(fifo):
    error = _finishes(lambda: file_sha256(fifo))["error"]
    assert isinstance(error, OSError) and "not a regular file" in str(error)


def test_a_thumbnail_of_a_fifo_is_empty(fifo, qapp):
    from app.gui.thumbnails import decode_scaled

    assert _finishes(lambda: decode_scaled(str(fifo), 64))["value"].isNull()
