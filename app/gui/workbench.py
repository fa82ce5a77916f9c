"""The central widget of an open project: queues | current sample | thumbnail grid."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QVBoxLayout, QWidget

from app.gui.grid_view import TILE, ThumbnailGrid
from app.gui.history_panel import HistoryPanel
from app.gui.labeling_view import LabelingView
from app.gui.pretrain_panel import PretrainPanel
from app.gui.project_model import ProjectModel
from app.gui.queue_panel import QueuePanel
from app.gui.thumbnail_model import ThumbnailListModel
from app.gui.thumbnails import ImageCache
from app.gui.training_panel import TrainingPanel

THUMBNAIL_CAPACITY = 3000  # pixmaps kept in memory (~100 MB at 96 px)
IMAGE_CAPACITY = 32        # large images kept for back/forward


class Workbench(QWidget):
    def __init__(self, project: ProjectModel, thumbnail_side: int = TILE, *,
                 auto_pretrain: bool = False) -> None:
        super().__init__()
        self.project = project
        self.thumbnails = ImageCache(thumbnail_side, THUMBNAIL_CAPACITY,
                                     disk_dir=project.root / "cache" / "thumbs")
        # Not enlarged: the image view enlarges small images itself, pixel for pixel.
        self.images = ImageCache(1024, IMAGE_CAPACITY, enlarge=False)
        self.queue_panel = QueuePanel(project)
        self.labeling = LabelingView(project, self.images, self.thumbnails)
        self.grid_model = ThumbnailListModel(project, self.thumbnails)
        self.grid = ThumbnailGrid(project, self.grid_model)
        self.training = TrainingPanel(project)
        self.pretraining = PretrainPanel(project, auto=auto_pretrain)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.queue_panel, 1)
        left_layout.addWidget(self.training)
        left_layout.addWidget(self.pretraining)
        left.setMinimumWidth(250)
        # Queues, filters and training are taller than a laptop screen: they
        # scroll as one column instead of squeezing each other's controls.
        left_scroll = QScrollArea()
        left_scroll.setObjectName("leftColumn")
        left_scroll.setWidget(left)
        left_scroll.setWidgetResizable(True)
        left_scroll.setFrameShape(QFrame.Shape.NoFrame)
        left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.history = HistoryPanel(project)
        right = QSplitter(Qt.Orientation.Vertical)
        right.setObjectName("gridSplitter")  # its sizes are remembered
        right.addWidget(self.grid)
        right.addWidget(self.history)
        right.setStretchFactor(0, 4)
        right.setStretchFactor(1, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("labelSplitter")  # its sizes are remembered
        splitter.addWidget(left_scroll)
        splitter.addWidget(self.labeling)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([290, 620, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

    def set_thumbnail_size(self, side: int) -> None:
        """Show the grid's thumbnails ``side`` pixels square (decoded again at that size)."""
        self.thumbnails.set_box(side)
        self.grid_model.resize_placeholder()
        self.grid.set_tile(side)
