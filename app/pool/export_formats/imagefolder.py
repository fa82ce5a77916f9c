"""``imagefolder``: one folder per class, the layout torchvision's ImageFolder reads."""

from __future__ import annotations

from pathlib import Path

from app.domain.records import Item
from app.pool.export_formats.common import ExportContext, ExportedItem, FormatWriter


class ImageFolderWriter(FormatWriter):
    name = "imagefolder"
    summary = "CLASS/ID_NAME.ext folders (torchvision.datasets.ImageFolder)"

    def image_path(self, ctx: ExportContext, sample: Item, label: str, source: Path) -> str:
        return f"{ctx.class_folders[label]}/{ctx.image_name(sample, source)}"

    def write(self, ctx: ExportContext, items: list[ExportedItem]) -> None:
        """The folders are the labels; the manifest says the rest."""


WRITER = ImageFolderWriter()
