"""A row of the kept frames around the current one, for context while labeling a frame.

The thumbnails come from the shared :class:`app.gui.thumbnails.ImageCache`,
which decodes the cached frame PNGs in worker threads, so the strip never
blocks the UI thread; a tile shows "…" until its picture arrives.  Hidden
for image files.  Clicking a tile shows that frame.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from app.domain.records import Item
from app.gui.thumbnails import ImageCache
from app.labeling.video_context import FILMSTRIP_SIDE, Neighbour, clock, neighbours
from app.project.workspace import Workspace

TILE_HEIGHT = 64


class _Tile(QLabel):
    clicked = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.sample_id = 0
        self.setFixedSize(TILE_HEIGHT * 16 // 9, TILE_HEIGHT + 16)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setObjectName("filmstripTile")

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.clicked.emit(self.sample_id)


class Filmstrip(QWidget):
    """``±side`` kept frames of the current frame's video; ``chosen(sample_id)`` on a click."""

    chosen = Signal(int)

    def __init__(self, thumbnails: ImageCache, side: int = FILMSTRIP_SIDE) -> None:
        super().__init__()
        self.setObjectName("filmstrip")
        self.thumbnails = thumbnails
        self.side = side
        self.shown: list[Neighbour] = []
        self.tiles = [_Tile() for _ in range(2 * side + 1)]
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addStretch(1)
        for tile in self.tiles:
            tile.clicked.connect(self._clicked)
            layout.addWidget(tile)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        thumbnails.ready.connect(self._thumb_ready)
        self.hide()

    def show_item(self, workspace: Workspace, item: Item | None) -> None:
        """Show the neighbours of ``item``; hide for an image file or nothing."""
        self.shown = neighbours(workspace, item, self.side) if item is not None else []
        if not self.shown:
            self.hide()
            return
        paths = {s.id: (str(workspace.resolve(s.path)), s.sha256)
                 for s in workspace.samples([n.sample_id for n in self.shown])}
        # Centre the current frame: tile ``side`` is offset 0.
        by_offset = {n.offset: n for n in self.shown}
        for slot, tile in enumerate(self.tiles):
            neighbour = by_offset.get(slot - self.side)
            if neighbour is None:
                tile.sample_id = 0
                tile.clear()
                tile.setToolTip("")
                tile.setProperty("current", False)
                continue
            tile.sample_id = neighbour.sample_id
            tile.setToolTip(f"frame {neighbour.frame_index} · {clock(neighbour.timestamp_s)}")
            tile.setProperty("current", neighbour.offset == 0)
            tile.setStyleSheet("border: 2px solid palette(highlight);"
                               if neighbour.offset == 0 else "")
            path, sha = paths[neighbour.sample_id]
            self._paint(tile, self.thumbnails.request(neighbour.sample_id, path, sha))
        self.show()

    def _paint(self, tile: _Tile, pixmap) -> None:
        if pixmap is None:
            tile.setText("…")
        elif pixmap.isNull():
            tile.setText("?")
        else:
            tile.setPixmap(pixmap.scaled(tile.width() - 4, tile.height() - 4,
                                         Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation))

    def _thumb_ready(self, sample_id: int) -> None:
        for tile in self.tiles:
            if tile.sample_id == sample_id and sample_id:
                self._paint(tile, self.thumbnails.get(sample_id))

    def _clicked(self, sample_id: int) -> None:
        if sample_id:
            self.chosen.emit(sample_id)
