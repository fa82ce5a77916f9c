"""The label history of the sample on screen: who said what, when, and how.

History is append-only (an undo is a row of its own), so this is the whole
story of a sample: useful when a label looks wrong and the question is
whether it was a slip, an accepted suggestion or an import.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.records import Annotation, Review
from app.gui.project_model import ProjectModel

COLUMNS = ("when", "who", "label", "how", "seconds")


def how_given(row: Annotation, undone: set[int]) -> str:
    """How a label came about (its origin), where (the queue or tool), and whether undone."""
    origin = row.origin
    text = origin if origin in ("imported", "undo") else f"{origin} ({row.source})"
    return f"{text}, undone" if row.id in undone else text


def local_time(iso: str) -> str:
    """A stored UTC timestamp as local time, to the second."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


class HistoryPanel(QWidget):
    """Follows the project's current sample and lists its annotations, newest first."""

    def __init__(self, project: ProjectModel) -> None:
        super().__init__()
        self.project = project
        self.title = QLabel()
        self.title.setObjectName("historyTitle")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("historyTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.table)
        project.currentChanged.connect(self.refresh)
        project.labelsChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        current = self.project.current
        workspace = self.project.workspace
        rows = [] if current is None else workspace.history(current.sample_id)
        verdicts = [] if current is None or not rows else workspace.reviews_of(
            [current.sample_id])
        self.title.setText("History" if current is None
                           else f"History of sample {current.sample_id}")
        undone = {row.undoes_id for row in rows if row.undoes_id is not None}
        judged = {row.id: row.class_name for row in rows}
        # Labels and verdicts in one story, oldest first; a rejection's verdict
        # comes after the unlabel row written with it.
        events = [(row.created_at, 0, row.id, _label_cells(row, undone)) for row in rows]
        events += [(v.created_at, 1, v.id, _verdict_cells(v, judged.get(v.annotation_id)))
                   for v in verdicts]
        events.sort(key=lambda event: event[:3])
        self.table.setRowCount(len(events))
        for r, (*_, cells) in enumerate(reversed(events)):
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))


def _label_cells(row: Annotation, undone: set[int]) -> tuple[str, ...]:
    seconds = "" if row.seconds_spent is None else f"{row.seconds_spent:.1f}"
    return (local_time(row.created_at), row.annotator,
            row.class_name if row.class_name is not None else "—",
            how_given(row, undone), seconds)


def _verdict_cells(verdict: Review, label: str | None) -> tuple[str, ...]:
    how = f"{verdict.verdict} (review)"
    if verdict.note:
        how += f": {verdict.note}"
    return (local_time(verdict.created_at), verdict.reviewer, label or "—", how, "")
