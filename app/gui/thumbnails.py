"""Decoding images off the UI thread, with bounded memory and a disk cache.

Worker threads decode into ``QImage`` (thread-safe); only the UI thread
turns them into ``QPixmap``, as Qt requires.  Recently used pixmaps stay in
memory up to a fixed count; small thumbnails also go to the project's
cache folder so the next session starts warm.
"""

from __future__ import annotations

import os
import stat
import weakref
from collections import OrderedDict
from itertools import count
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap

from app.gui.garbage_collection import collect_on_ui_thread


def decode_scaled(path: str, box: int, enlarge: bool = True) -> QImage:
    """The image at ``path``, upright (EXIF), scaled to fit ``box`` x ``box``.

    ``enlarge=False`` leaves an image smaller than the box at its own size
    (the large view enlarges at paint time, where 1:1 must mean the file's
    pixels).

    A null image when ``path`` is not a regular file: a FIFO put in place of
    an image would block the decoding thread forever.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return QImage()
    except OSError:
        return QImage()
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and (size.width() > box or size.height() > box):
        # Decoding at the target size is much cheaper for big JPEGs.
        reader.setScaledSize(size.scaled(QSize(box, box), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return image
    smaller = image.width() < box and image.height() < box
    if image.width() != box and image.height() != box and (enlarge or not smaller):
        # Down: smooth. Up (tiny images such as digits): keep the pixels crisp.
        mode = (Qt.TransformationMode.SmoothTransformation
                if image.width() > box or image.height() > box
                else Qt.TransformationMode.FastTransformation)
        image = image.scaled(box, box, Qt.AspectRatioMode.KeepAspectRatio, mode)
    return image


class _DecodeRelay(QObject):
    """The one signal source of every decode job, alive as long as the application.

    A job holds only numbers and this relay, so nothing Qt owns is ever
    destroyed on a pool thread, even when its cache closed while it decoded.
    """

    decoded = Signal(int, int, int, QImage)  # cache token, sample id, box, image

    def __init__(self, parent: QObject | None) -> None:
        super().__init__(parent)
        self.caches: weakref.WeakValueDictionary[int, ImageCache] = (
            weakref.WeakValueDictionary())
        self.decoded.connect(self._deliver)

    def _deliver(self, token: int, sample_id: int, box: int, image: QImage) -> None:
        cache = self.caches.get(token)
        if cache is not None:
            cache._on_decoded(sample_id, box, image)


_relay: _DecodeRelay | None = None
_tokens = count(1)


def _the_relay() -> _DecodeRelay:
    """Created on first use, on the UI thread, and parented to the application."""
    global _relay
    if _relay is None:
        collect_on_ui_thread()  # before the first decoding thread starts
        _relay = _DecodeRelay(QCoreApplication.instance())
    return _relay


class _DecodeJob(QRunnable):
    def __init__(self, token: int, key: int, path: str, box: int, enlarge: bool,
                 disk_path: Path | None, relay: _DecodeRelay) -> None:
        super().__init__()
        self.token, self.key, self.path, self.box, self.enlarge, self.disk_path = (
            token, key, path, box, enlarge, disk_path)
        self.relay = relay

    def run(self) -> None:
        image = QImage()
        if self.disk_path is not None and self.disk_path.exists():
            image = QImage(str(self.disk_path))
        if image.isNull():
            image = decode_scaled(self.path, self.box, self.enlarge)
            if not image.isNull() and self.disk_path is not None:
                self.disk_path.parent.mkdir(parents=True, exist_ok=True)
                image.save(str(self.disk_path), "PNG")
        self.relay.decoded.emit(self.token, self.key, self.box, image)


class ImageCache(QObject):
    """Pixmaps by sample id, decoded on demand in a thread pool.

    ``ready(sample_id)`` is emitted when a requested pixmap arrives; a file
    that cannot be decoded gives a null pixmap (and is not retried).
    """

    ready = Signal(int)

    def __init__(self, box: int, capacity: int, disk_dir: Path | None = None,
                 pool: QThreadPool | None = None, *, enlarge: bool = True) -> None:
        super().__init__()
        self.box = box
        self.enlarge = enlarge
        self.capacity = capacity
        self.disk_dir = disk_dir
        self._pool = pool or QThreadPool.globalInstance()
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self._pending: set[int] = set()
        self._relay = _the_relay()
        self._token = next(_tokens)
        self._relay.caches[self._token] = self

    def get(self, sample_id: int) -> QPixmap | None:
        pixmap = self._pixmaps.get(sample_id)
        if pixmap is not None:
            self._pixmaps.move_to_end(sample_id)
        return pixmap

    def request(self, sample_id: int, path: str, sha256: str | None = None) -> QPixmap | None:
        """The pixmap if cached, else None and a decode is queued."""
        cached = self.get(sample_id)
        if cached is not None or sample_id in self._pending:
            return cached
        self._pending.add(sample_id)
        disk = None
        if self.disk_dir is not None and sha256:
            disk = self.disk_dir / sha256[:2] / f"{sha256}-{self.box}.png"
        self._pool.start(_DecodeJob(self._token, sample_id, path, self.box, self.enlarge, disk,
                                    self._relay))
        return None

    def set_box(self, box: int) -> None:
        """Decode at ``box`` from now on; what was cached at the old size is dropped."""
        if box != self.box:
            self.box = box
            self._pixmaps.clear()
            self._pending.clear()

    def __len__(self) -> int:
        return len(self._pixmaps)

    def _on_decoded(self, sample_id: int, box: int, image: QImage) -> None:
        if box != self.box:
            return  # decoded for the size before a change: asked again at the new one
        self._pending.discard(sample_id)
        self._pixmaps[sample_id] = QPixmap.fromImage(image)
        while len(self._pixmaps) > self.capacity:
            self._pixmaps.popitem(last=False)
        self.ready.emit(sample_id)
