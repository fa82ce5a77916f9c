"""The large image of the labeling view: zoom, pan, 1:1 pixels and display adjustments.

The zoom mode (fit, or a fixed scale) and the brightness/contrast/invert
adjustment are kept for the whole session: an annotator who needs 400% and
+30% brightness for one dark frame usually needs it for the next one too.
Moving to another sample re-centres the image; Ctrl+R resets everything.

Enlarged images are drawn with nearest-neighbour sampling, so a 28 px frame
shows its real pixels instead of a blur; only reduced images are smoothed.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPalette, QPixmap, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.gui.display_adjustment import DisplayAdjustment, adjusted_pixmap

ZOOM_STEP = 1.25
MAX_SCALE = 64.0
MIN_SCALE_OF_FIT = 0.25  # zooming out stops at a quarter of the fitted size
PAN_FRACTION = 0.1  # of the view per arrow press


class ImageView(QWidget):
    """Shows one pixmap; the owner sets it, the keys and the mouse move the view.

    Signals
    -------
    viewChanged
        The zoom or the adjustment changed (the status text is stale).
    """

    viewChanged = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("sampleImage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)  # the style sheet's frame
        self.setMinimumSize(240, 240)
        # Ignored: the image must never push the layout; it is fitted instead.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self._source = QPixmap()
        self._shown = QPixmap()
        self._message = ""
        self._fixed_scale: float | None = None  # None: fit to the view
        # File pixels per pixmap pixel: a large file is decoded smaller than it
        # is, and "1:1" and the zoom shown are about the file's pixels.
        self._file_ratio = 1.0
        self._center = QPointF()  # the image point at the middle of the view
        self._drag_from: QPointF | None = None
        self.adjustment = DisplayAdjustment()

    # -- what is shown --------------------------------------------------------

    def set_pixmap(self, pixmap: QPixmap, *, same_sample: bool = False,
                   file_size: tuple[int, int] | None = None) -> None:
        """Show ``pixmap``; a new sample is centred, the same one (a sharper
        decode replacing its thumbnail) keeps where the view was.

        ``file_size``: (width, height) of the file the pixmap was decoded
        from, when it was decoded at another size.  Compared by the longer
        side, which an EXIF rotation does not change.
        """
        previous = self._source.size()
        self._file_ratio = (max(file_size) / max(pixmap.width(), pixmap.height())
                            if file_size and not pixmap.isNull() else 1.0)
        self._source = pixmap
        self._message = ""
        self._shown = adjusted_pixmap(pixmap, self.adjustment)
        if same_sample and not previous.isEmpty() and previous != pixmap.size():
            # Same picture at another resolution: keep its size and place on screen.
            factor = pixmap.width() / previous.width()
            self._center = QPointF(self._center.x() * factor, self._center.y() * factor)
            if self._fixed_scale is not None:
                self._fixed_scale /= factor
        elif not same_sample or previous.isEmpty():
            self._center = QPointF(pixmap.width() / 2, pixmap.height() / 2)
        self.update()

    def set_message(self, text: str) -> None:
        """Show ``text`` instead of an image ("loading…", "cannot decode…")."""
        self._source = QPixmap()
        self._shown = QPixmap()
        self._message = text
        self.update()

    def message(self) -> str:
        return self._message

    def has_image(self) -> bool:
        return not self._source.isNull()

    # -- zoom -------------------------------------------------------------------

    def fit_scale(self) -> float:
        if self._source.isNull() or self.width() <= 0 or self.height() <= 0:
            return 1.0
        return min(self.width() / self._source.width(), self.height() / self._source.height())

    def scale(self) -> float:
        """Screen pixels per image pixel, as drawn now."""
        return self.fit_scale() if self._fixed_scale is None else self._fixed_scale

    def file_scale(self) -> float:
        """Screen pixels per pixel of the file (what "100%" means)."""
        return self.scale() / self._file_ratio

    def is_zoomed_in(self) -> bool:
        """Whether the image is larger than the view, so there is something to pan."""
        if self._source.isNull():
            return False
        return (self._source.width() * self.scale() > self.width() + 0.5
                or self._source.height() * self.scale() > self.height() + 0.5)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Scale by ``factor``, keeping the image point under ``anchor`` (view coordinates) still."""
        if self._source.isNull():
            return
        old = self.scale()
        new = min(MAX_SCALE, max(self.fit_scale() * MIN_SCALE_OF_FIT, old * factor))
        if anchor is not None:
            under = self._to_image(anchor, old)
            self._center = under + (self._center - under) * (old / new)
        self._fixed_scale = new
        self._after_move()

    def fit(self) -> None:
        self._fixed_scale = None
        self._center = QPointF(self._source.width() / 2, self._source.height() / 2)
        self._after_move()

    def actual_pixels(self) -> None:
        """One screen pixel per pixel of the file."""
        self._fixed_scale = self._file_ratio
        self._after_move()

    def pan(self, dx: float, dy: float) -> None:
        """Move the view by ``dx, dy`` view pixels (positive: show what is right/below)."""
        scale = self.scale()
        self._center += QPointF(dx / scale, dy / scale)
        self._after_move()

    def pan_step(self, x_steps: int, y_steps: int) -> None:
        self.pan(x_steps * self.width() * PAN_FRACTION, y_steps * self.height() * PAN_FRACTION)

    # -- adjustment --------------------------------------------------------------

    def set_adjustment(self, adjustment: DisplayAdjustment) -> None:
        if adjustment == self.adjustment:
            return
        self.adjustment = adjustment
        self._shown = adjusted_pixmap(self._source, adjustment)
        self.update()
        self.viewChanged.emit()

    def reset(self) -> None:
        """Fit, and show the file as it is."""
        self.set_adjustment(DisplayAdjustment())
        self.fit()

    def status_text(self) -> str:
        """``"fit 350%"`` or ``"800%"``, then the adjustment, for the caption."""
        if self._source.isNull():
            return ""
        zoom = f"{self.file_scale():.0%}"
        parts = [f"fit {zoom}" if self._fixed_scale is None else zoom]
        if self.adjustment.describe():
            parts.append(self.adjustment.describe())
        return " · ".join(parts)

    # -- geometry ------------------------------------------------------------------

    def image_rect(self) -> QRectF:
        """Where the image is drawn, in view coordinates."""
        scale = self.scale()
        width, height = self._source.width() * scale, self._source.height() * scale
        left = self.width() / 2 - self._center.x() * scale
        top = self.height() / 2 - self._center.y() * scale
        return QRectF(left, top, width, height)

    def _to_image(self, point: QPointF, scale: float) -> QPointF:
        middle = QPointF(self.width() / 2, self.height() / 2)
        return self._center + (point - middle) / scale

    def _after_move(self) -> None:
        self._clamp_center()
        self.update()
        self.viewChanged.emit()

    def _clamp_center(self) -> None:
        """Keep the image on screen: centred along an axis where it fits, else
        no further than its edge."""
        scale = self.scale()
        for axis, (size, view) in enumerate(((self._source.width(), self.width()),
                                             (self._source.height(), self.height()))):
            half_view = view / 2 / scale
            low, high = half_view, size - half_view
            value = self._center.x() if axis == 0 else self._center.y()
            value = size / 2 if low >= high else min(high, max(low, value))
            if axis == 0:
                self._center.setX(value)
            else:
                self._center.setY(value)

    # -- Qt ------------------------------------------------------------------------

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        if self._shown.isNull():
            painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._message)
            return
        # Smooth only when reducing; enlarged pixels stay square and sharp.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.scale() < 1.0)
        painter.drawPixmap(self.image_rect(), self._shown, QRectF(self._shown.rect()))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._clamp_center()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        notches = event.angleDelta().y() / 120
        if notches and self.has_image():
            self.zoom_by(ZOOM_STEP ** notches, event.position())
            event.accept()
        else:
            event.ignore()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton and self.is_zoomed_in():
            self._drag_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._drag_from is not None:
            delta = event.position() - self._drag_from
            self._drag_from = event.position()
            self.pan(-delta.x(), -delta.y())  # the image follows the hand
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self._drag_from = None
        self.unsetCursor()
        super().mouseReleaseEvent(event)
