"""The main window: menus, the workbench of the open project, background work."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QThreadPool
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
)

from app.gui.actions import install_actions
from app.gui.dialogs import ExportDialog, NewProjectDialog
from app.gui.keyboard import KeyboardRouter
from app.gui.models_tab import ModelsTab
from app.gui.monitor_tab import MonitorTab
from app.gui.project_model import ProjectModel
from app.gui.settings_dialog import SettingsChange, SettingsDialog, thumbnail_size
from app.gui.shortcut_overlay import ShortcutOverlay
from app.gui.status_bar import ProjectStatusBar
from app.gui.theme import CHOICES as THEME_CHOICES
from app.gui.theme import ThemeManager
from app.gui.window_layout import restore_geometry, restore_splitters, save_splitters, save_window
from app.gui.workbench import Workbench
from app.labeling.queues import QueueSpec
from app.project.workspace import Workspace, WorkspaceError, parse_class_names

LAST_PROJECT = "last_project"
DEFAULT_FAILURE_SET = "failures"
# What the annotator chose; the size is the app's, not a remembered choice.
# The queue a project opens on when the annotator has never picked one: with
# a model, the samples it is least sure of; without one, the cold-start
# batch, which teaches a first model more than import order does.
OPENING_QUEUE = QueueSpec(kind="uncertain", strategy="margin")


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings, annotator: str, *,
                 auto_pretrain: bool = False) -> None:
        super().__init__()
        self.settings = settings
        self.annotator = annotator
        # Start pretraining by itself when a pool is new or grew (the window of
        # `labelloop gui`; off by default so that embedding windows decide).
        self.auto_pretrain = auto_pretrain
        self.project: ProjectModel | None = None
        self.workbench: Workbench | None = None
        self.models_tab: ModelsTab | None = None
        self.monitor_tab: MonitorTab | None = None
        self.tabs: QTabWidget | None = None
        self.router: KeyboardRouter | None = None
        self.shortcut_overlay: ShortcutOverlay | None = None
        self.failure_set = DEFAULT_FAILURE_SET
        self.class_manager = None  # Label ▸ Classes…, while open
        self.settings_dialog = None  # File ▸ Settings…, while open
        self.last_error: str | None = None
        self.setWindowTitle("Labelloop")
        self.resize(1280, 800)
        restore_geometry(self, settings)
        self.setAcceptDrops(True)
        self.actions_by_name = install_actions(self)
        self.theme = ThemeManager(QApplication.instance(), settings, parent=self)
        self.theme.changed.connect(self._check_theme_action)
        self.theme.changed.connect(lambda _name: self._theme_workbench())
        self.theme.apply()
        self._show_welcome()

    # -- project lifecycle ------------------------------------------------

    def _show_welcome(self) -> None:
        welcome = QLabel("<h2>Labelloop</h2><p>File ▸ New project… or File ▸ Open project…</p>")
        welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(welcome)
        self._enable_project_actions(False)

    def open_project(self, path: str | Path) -> bool:
        try:
            workspace = Workspace.open(path)
        except WorkspaceError as exc:
            self.show_error(str(exc))
            return False
        self._close_project()
        self.project = ProjectModel(workspace, self.annotator)
        self.project.error.connect(self.show_error)
        # The annotator comes back to the queue they chose last (else Most
        # uncertain); the cheap import-order queue shows first so a sample is
        # on screen at once, the ranked queue follows and starts at its top.
        self.project.show_queue(self.project.spec)
        opening = self._remembered_queue(workspace.root) or OPENING_QUEUE
        self.workbench = Workbench(self.project, thumbnail_size(self.settings),
                                   auto_pretrain=self.auto_pretrain)
        self._theme_workbench()
        self.models_tab = ModelsTab(self.project)
        self.workbench.training.modelsChanged.connect(self.models_tab.reload)
        self.workbench.pretraining.backbonesChanged.connect(self.models_tab.reload)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.workbench, "Label")
        self.tabs.addTab(self.models_tab, "Models")
        self.monitor_tab = MonitorTab(self.project, self.open_queue)
        self.tabs.addTab(self.monitor_tab, "Monitor")
        self.workbench.training.modelsChanged.connect(self.monitor_tab.refresh)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.setCentralWidget(self.tabs)
        restore_splitters(self.tabs, self.settings)
        self.setStatusBar(ProjectStatusBar(self.project))
        self.router = KeyboardRouter(self, self.project, lambda: self.failure_set,
                                     active=self.labeling_visible,
                                     image_view=lambda: self.workbench.labeling.image,
                                     show_keys=self.on_show_keys)
        self.workbench.queue_panel.chosen.connect(self._remember_queue)
        # The batch cap is the project's setting, not part of what was remembered.
        if dataclasses.replace(opening, batch_size=self.project.spec.batch_size) \
                != self.project.spec:
            self.workbench.queue_panel.select(opening)
        QApplication.instance().installEventFilter(self.router)
        self.setWindowTitle(f"Labelloop — {workspace.root.name}")
        self.settings.setValue(LAST_PROJECT, str(workspace.root))
        self.failure_set = str(self.settings.value(f"failure_set/{workspace.root}",
                                                   DEFAULT_FAILURE_SET))
        self.actions_by_name["suggest_mode"].setChecked(False)
        self._enable_project_actions(True)
        return True

    def _theme_workbench(self) -> None:
        # Colours a style sheet cannot reach: the captions and placeholders of the grid.
        if self.workbench is not None:
            colors = self.theme.theme.colors
            self.workbench.grid_model.set_colours(colors["labeled"], colors["placeholder"])

    def open_queue(self, spec: QueueSpec) -> None:
        """Show ``spec`` in the Label tab (used by the monitor's drift button)."""
        if self.workbench is not None and self.tabs is not None:
            self.tabs.setCurrentWidget(self.workbench)
            self.workbench.queue_panel.select(spec)

    def _tab_changed(self, _index: int) -> None:
        if self.tabs is not None and self.tabs.currentWidget() is self.monitor_tab:
            self.monitor_tab.refresh()  # labels given since it was last shown

    def _remembered_queue(self, root: Path) -> QueueSpec | None:
        value = self.settings.value(f"queue/{root}")
        if not value:
            return None
        try:
            return QueueSpec.from_json(json.loads(str(value)))
        except (ValueError, TypeError, AttributeError):
            return None  # an older or hand-edited setting: start from the default

    def _remember_queue(self) -> None:
        if self.project is not None:
            self.settings.setValue(f"queue/{self.project.root}",
                                   json.dumps(self.project.spec.to_json()))

    def labeling_visible(self) -> bool:
        """Labeling keys act only while the Label tab is in front."""
        return self.tabs is not None and self.tabs.currentWidget() is self.workbench

    def _close_project(self) -> None:
        if self.tabs is not None:
            save_splitters(self.tabs, self.settings)
        if self.workbench is not None:
            self.workbench.training.shutdown()
            self.workbench.pretraining.shutdown()
        if self.router is not None:
            QApplication.instance().removeEventFilter(self.router)
            self.router = None
        if self.project is not None:
            self.project.close()
            self.project = None

    def _enable_project_actions(self, enabled: bool) -> None:
        for action in self.actions_by_name.values():
            if action.property("needs_project"):
                action.setEnabled(enabled)

    def show_error(self, text: str) -> None:
        self.last_error = text
        box = QMessageBox(QMessageBox.Icon.Warning, "Labelloop", text,
                          QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorBox")
        box.open()  # not exec(): the loop keeps running, labeling stays possible

    # -- menu actions -------------------------------------------------------

    def on_theme_system(self, _checked: bool = False) -> None:
        self.theme.apply("system")

    def on_theme_light(self, _checked: bool = False) -> None:
        self.theme.apply("light")

    def on_theme_dark(self, _checked: bool = False) -> None:
        self.theme.apply("dark")

    def _check_theme_action(self, _name: str) -> None:
        for choice in THEME_CHOICES:
            self.actions_by_name[f"theme_{choice}"].setChecked(choice == self.theme.choice)

    def on_settings(self, _checked: bool = False) -> None:
        if self.project is None:
            return
        self.settings_dialog = SettingsDialog(self.project.workspace, self.settings,
                                              self.annotator, self)
        self.settings_dialog.accepted.connect(
            lambda: self.follow_settings(self.settings_dialog.change))
        self.settings_dialog.open()

    def follow_settings(self, change: SettingsChange | None) -> None:
        """Make the window show what the Settings dialog changed."""
        if change is None or self.project is None or self.workbench is None:
            return
        if change.annotator is not None:
            self.annotator = change.annotator
            self.project.set_annotator(change.annotator)
        if change.thumbnail_size is not None:
            self.workbench.set_thumbnail_size(change.thumbnail_size)
        if change.queue_size is not None:
            self.project.refresh_queue()
        self.workbench.training.reload_settings()

    def on_manage_classes(self, _checked: bool = False) -> None:
        if self.project is None:
            return
        from app.gui.class_manager import ClassManager

        self.class_manager = ClassManager(self.project, self)
        self.class_manager.open()  # not exec(): the window stays live behind it

    def on_go_to(self, _checked: bool = False) -> None:
        if self.project is None:
            return
        text, ok = QInputDialog.getText(self, "Go to sample",
                                        "Sample id, path or file name:")
        if ok and text.strip():
            self.go_to_sample(text)

    def go_to_sample(self, text: str) -> bool:
        """Show the sample ``text`` names in the Label tab (the dialog's action, headless)."""
        if self.project is None or self.tabs is None:
            return False
        self.tabs.setCurrentWidget(self.workbench)
        return self.project.open_sample(text)

    def on_show_keys(self) -> None:
        classes = self.project.shortcuts() if self.project is not None else {}
        self.shortcut_overlay = ShortcutOverlay(self, classes)
        self.shortcut_overlay.open()

    def on_new_project(self) -> None:
        dialog = NewProjectDialog(self)
        if not dialog.exec():
            return
        try:
            Workspace.init(dialog.folder.text(), parse_class_names(dialog.classes.text())).close()
        except WorkspaceError as exc:
            self.show_error(str(exc))
            return
        self.open_project(dialog.folder.text())

    def on_open_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a Labelloop project")
        if folder:
            self.open_project(folder)

    def on_import_images(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder of images and videos")
        if folder:
            self.import_paths([folder])

    def import_paths(self, paths: list[str]) -> None:
        """Import files and folders in the background, with progress."""
        if self.project is None or not paths:
            return
        from app.pool.importer import import_images

        project = self.project

        def done(report) -> None:
            project.idle.emit()
            videos = report.video_summary()
            message = (f"Imported {report.added} images{videos} ({report.duplicates} duplicates "
                       f"skipped, {len(report.failed)} unreadable)")
            project.message.emit(message)
            if report.failed:
                lines = "\n".join(f"{f.path}: {f.reason}" for f in report.failed[:20])
                self.show_error(f"{message}:\n{lines}")
            project.labelsChanged.emit()
            project.refresh_queue()
            if self.auto_pretrain and self.workbench is not None:
                self.workbench.pretraining.maybe_start()  # the pool may have grown enough

        def failed(text: str) -> None:
            project.idle.emit()
            self.show_error(f"Import failed: {text}")

        project.busy.emit("Importing…", 0, 0)
        # Videos report frames looked at per video through the same progress line.
        project.run_in_background(
            lambda ws, progress: import_images(
                ws, paths, progress=progress,
                video_progress=lambda _name, d, t: progress(d, t)),
            done, failed, lambda d, t: project.busy.emit("Importing", d, t))

    def on_import_labels(self) -> None:
        if self.project is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Import labels", "", "CSV files (*.csv)")
        if not path:
            return
        from app.labeling.roles import relabel_guard
        from app.pool.label_import import import_labels

        project, annotator = self.project, self.annotator

        def labels_from_file(ws, _progress):
            return import_labels(ws, path, annotator, may_write=relabel_guard(ws, annotator))

        def done(report) -> None:
            project.idle.emit()
            refused = (f"; {len(report.refused_by_role)} labeled by others left as they were "
                       "(a reviewer may relabel them)" if report.refused_by_role else "")
            project.message.emit(f"Imported {report.labeled} labels "
                                 f"({len(report.unmatched)} unmatched){refused}")
            project.labelsChanged.emit()
            project.refresh_queue()

        project.busy.emit("Importing labels…", 0, 0)
        project.run_in_background(labels_from_file, done,
                                  lambda text: (project.idle.emit(), self.show_error(text)))

    def on_export(self) -> None:
        if self.project is None:
            return
        dialog = ExportDialog(str(self.project.root / "exports" / "dataset"), self)
        if not dialog.exec():
            return
        self.export(dialog.folder.text(), dialog.format.currentText())

    def export(self, folder: str, fmt: str, *, force: bool = False) -> None:
        from app.pool.exporter import export_dataset

        project = self.project
        assert project is not None

        def done(report) -> None:
            project.idle.emit()
            project.message.emit(f"Exported {report.files} files to {report.out} "
                                 f"(version {report.dataset_version[:12]})")

        project.busy.emit("Exporting…", 0, 0)
        project.run_in_background(
            lambda ws, progress: export_dataset(ws, folder, fmt, force=force, progress=progress),
            done, lambda text: (project.idle.emit(), self.show_error(f"Export failed: {text}")),
            lambda d, t: project.busy.emit("Exporting", d, t))

    def on_quit(self) -> None:
        self.close()

    def on_undo(self) -> None:
        if self.project is not None:
            self.project.undo()

    def on_review_accept(self) -> None:
        if self.project is not None:
            self.project.review("accepted")

    def on_review_reject(self) -> None:
        if self.project is not None:
            self.project.review("rejected")

    def on_new_failure_set(self) -> None:
        if self.project is None:
            return
        names = self.project.failure_sets() or [DEFAULT_FAILURE_SET]
        name, ok = QInputDialog.getItem(self, "Failure set for F",
                                        "Samples marked with F go into:", names,
                                        max(0, names.index(self.failure_set))
                                        if self.failure_set in names else 0, True)
        if ok and name.strip():
            self.failure_set = name.strip()
            self.settings.setValue(f"failure_set/{self.project.root}", self.failure_set)
            self.project.message.emit(f"F now adds to failure set “{self.failure_set}”")

    def on_suggest_mode(self, checked: bool = False) -> None:
        if self.project is not None:
            self.project.set_suggest_mode(bool(checked))

    def on_rebuild_queue(self) -> None:
        if self.project is not None:
            self.project.refresh_queue()

    # -- drag and drop ----------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if self.project is not None and event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        self.import_paths(paths)
        event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        # Background tasks hold their own connections; let them finish first.
        QThreadPool.globalInstance().waitForDone(10_000)
        save_window(self, self.settings)
        self._close_project()
        super().closeEvent(event)
