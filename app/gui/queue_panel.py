"""The queue chooser: which samples the annotator sees, in which order."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.project_model import ProjectModel
from app.gui.queue_filter_panel import QueueFilterPanel
from app.labeling.queues import (
    MEDIA_FILTERS,
    QUEUE_KINDS,
    QUEUE_TITLES,
    QueueSpec,
    queue_kind,
    uncertain_hint,
)
from sampling.strategies import STRATEGIES

MINING_METHODS = ("phash", "embedding", "both")
MEDIA_TITLES = {"all": "Images and videos", "images": "Images", "videos": "Videos"}
ALL_CLASSES = "All classes"


class QueuePanel(QWidget):
    chosen = Signal()  # the annotator picked a queue (remembered for next time)

    def __init__(self, project: ProjectModel) -> None:
        super().__init__()
        self.project = project
        self._batch: int | None = None  # set when the monitor opens a batch's drift queue
        self.setObjectName("queuePanel")
        self.kinds = QListWidget()
        self.kinds.setObjectName("queueKinds")
        self.kinds.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for kind in QUEUE_KINDS:
            item = QListWidgetItem(QUEUE_TITLES[kind])
            item.setData(Qt.ItemDataRole.UserRole, kind)
            self.kinds.addItem(item)
        # Every queue in sight, none behind a scroll bar: as tall as its rows.
        self.kinds.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.kinds.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.kinds.setFixedHeight(self.kinds.sizeHintForRow(0) * self.kinds.count()
                                  + 2 * self.kinds.frameWidth() + 4)

        self.strategy = QComboBox()
        for name, spec in STRATEGIES.items():
            if name != "random":
                self.strategy.addItem(name, name)
                self.strategy.setItemData(self.strategy.count() - 1, spec.description,
                                          Qt.ItemDataRole.ToolTipRole)
        self.strategy.setCurrentIndex(max(0, self.strategy.findData("margin")))
        self.failure_set = QComboBox()
        self.method = QComboBox()
        self.method.addItems(MINING_METHODS)
        self.class_filter = QComboBox()
        self.media = QComboBox()
        self.media.setObjectName("mediaFilter")
        for name in MEDIA_FILTERS:
            self.media.addItem(MEDIA_TITLES[name], name)
        self.refresh = QPushButton("Rebuild queue")
        for widget in (self.strategy, self.failure_set, self.method, self.class_filter,
                       self.media, self.refresh):
            widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        options = QFormLayout()
        options.addRow("Strategy", self.strategy)
        options.addRow("Failure set", self.failure_set)
        options.addRow("Method", self.method)
        options.addRow("Class", self.class_filter)
        options.addRow("Show", self.media)

        self.filters = QueueFilterPanel()

        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setObjectName("queueHint")

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Queues</b>"))
        layout.addWidget(self.kinds)
        layout.addLayout(options)
        layout.addWidget(self.filters)
        layout.addWidget(self.refresh)
        layout.addWidget(self.hint)
        layout.addStretch(1)

        self.reload_choices()
        self._select_kind(project.spec.kind)
        self.kinds.currentRowChanged.connect(lambda _row: self._choose())
        for combo in (self.strategy, self.failure_set, self.method, self.class_filter,
                      self.media):
            combo.activated.connect(lambda _i: self._choose())
        self.refresh.clicked.connect(self._choose)
        self.filters.changed.connect(self._choose)
        project.labelsChanged.connect(self.update_counts)
        project.queueChanged.connect(self._follow_project)
        project.queueChanged.connect(self._reload_filter_choices)
        project.failureSetsChanged.connect(self.reload_choices)
        project.classesChanged.connect(self.reload_choices)

    def _choose(self) -> None:
        self.apply()
        self.chosen.emit()

    def _follow_project(self) -> None:
        # The queue may be switched from outside (the window opening, the monitor).
        if self.kinds.currentItem() is None or \
                self.kinds.currentItem().data(Qt.ItemDataRole.UserRole) != self.project.spec.kind:
            self._select_kind(self.project.spec.kind)
        self.update_counts()

    def reload_choices(self) -> None:
        current_set = self.failure_set.currentText()
        self.failure_set.clear()
        self.failure_set.addItems(self.project.failure_sets())
        if current_set and self.failure_set.findText(current_set) >= 0:
            self.failure_set.setCurrentText(current_set)
        current_class = self.class_filter.currentText()
        self.class_filter.clear()
        self.class_filter.addItem(ALL_CLASSES)
        self.class_filter.addItems(self.project.classes())
        if current_class and self.class_filter.findText(current_class) >= 0:
            self.class_filter.setCurrentText(current_class)
        self._reload_filter_choices()
        self.update_counts()

    def _reload_filter_choices(self) -> None:
        # New annotators, import batches and videos show up with the next queue.
        workspace = self.project.workspace
        self.filters.reload_choices(self.project.classes(), workspace.annotator_names(),
                                    workspace.list_batches(), workspace.media())

    def update_counts(self) -> None:
        counts = self.project.counts()
        for row in range(self.kinds.count()):
            item = self.kinds.item(row)
            kind = item.data(Qt.ItemDataRole.UserRole)
            shown = len(self.project.queue) if kind == self.project.spec.kind else None
            text = f"{QUEUE_TITLES[kind]}  ({counts[kind]})"
            if queue_kind(kind).counted_when_built:
                text = f"{QUEUE_TITLES[kind]}  ({shown if shown is not None else '–'})"
            item.setText(text)
        kind = self.project.spec.kind
        no_model = self.project.workspace.latest_model() is None
        special = uncertain_hint(self.project.spec.strategy, not no_model) \
            if kind == "uncertain" else None
        self.hint.setText(special or queue_kind(kind).hint)

    def _select_kind(self, kind: str) -> None:
        self.kinds.blockSignals(True)
        self.kinds.setCurrentRow(QUEUE_KINDS.index(kind))
        self.kinds.blockSignals(False)

    def current_spec(self) -> QueueSpec:
        item = self.kinds.currentItem()
        kind = item.data(Qt.ItemDataRole.UserRole) if item else "unlabeled"
        class_name = self.class_filter.currentText()
        return QueueSpec(
            kind=kind,
            strategy=self.strategy.currentData() or "margin",
            failure_set=self.failure_set.currentText() or None,
            method=self.method.currentText(),
            class_filter=None if class_name in ("", ALL_CLASSES) else class_name,
            batch=self._batch if kind == "drift" else None,
            filters=self.filters.filter(),
            media=self.media.currentData() or "all",
        )

    def select(self, spec: QueueSpec, *, keep_current: bool = False) -> None:
        """Show ``spec`` (used by tests and menus as a user's click would)."""
        self._select_kind(spec.kind)
        if spec.kind == "uncertain":
            self.strategy.setCurrentIndex(self.strategy.findData(spec.strategy))
        if spec.failure_set:
            self.failure_set.setCurrentText(spec.failure_set)
            self.method.setCurrentText(spec.method)
        self.class_filter.setCurrentText(spec.class_filter or ALL_CLASSES)
        self.filters.set_filter(spec.filters)
        self._batch = spec.batch
        self.media.setCurrentIndex(max(0, self.media.findData(spec.media)))
        self.apply(keep_current=keep_current)

    def apply(self, *, keep_current: bool = False) -> None:
        spec = self.current_spec()
        self.strategy.setEnabled(spec.kind == "uncertain")
        self.failure_set.setEnabled(spec.kind == "failures")
        self.method.setEnabled(spec.kind == "failures")
        self.class_filter.setEnabled(spec.kind == "labeled")
        self.project.show_queue(spec, keep_current=keep_current)
        self.update_counts()
