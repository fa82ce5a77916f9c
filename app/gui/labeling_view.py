"""The labeling view: the current sample large, why it is here, and the class buttons."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.filmstrip import Filmstrip
from app.gui.formatting import reason_text
from app.gui.image_view import ImageView
from app.gui.project_model import ProjectModel
from app.gui.thumbnails import ImageCache
from app.labeling.video_context import frame_caption
from app.learning.pick_reasons import MinedReason, NearestFailure
from app.learning.ranking import RankedSample

PREFETCH = 4  # samples ahead decoded in the background, so the next one shows at once


class LabelingView(QWidget):
    def __init__(self, project: ProjectModel, images: ImageCache, thumbnails: ImageCache) -> None:
        super().__init__()
        self.project = project
        self.images = images
        self.thumbnails = thumbnails
        self.setObjectName("labelingView")

        self.title = QLabel()
        self.title.setObjectName("sampleTitle")
        # Wraps: a long header (a deep path, a filtered queue) must not widen
        # this pane and squeeze the grid beside it.
        self.title.setWordWrap(True)
        self.reason = QLabel()
        self.reason.setObjectName("sampleReason")
        self.reason.setWordWrap(True)
        self.suggestion = QLabel()
        self.suggestion.setObjectName("suggestion")
        self.suggestion.hide()
        self.image = ImageView()
        self.view_status = QLabel()
        self.view_status.setObjectName("viewStatus")
        self.view_status.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.image.viewChanged.connect(self._show_view_status)
        self.filmstrip = Filmstrip(thumbnails)
        self.filmstrip.chosen.connect(project.show_sample)
        self.failure_thumb = QLabel()
        self.failure_thumb.setFixedSize(72, 72)
        self.failure_thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.failure_thumb.hide()

        header = QHBoxLayout()
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.reason)
        text.addWidget(self.suggestion)
        header.addLayout(text, 1)
        header.addWidget(self.failure_thumb)

        self.buttons_box = QGridLayout()
        self.buttons_box.setSpacing(6)
        actions = QHBoxLayout()
        for caption, slot in (("Skip  [S]", project.skip),
                              ("Undo  [Backspace]", project.undo),
                              ("◀ Previous", lambda: project.move(-1)),
                              ("Next ▶", lambda: project.move(+1))):
            button = QPushButton(caption)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(slot)
            actions.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.filmstrip)
        layout.addWidget(self.view_status)
        layout.addLayout(self.buttons_box)
        layout.addLayout(actions)

        self.class_buttons: dict[str, QPushButton] = {}
        self._file_size: tuple[int, int] | None = None  # of the sample on screen
        self.rebuild_buttons()
        project.currentChanged.connect(self.show_current)
        project.labelsChanged.connect(self.show_current)
        project.classesChanged.connect(self.rebuild_buttons)
        images.ready.connect(self._image_ready)
        thumbnails.ready.connect(self._thumb_ready)
        self.show_current()

    def rebuild_buttons(self) -> None:
        while self.buttons_box.count():
            widget = self.buttons_box.takeAt(0).widget()
            if widget is not None:
                widget.hide()  # gone from sight now, deleted when the loop gets to it
                widget.deleteLater()
        keys = {name: key for key, name in self.project.shortcuts().items()}
        styles = self.project.workspace.class_styles()
        self.class_buttons = {}
        for i, name in enumerate(styles):
            key = keys.get(name)
            button = QPushButton(f"[{key.upper()}]  {name}" if key else name)
            button.setObjectName("classButton")
            if styles[name].colour:
                # A stripe, not a fill: the theme's checked and hover states stay readable.
                button.setStyleSheet(f"border-left: 6px solid {styles[name].colour};")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, n=name: self.project.label(n))
            self.buttons_box.addWidget(button, i // 5, i % 5)
            self.class_buttons[name] = button

    # -- painting -------------------------------------------------------------

    def show_current(self) -> None:
        item = self.project.current
        if item is None:
            done = bool(self.project.queue)
            self.title.setText("Queue done 🎉" if done else "Nothing to show")
            self.reason.setText("Pick another queue on the left, or import images "
                                "(File ▸ Import images, or drop a folder here).")
            self.image.set_message("")
            self._show_view_status()
            self.failure_thumb.hide()
            self.filmstrip.show_item(self.project.workspace, None)
            self._check_button(None)
            self._show_suggestion()  # nothing on screen: no suggestion either
            return
        sample = self.project.workspace.sample(item.sample_id)
        position = self.project.session.position
        # A frame is named by its video and time, not by its cached file.
        where = frame_caption(self.project.workspace, sample) or sample.path
        self.title.setText(f"<b>Sample {item.sample_id}</b> · {where} · "
                           f"{self.project.header()}")
        self.filmstrip.show_item(self.project.workspace, sample)
        self.reason.setText(reason_text(item))
        path = str(self.project.workspace.resolve(sample.path))
        pixmap = self.images.request(item.sample_id, path)
        if pixmap is None:  # meanwhile the small thumbnail, scaled up
            pixmap = self.thumbnails.get(item.sample_id)
        self._file_size = (sample.width, sample.height)
        self._set_image(pixmap, same_sample=False)
        self._show_failure(item)
        self._check_button(self.project.label_of(item.sample_id))
        self._show_suggestion()
        self._prefetch(position)

    def _prefetch(self, position: int) -> None:
        queue = self.project.queue
        upcoming = [q.sample_id for q in queue[position + 1 : position + 1 + PREFETCH]]
        for sample in self.project.workspace.samples(upcoming):
            self.images.request(sample.id, str(self.project.workspace.resolve(sample.path)))

    def _show_failure(self, item: RankedSample) -> None:
        nearest = _nearest_failure(item)
        if nearest is None or not nearest.path:
            self.failure_thumb.hide()
            return
        key = -nearest.id  # failure items share the cache under negative keys
        pixmap = self.thumbnails.request(key, str(self.project.workspace.resolve(nearest.path)))
        self.failure_thumb.setToolTip(f"nearest failure: {nearest.path}")
        if pixmap is not None and not pixmap.isNull():
            self.failure_thumb.setPixmap(pixmap.scaled(
                72, 72, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        self.failure_thumb.show()

    def _show_suggestion(self) -> None:
        suggestion = self.project.suggestion()
        for name, button in self.class_buttons.items():
            button.setProperty("suggested", bool(suggestion)
                               and name == suggestion["predicted_class"])
            button.style().unpolish(button)
            button.style().polish(button)
        if not self.project.suggest_mode or self.project.current is None:
            self.suggestion.hide()
            return
        self.suggestion.setText(
            f"Model v{suggestion['model_version_id']} suggests "
            f"<b>{suggestion['predicted_class']}</b> "
            f"({suggestion['predicted_confidence']:.0%}) — Enter accepts, a class key corrects"
            if suggestion else "No suggestion for this sample (no scored model yet)")
        self.suggestion.show()

    def _check_button(self, label: str | None) -> None:
        for name, button in self.class_buttons.items():
            button.setChecked(name == label)

    def _set_image(self, pixmap: QPixmap | None, *, same_sample: bool = True) -> None:
        if pixmap is None or pixmap.isNull():
            self.image.set_message("loading…" if pixmap is None else "cannot decode this image")
        else:
            self.image.set_pixmap(pixmap, same_sample=same_sample, file_size=self._file_size)
        self._show_view_status()

    def _show_view_status(self) -> None:
        status = self.image.status_text()
        self.view_status.setText(f"{status} · ? shows every key" if status else "")

    def _image_ready(self, sample_id: int) -> None:
        current = self.project.current
        if current is not None and current.sample_id == sample_id:
            self._set_image(self.images.get(sample_id))

    def _thumb_ready(self, sample_id: int) -> None:
        current = self.project.current
        if current is None:
            return
        nearest = _nearest_failure(current)
        if sample_id == current.sample_id and self.images.get(sample_id) is None:
            self._set_image(self.thumbnails.get(sample_id))
        elif nearest is not None and sample_id == -nearest.id:
            self._show_failure(current)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._show_view_status()  # the fitted zoom changed


def _nearest_failure(item: RankedSample) -> NearestFailure | None:
    """The failure a mined sample resembles; None for every other kind of pick."""
    return item.reason.nearest_failure if isinstance(item.reason, MinedReason) else None
