"""The thumbnail grid: a virtualised icon-mode list over the queue."""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QSize, Qt
from PySide6.QtWidgets import QAbstractItemView, QListView

from app.gui.project_model import ProjectModel
from app.gui.thumbnail_model import SampleIdRole, ThumbnailListModel

TILE = 96
# The widest first caption line: a score in exponent form, or a long sample id.
WIDEST_CAPTION = "-8.8e-08"


class ThumbnailGrid(QListView):
    """Shows the queue; clicking a tile makes it the current sample.

    Ctrl-click and Shift-click select several tiles (``Ctrl+A`` all of the
    queue, Esc none); a class key then labels every selected sample at
    once.  The selection lives in :attr:`ProjectModel.selected`, and the
    grid mirrors it both ways.
    """

    def __init__(self, project: ProjectModel, model: ThumbnailListModel) -> None:
        super().__init__()
        self.project = project
        self.setObjectName("thumbnailGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setUniformItemSizes(True)  # lets Qt lay out 100,000 rows without asking each
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.set_tile(model.thumbnails.box)
        self.setSpacing(2)
        self.setWordWrap(True)
        # Keys belong to labeling; the grid is for looking and clicking.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setModel(model)
        self._mirroring = False  # True while the grid copies the project's selection
        self.clicked.connect(self._clicked)
        self.selectionModel().selectionChanged.connect(self._selection_changed)
        project.currentChanged.connect(self.follow_current)
        project.selectionChanged.connect(self.follow_selection)

    def _clicked(self, index) -> None:
        # A plain click picks one sample to look at; Ctrl/Shift clicks build a
        # selection and leave the sample on screen where it is.
        if len(self.project.selected) <= 1:
            self.project.go_to(index.row())

    def _selection_changed(self, *_args) -> None:
        if self._mirroring:
            return
        rows = sorted(index.row() for index in self.selectionModel().selectedIndexes())
        ids = [self.model().index(row, 0).data(SampleIdRole) for row in rows]
        self.project.set_selection(ids if len(ids) > 1 else [])

    def follow_selection(self) -> None:
        """Select in the grid what the project has selected (Ctrl+A, Escape, a new queue)."""
        selected = self.project.selected
        shown = {self.model().index(i.row(), 0).data(SampleIdRole)
                 for i in self.selectionModel().selectedIndexes()}
        if len(selected) > 1 and shown == set(selected):
            return
        self._mirroring = True
        try:
            if len(selected) == len(self.project.queue) and selected:
                # Everything: one range, not 100,000 single rows.
                last = self.model().index(len(selected) - 1, 0)
                self.selectionModel().select(
                    QItemSelection(self.model().index(0, 0), last),
                    QItemSelectionModel.SelectionFlag.ClearAndSelect)
            elif len(selected) > 1:
                rows = {item.sample_id: row for row, item in enumerate(self.project.queue)}
                selection = QItemSelection()
                for sid in selected:
                    if sid in rows:
                        index = self.model().index(rows[sid], 0)
                        selection.select(index, index)
                self.selectionModel().select(
                    selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            else:
                self.follow_current()
        finally:
            self._mirroring = False

    def set_tile(self, side: int) -> None:
        """Show thumbnails ``side`` pixels square (the Settings dialog's thumbnail size)."""
        self._tile = side
        self.setIconSize(QSize(side, side))
        self.setGridSize(self.tile_size())

    def tile_size(self) -> QSize:
        """Room for the icon and two caption lines in the view's own font."""
        metrics = self.fontMetrics()
        width = max(self._tile, metrics.horizontalAdvance(WIDEST_CAPTION)) + 16
        return QSize(width, self._tile + 2 * metrics.lineSpacing() + 14)

    def follow_current(self) -> None:
        position = self.project.session.position
        model = self.model()
        several = len(self.project.selected) > 1
        self._mirroring = True
        try:
            if not 0 <= position < model.rowCount():
                if not several:
                    self.clearSelection()
                return
            index = model.index(position, 0)
            # With several tiles selected the current one moves alone, so the
            # selection stays what the annotator made it.
            flag = (QItemSelectionModel.SelectionFlag.NoUpdate if several
                    else QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.selectionModel().setCurrentIndex(index, flag)
            self.scrollTo(index, QListView.ScrollHint.EnsureVisible)
        finally:
            self._mirroring = False
