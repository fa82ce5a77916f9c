"""The status bar: progress of the loop at a glance, and of background work.

Notices go to a label of their own instead of ``QStatusBar.showMessage``,
which would hide the label counts while a message shows; the text of a
background task sits in a label beside its bar, where it is never clipped.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from app.gui.project_model import ProjectModel
from app.store.errors import StoreError

NOTICE_MS = 4000


class ProjectStatusBar(QStatusBar):
    def __init__(self, project: ProjectModel) -> None:
        super().__init__()
        self.project = project
        self.counts = QLabel()
        self.counts.setObjectName("labelCounts")
        self.per_class = QLabel()
        self.notice = QLabel()
        self.notice.setObjectName("statusNotice")
        self.notice.hide()
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.timeout.connect(self.notice.hide)
        self.model = QLabel()
        self.model.setObjectName("modelVersion")
        # Team projects: who else is labeling, and labels waiting for the server.
        self.team = QLabel()
        self.team.setObjectName("teamStatus")
        self.team.hide()
        self._busy: tuple[str, int, int] = ("", 0, 0)
        self.busy_label = QLabel()
        self.busy_label.setObjectName("busyText")
        self.busy_label.hide()
        self.progress = QProgressBar()
        self.progress.setFixedWidth(140)
        self.progress.setTextVisible(False)  # the words are in busy_label
        self.progress.hide()
        self.addWidget(self.counts)
        self.addWidget(self.per_class)
        self.addWidget(self.notice, 1)
        self.addPermanentWidget(self.busy_label)
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.team)
        self.addPermanentWidget(self.model)
        project.labelsChanged.connect(self.refresh)
        project.queueChanged.connect(self.refresh)
        project.message.connect(self.show_notice)
        project.busy.connect(self.show_busy)
        project.idle.connect(self.hide_busy)
        project.teamChanged.connect(self.refresh_team)
        self.refresh()
        self.refresh_team()

    def team_text(self) -> str:
        """``"also labeling: bob, carol · offline — 3 labels waiting"`` (empty when neither)."""
        parts = []
        others = self.project.others_labeling()
        if others:
            parts.append("also labeling: " + ", ".join(others))
        waiting = self.project.waiting_labels()
        if waiting:
            parts.append(f"offline — {waiting} label{'s' if waiting != 1 else ''} waiting")
        return " · ".join(parts)

    def refresh_team(self) -> None:
        text = self.team_text()
        self.team.setText(text)
        self.team.setVisible(bool(text))

    def refresh(self) -> None:
        try:
            status = self.project.status()
        except StoreError:
            return  # a team's server is away: keep the last counts (see refresh_team)
        self.counts.setText(f"<b>{status['labeled']}</b> / {status['samples']} labeled")
        self.per_class.setText("  ".join(f"{name}: {n}" for name, n in
                                         status["per_class"].items()))
        latest = status["latest_model"]
        since = status["labels_since_training"]
        self.model.setText(f"model v{latest} · {since} labels since training" if latest
                           else f"no model yet · {since} labels")

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setToolTip(text)
        self.notice.show()
        self._notice_timer.start(NOTICE_MS)

    def show_busy(self, message: str, done: int, total: int) -> None:
        self.progress.setRange(0, total if total else 0)  # 0..0: Qt's busy indicator
        if total:
            self.progress.setValue(done)
        self._busy = (message, done, total)
        self.busy_label.setText(self.busy_text())
        self.busy_label.show()
        self.progress.show()

    def busy_text(self) -> str:
        """The words beside the bar: ``"Scoring the pool 10%"``."""
        message, done, total = self._busy
        return f"{message} {round(100 * done / total)}%" if total else message

    def hide_busy(self) -> None:
        self.busy_label.hide()
        self.progress.hide()
