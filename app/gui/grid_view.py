"""The thumbnail grid: a virtualised icon-mode list over the queue."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QSize, Qt
from PySide6.QtWidgets import QListView

from app.gui.project_model import ProjectModel
from app.gui.thumbnail_model import ThumbnailListModel

TILE = 96
# The widest first caption line: a score in exponent form, or a long sample id.
WIDEST_CAPTION = "-8.8e-08"


class ThumbnailGrid(QListView):
    """Shows the queue; clicking a tile makes it the current sample."""

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
        self.setIconSize(QSize(TILE, TILE))
        self.setGridSize(self.tile_size())
        self.setSpacing(2)
        self.setWordWrap(True)
        # Keys belong to labeling; the grid is for looking and clicking.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setModel(model)
        self.clicked.connect(lambda index: project.go_to(index.row()))
        project.currentChanged.connect(self.follow_current)

    def tile_size(self) -> QSize:
        """Room for the icon and two caption lines in the view's own font."""
        metrics = self.fontMetrics()
        width = max(TILE, metrics.horizontalAdvance(WIDEST_CAPTION)) + 16
        return QSize(width, TILE + 2 * metrics.lineSpacing() + 14)

    def follow_current(self) -> None:
        position = self.project.session.position
        model = self.model()
        if not 0 <= position < model.rowCount():
            self.clearSelection()
            return
        index = model.index(position, 0)
        self.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.scrollTo(index, QListView.ScrollHint.EnsureVisible)
