"""The large image: zoom, pan, crisp pixels and display adjustments, checked on real paints."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPixmap, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.gui.display_adjustment import DisplayAdjustment, adjusted_pixmap
from app.gui.image_view import ImageView


def _pixmap(array: np.ndarray) -> QPixmap:
    """A QPixmap of a [h, w] uint8 grey array."""
    height, width = array.shape
    rgb = np.ascontiguousarray(np.repeat(array[:, :, None], 3, axis=2))
    image = QImage(rgb.data, width, height, width * 3, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image)


def _checkerboard(size: int = 28, square: int = 4) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    return np.where(((x // square) + (y // square)) % 2 == 0, 255, 0).astype(np.uint8)


def _grab(view: ImageView) -> np.ndarray:
    image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(height, image.bytesPerLine())
    return data[:, : width * 3].reshape(height, width, 3).copy()


@pytest.fixture
def view(qtbot):
    widget = ImageView()
    widget.resize(400, 400)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_a_small_image_is_enlarged_with_its_real_pixels_not_a_blur(view):
    view.set_pixmap(_pixmap(_checkerboard()))
    assert view.scale() == pytest.approx(400 / 28)
    rect = view.image_rect().toRect().adjusted(2, 2, -2, -2)
    shot = _grab(view)[rect.top():rect.bottom(), rect.left():rect.right()]
    greys = {tuple(c) for c in shot.reshape(-1, 3)}
    assert greys == {(0, 0, 0), (255, 255, 255)}  # smoothing would add every grey between


def test_zooming_keeps_the_point_under_the_cursor_still(view):
    view.set_pixmap(_pixmap(_checkerboard()))
    anchor = QPointF(300, 120)
    before = view.image_rect()
    image_point = (anchor - before.topLeft()) / view.scale()
    view.zoom_by(2.0, anchor)
    after = view.image_rect()
    assert view.is_zoomed_in()
    assert (after.topLeft() + image_point * view.scale()).x() == pytest.approx(anchor.x())
    assert (after.topLeft() + image_point * view.scale()).y() == pytest.approx(anchor.y())


def test_the_wheel_zooms_and_a_drag_pans_a_zoomed_image(qtbot, view):
    view.set_pixmap(_pixmap(_checkerboard()))
    fit = view.scale()
    wheel = QWheelEvent(QPointF(200, 200), view.mapToGlobal(QPointF(200, 200)), QPoint(),
                        QPoint(0, 240), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, wheel)
    assert view.scale() == pytest.approx(fit * 1.25 ** 2)
    left = view.image_rect().left()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
    qtbot.mouseMove(view, QPoint(230, 200))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(230, 200))
    assert view.image_rect().left() == pytest.approx(left + 30)


def test_panning_stops_at_the_image_edge_and_fit_recentres(view):
    view.set_pixmap(_pixmap(_checkerboard()))
    view.zoom_by(3.0)
    view.pan(-10_000, -10_000)
    assert view.image_rect().topLeft().x() == pytest.approx(0)
    assert view.image_rect().topLeft().y() == pytest.approx(0)
    view.fit()
    assert not view.is_zoomed_in()
    assert view.image_rect().center().x() == pytest.approx(200)


def test_the_zoom_and_the_adjustment_carry_over_to_the_next_sample(view):
    view.set_pixmap(_pixmap(_checkerboard()))
    view.zoom_by(2.0)
    view.set_adjustment(view.adjustment.brighter(+2))
    scale = view.scale()
    view.set_pixmap(_pixmap(np.full((28, 28), 100, np.uint8)))
    assert view.scale() == pytest.approx(scale)
    centre = _grab(view)[200, 200]
    assert tuple(centre) == (151, 151, 151)  # 100 + 2 × 10% of 255
    assert view.status_text() == f"{scale:.0%} · brightness +20%"  # a set zoom, not "fit"
    view.reset()
    assert view.adjustment.is_identity and not view.is_zoomed_in()
    assert tuple(_grab(view)[200, 200]) == (100, 100, 100)


def test_lookup_table_known_values():
    assert DisplayAdjustment().lookup_table().tolist() == list(range(256))
    inverted = DisplayAdjustment(inverted=True).lookup_table()
    assert inverted[0] == 255 and inverted[255] == 0 and inverted[100] == 155
    brighter = DisplayAdjustment(brightness_steps=1).lookup_table()
    assert brighter[100] == 126 and brighter[250] == 255  # clipped, never wraps
    contrast = DisplayAdjustment(contrast_steps=1).lookup_table()
    assert contrast[0] == 0 and contrast[255] == 255  # 1.25× around mid grey: ends clip
    assert contrast[100] == 93 and contrast[155] == 162
    assert DisplayAdjustment().brighter(+50).brightness_steps == 10  # bounded


def test_adjusting_keeps_alpha_and_leaves_the_source_alone(qtbot):
    image = QImage(2, 1, QImage.Format.Format_ARGB32)
    image.setPixelColor(0, 0, QColor(10, 20, 30, 128))
    image.setPixelColor(1, 0, QColor(200, 210, 220, 255))
    source = QPixmap.fromImage(image)
    shown = adjusted_pixmap(source, DisplayAdjustment(inverted=True)).toImage()
    assert shown.pixelColor(1, 0).getRgb() == (55, 45, 35, 255)
    assert shown.pixelColor(0, 0).alpha() == 128
    assert source.toImage().pixelColor(1, 0).getRgb() == (200, 210, 220, 255)


def test_one_to_one_means_the_files_pixels_when_the_file_was_decoded_smaller(view):
    view.set_pixmap(_pixmap(np.zeros((300, 600), np.uint8)), file_size=(1200, 600))
    view.actual_pixels()
    assert view.file_scale() == pytest.approx(1.0) and view.scale() == pytest.approx(2.0)
    assert view.status_text() == "100%"


def test_the_large_view_decodes_small_files_at_their_own_size(tmp_path):
    from app.gui.thumbnails import decode_scaled

    path = tmp_path / "small.png"
    _pixmap(_checkerboard()).save(str(path))
    assert decode_scaled(str(path), 1024, enlarge=False).width() == 28
    assert decode_scaled(str(path), 96).width() == 96  # grid thumbnails still fill their tile
