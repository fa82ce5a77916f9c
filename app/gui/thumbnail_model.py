"""The queue as a Qt list model for the virtualised thumbnail grid."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QPixmap

from app.gui.formatting import score_text
from app.gui.project_model import ProjectModel
from app.gui.thumbnails import ImageCache
from app.learning.pick_reasons import MislabeledReason

SampleIdRole = Qt.ItemDataRole.UserRole + 1
# Every caption has two lines (score or id, then the label), so the grid's
# uniform item size, taken from one row, fits every row.
NO_LABEL = "\u00a0"
# A labeled tile's caption, unless its class has a colour of its own, and the
# tile shown until a thumbnail is decoded: the theme's (set_colours), these
# until the window says which theme it shows.
LABELED_COLOUR = "#7fd17f"
PLACEHOLDER_COLOUR = "#3a3f44"


class ThumbnailListModel(QAbstractListModel):
    """Rows are the project's current queue; only visible rows ask for pixmaps."""

    def __init__(self, project: ProjectModel, thumbnails: ImageCache) -> None:
        super().__init__()
        self.project = project
        self.thumbnails = thumbnails
        self._row_of: dict[int, int] = {}
        self._labels: dict[int, str] = {}
        self._colours: dict[str, QColor] = {}
        self._samples: dict[int, tuple[str, str]] = {}
        self._labeled_colour = QColor(LABELED_COLOUR)
        self._placeholder_colour = QColor(PLACEHOLDER_COLOUR)
        self.resize_placeholder()
        project.queueChanged.connect(self.reload)
        project.labelsChanged.connect(self.refresh_labels)
        project.classesChanged.connect(self._reload_colours)
        thumbnails.ready.connect(self._thumbnail_ready)
        self.reload()

    def resize_placeholder(self) -> None:
        """The grey tile shown until a thumbnail is decoded, at the thumbnails' size."""
        self._placeholder = QPixmap(self.thumbnails.box, self.thumbnails.box)
        self._placeholder.fill(self._placeholder_colour)
        if self.rowCount():
            self.dataChanged.emit(self.index(0), self.index(self.rowCount() - 1),
                                  [Qt.ItemDataRole.DecorationRole])

    def set_colours(self, labeled: str, placeholder: str) -> None:
        """The theme's caption colour of labeled tiles and its placeholder tile."""
        self._labeled_colour = QColor(labeled)
        self._placeholder_colour = QColor(placeholder)
        self.resize_placeholder()  # repaints the placeholders
        if self.rowCount():  # one signal for every row, however long the queue
            self.dataChanged.emit(self.index(0), self.index(self.rowCount() - 1),
                                  [Qt.ItemDataRole.ForegroundRole])

    def reload(self) -> None:
        self.beginResetModel()
        queue = self.project.queue
        self._row_of = {item.sample_id: row for row, item in enumerate(queue)}
        # File and sha256 are looked up when a tile is first painted: a queue
        # of 100,000 samples shows a few dozen tiles, and resolving every path
        # up front cost seconds when a project opened.
        self._samples = {}
        self._labels = self.project.workspace.current_labels()
        self._reload_colours()
        self.endResetModel()

    def _reload_colours(self) -> None:
        self._colours = {name: QColor(style.colour) for name, style
                         in self.project.workspace.class_styles().items() if style.colour}

    def refresh_labels(self) -> None:
        """Repaint the tiles whose label changed, and only those.

        One key press changes one label; announcing every row of a
        100,000-sample queue cost the view ~80 ms per press.
        """
        old, self._labels = self._labels, self.project.workspace.current_labels()
        changed = {sid for sid in old.keys() | self._labels.keys()
                   if old.get(sid) != self._labels.get(sid)}
        roles = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole]
        for row in sorted(self._row_of[sid] for sid in changed if sid in self._row_of):
            index = self.index(row)
            self.dataChanged.emit(index, index, roles)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self.project.queue)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
             ) -> Any:
        if not index.isValid() or index.row() >= len(self.project.queue):
            return None
        item = self.project.queue[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            label = self._labels.get(item.sample_id) or NO_LABEL
            if isinstance(item.reason, MislabeledReason) and label == item.reason.given:
                # A suspect label: the grid says what the model says instead.
                label = f"{label} → {item.reason.suggested}"
            score = score_text(item) if item.score else f"#{item.sample_id}"
            return f"{score}\n{label}"
        if role == Qt.ItemDataRole.DecorationRole:
            path, sha = self._file_of(item.sample_id)
            return self.thumbnails.request(item.sample_id, path, sha) or self._placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"sample {item.sample_id}\n{item.path}"
        if role == Qt.ItemDataRole.ForegroundRole and item.sample_id in self._labels:
            return self._colours.get(self._labels[item.sample_id], self._labeled_colour)
        if role == SampleIdRole:
            return item.sample_id
        return None

    def _file_of(self, sample_id: int) -> tuple[str, str]:
        found = self._samples.get(sample_id)
        if found is None:
            sample = self.project.workspace.sample(sample_id)
            found = (str(self.project.workspace.resolve(sample.path)), sample.sha256)
            self._samples[sample_id] = found
        return found

    def _thumbnail_ready(self, sample_id: int) -> None:
        row = self._row_of.get(sample_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
