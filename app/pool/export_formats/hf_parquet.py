"""``hf-parquet``: Parquet shards with the images inside, as the Hub stores datasets.

Layout::

    OUT/README.md                               dataset card: features, class names
    OUT/data/train-00000-of-00002.parquet       image (bytes + name), label, annotator,
                                                labeled_at, sha256 (+ frame columns)

Each shard's Arrow schema carries the ``datasets`` features, so
``datasets.load_dataset("parquet", data_dir=OUT/"data")`` and
``datasets.load_dataset(OUT)`` give ``label`` as a ``ClassLabel`` and
``image`` as an ``Image``.  Images keep their original bytes (GIFs become
PNG, as in every export), so the ``sha256`` column matches the file.
"""

from __future__ import annotations

import io

from PIL import Image

from app.pool.export_formats.common import (
    CONVERT_TO_PNG,
    ExportContext,
    ExportedItem,
    FormatWriter,
)
from app.pool.export_formats.hf_card import dataset_card
from app.pool.export_formats.hf_imagefolder import arrow_table, card_columns, metadata_rows

#: Images per shard stop growing a shard past this many bytes (the Hub uses ~500 MB).
SHARD_BYTES = 256 * 1024 * 1024


def _image_bytes(item: ExportedItem) -> bytes:
    if item.source.suffix.lower() in CONVERT_TO_PNG:
        with Image.open(item.source) as image:
            image.seek(0)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            return buffer.getvalue()
    return item.source.read_bytes()


def _shards(items: list[ExportedItem]) -> list[list[ExportedItem]]:
    shards: list[list[ExportedItem]] = [[]]
    size = 0
    for item in items:
        length = item.source.stat().st_size
        if shards[-1] and size + length > SHARD_BYTES:
            shards.append([])
            size = 0
        shards[-1].append(item)
        size += length
    return shards


class HfParquetWriter(FormatWriter):
    name = "hf-parquet"
    summary = "Hugging Face Parquet shards (images inside) + README.md with class names"

    def write(self, ctx: ExportContext, items: list[ExportedItem]) -> None:
        shards = _shards(items)
        for number, shard in enumerate(shards):
            rows = metadata_rows(shard, None)
            for row, item in zip(rows, shard, strict=True):
                row["file_name"] = ctx.image_name(item.sample, item.source)
            images = {"bytes": [_image_bytes(item) for item in shard],
                      "path": [row.pop("file_name") for row in rows]}
            table = arrow_table(rows, ctx.classes, images)
            import pyarrow.parquet as pq

            relative = f"data/train-{number:05d}-of-{len(shards):05d}.parquet"
            pq.write_table(table, ctx.new_file(relative))
        body = ("# Labelloop export\n\nLoad with `datasets.load_dataset(\"parquet\", "
                "data_dir=.../data)` or `datasets.load_dataset(...)` on this folder.")
        ctx.write_text("README.md", dataset_card(ctx, card_columns(items),
                                                 "data/train-*", body))


WRITER = HfParquetWriter()
