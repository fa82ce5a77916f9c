"""The status bar: progress of the loop at a glance, and of background work."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from app.gui.project_model import ProjectModel


class ProjectStatusBar(QStatusBar):
    def __init__(self, project: ProjectModel) -> None:
        super().__init__()
        self.project = project
        self.counts = QLabel()
        self.counts.setObjectName("labelCounts")
        self.per_class = QLabel()
        self.model = QLabel()
        self.model.setObjectName("modelVersion")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.addWidget(self.counts)
        self.addWidget(self.per_class, 1)
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.model)
        project.labelsChanged.connect(self.refresh)
        project.queueChanged.connect(self.refresh)
        project.message.connect(lambda text: self.showMessage(text, 4000))
        project.busy.connect(self.show_busy)
        project.idle.connect(self.progress.hide)
        self.refresh()

    def refresh(self) -> None:
        status = self.project.status()
        self.counts.setText(f"<b>{status['labeled']}</b> / {status['samples']} labeled")
        self.per_class.setText("  ".join(f"{name}: {n}" for name, n in
                                         status["per_class"].items()))
        latest = status["latest_model"]
        since = status["labels_since_training"]
        self.model.setText(f"model v{latest} · {since} labels since training" if latest
                           else f"no model yet · {since} labels")

    def show_busy(self, message: str, done: int, total: int) -> None:
        self.progress.show()
        self.progress.setFormat(f"{message} %p%" if total else message)
        self.progress.setRange(0, total if total else 0)  # 0..0: Qt's busy indicator
        if total:
            self.progress.setValue(done)
