"""The filter box under the queue list: narrows and sorts whichever queue is shown.

Widgets only; what a filter means is :class:`app.labeling.queue_filters.QueueFilter`,
which the CLI's ``labelloop queue`` builds from the same fields.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QWidget,
)

from app.domain.records import ImportBatch, Media
from app.labeling.queue_filters import SORT_ORDERS, QueueFilter

ANY = "Any"
# QDateEdit has no empty state: its minimum date stands for "no bound" and
# shows as the special text.
_NO_DATE = QDate(2000, 1, 1)
# Short enough for the queue column; the tooltips say the rest.
_SORT_TITLES = {"queue": "Queue order", "score": "Score", "time": "Newest", "name": "File name"}


class QueueFilterPanel(QGroupBox):
    """Predicted class, confidence range, labeled by, labeled between, import batch, video, sort."""

    changed = Signal()  # the annotator changed a filter: rebuild the queue

    def __init__(self) -> None:
        super().__init__("Filters")
        self.setObjectName("queueFilters")
        self.predicted = QComboBox()
        self.min_confidence = self._confidence_box(0.0, "from 0")
        self.max_confidence = self._confidence_box(1.0, "to 1")
        self.labeled_by = QComboBox()
        self.labeled_from = self._date_box()
        self.labeled_to = self._date_box()
        self.import_batch = QComboBox()
        self.video = QComboBox()
        self.video.setObjectName("videoFilter")
        self.video.setToolTip("Only the frames of this video")
        self.sort = QComboBox()
        for key, description in SORT_ORDERS.items():
            self.sort.addItem(_SORT_TITLES[key], key)
            self.sort.setItemData(self.sort.count() - 1, description,
                                  Qt.ItemDataRole.ToolTipRole)
        self.clear_button = QPushButton("Clear filters")
        self.clear_button.setObjectName("clearFilters")

        confidence = QHBoxLayout()
        confidence.addWidget(self.min_confidence)
        confidence.addWidget(self.max_confidence)
        form = QFormLayout(self)
        form.addRow("Predicted", self.predicted)
        form.addRow("Confidence", _row(confidence))
        form.addRow("Labeled by", self.labeled_by)
        form.addRow("Labeled from", self.labeled_from)
        form.addRow("Labeled to", self.labeled_to)
        form.addRow("Batch", self.import_batch)
        form.addRow("Video", self.video)
        form.addRow("Sort", self.sort)
        form.addRow(self.clear_button)

        for combo in (self.predicted, self.labeled_by, self.import_batch, self.video, self.sort):
            combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # class keys stay with labeling
            combo.activated.connect(lambda _i: self.changed.emit())
        for box in (self.min_confidence, self.max_confidence, self.labeled_from,
                    self.labeled_to):
            box.editingFinished.connect(self.changed.emit)
        self.clear_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.clear_button.clicked.connect(self.clear)

    @staticmethod
    def _confidence_box(value: float, empty: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(0.0, 1.0)
        box.setSingleStep(0.05)
        box.setDecimals(2)
        box.setValue(value)
        box.setToolTip(f"The latest model's confidence; {empty} keeps every sample")
        box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        return box

    @staticmethod
    def _date_box() -> QDateEdit:
        box = QDateEdit()
        box.setCalendarPopup(True)
        box.setDisplayFormat("yyyy-MM-dd")
        box.setMinimumDate(_NO_DATE)
        box.setSpecialValueText("any day")
        box.setToolTip("A day in UTC; the earliest day shown means no bound")
        box.setDate(_NO_DATE)
        box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        return box

    def reload_choices(self, classes: list[str], annotators: list[str],
                       batches: list[ImportBatch], videos: list[Media] = ()) -> None:
        """Offer the project's classes, annotators, import batches and videos; keep what was chosen."""
        _refill(self.predicted, [(ANY, None)] + [(name, name) for name in classes])
        _refill(self.labeled_by, [(ANY, None)] + [(name, name) for name in annotators])
        _refill(self.import_batch, [(ANY, None)] + [
            (f"{b.id}: {b.created_at[:16].replace('T', ' ')} (+{b.added:,})", b.id)
            for b in batches])
        _refill(self.video, [(ANY, None)] + [(f"{m.id}: {m.name}", m.id) for m in videos])
        self.video.setEnabled(bool(videos))  # a project of images has nothing to pick

    def filter(self) -> QueueFilter:
        """The filter the widgets show (a reversed range is read as written, low to high)."""
        low, high = sorted((self.min_confidence.value(), self.max_confidence.value()))
        start, end = _day(self.labeled_from), _day(self.labeled_to)
        if start and end and start > end:
            start, end = end, start
        return QueueFilter(
            predicted_class=self.predicted.currentData(),
            min_confidence=low if low > 0.0 else None,
            max_confidence=high if high < 1.0 else None,
            labeled_by=self.labeled_by.currentData(),
            labeled_from=start, labeled_to=end,
            import_batch=self.import_batch.currentData(),
            video=self.video.currentData(),
            sort=self.sort.currentData() or "queue",
        )

    def set_filter(self, queue_filter: QueueFilter) -> None:
        """Show ``queue_filter`` (a spec chosen from a menu or a test).

        Emits nothing: only the annotator's own edits (``activated``,
        ``editingFinished``) rebuild the queue.
        """
        _choose(self.predicted, queue_filter.predicted_class)
        self.min_confidence.setValue(queue_filter.min_confidence or 0.0)
        self.max_confidence.setValue(1.0 if queue_filter.max_confidence is None
                                     else queue_filter.max_confidence)
        _choose(self.labeled_by, queue_filter.labeled_by)
        self.labeled_from.setDate(_qdate(queue_filter.labeled_from))
        self.labeled_to.setDate(_qdate(queue_filter.labeled_to))
        _choose(self.import_batch, queue_filter.import_batch)
        _choose(self.video, queue_filter.video)
        _choose(self.sort, queue_filter.sort)

    def clear(self) -> None:
        if not self.filter().is_empty:
            self.set_filter(QueueFilter())
            self.changed.emit()


def _row(layout: QHBoxLayout) -> QWidget:
    layout.setContentsMargins(0, 0, 0, 0)
    holder = QWidget()
    holder.setLayout(layout)
    return holder


def _refill(combo: QComboBox, entries: list[tuple[str, object]]) -> None:
    chosen = combo.currentData()
    combo.clear()
    for text, data in entries:
        combo.addItem(text, data)
    _choose(combo, chosen)


def _choose(combo: QComboBox, data: object) -> None:
    # Entry 0 is "Any" (data None); a value no longer offered falls back to it.
    index = 0 if data is None else combo.findData(data)
    combo.setCurrentIndex(max(0, index))


def _day(box: QDateEdit) -> date | None:
    chosen = box.date()
    return None if chosen == _NO_DATE else date(chosen.year(), chosen.month(), chosen.day())


def _qdate(day: date | None) -> QDate:
    return _NO_DATE if day is None else QDate(day.year, day.month, day.day)
