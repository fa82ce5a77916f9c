"""``labelstudio``: a Label Studio task list with its labeling config beside it.

``tasks.json`` is what Label Studio's *Import* accepts: one task per labeled
item with ``data.image`` (a local-files URL by default) and one annotation
whose result is a ``choices`` region; ``label_config.xml`` declares the
``Choices`` control (``from_name``) on the ``Image`` object (``to_name``)
that every result names.  The annotator and the time are in the task's
``meta`` and the annotation's ``lead_time``: an annotation's
``completed_by`` must name a member of the Label Studio organisation, or
the import is refused.  With predictions, unlabeled items come too, each
with the latest model's class and score as a Label Studio prediction
(pre-annotation) for a reviewer to accept or correct.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from app.domain.records import Item
from app.pool.export_formats.common import (
    ExportContext,
    ExportedItem,
    ExportError,
    FormatWriter,
)
from app.pool.frame_rows import frame_fields as video_frame_fields

#: Label Studio's URL for files it serves from LOCAL_FILES_DOCUMENT_ROOT.
LOCAL_FILES_PREFIX = "/data/local-files/?d="
FROM_NAME = "label"
TO_NAME = "image"
TASKS_FILE = "tasks.json"
CONFIG_FILE = "label_config.xml"


def label_config(classes: list[str]) -> str:
    """The labeling config: an Image and a single-choice Choices over ``classes``."""
    choices = "\n".join(f"    <Choice value={quoteattr(name)}/>" for name in classes)
    return (
        "<View>\n"
        f'  <Image name="{TO_NAME}" value="${TO_NAME}"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" '
        'showInline="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def image_reference(source: Path, prefix: str | None, root: str | None) -> str:
    """What ``data.image`` says for ``source``.

    ``prefix`` None gives the local-files URL, ``""`` the plain absolute
    path; otherwise ``prefix`` followed by the URL-quoted path relative to
    ``root`` (default: the file system root, as with
    ``LOCAL_FILES_DOCUMENT_ROOT=/``).
    """
    absolute = Path(os.path.abspath(source))
    if prefix == "":
        return str(absolute)
    base = Path(os.path.abspath(root or absolute.anchor))
    try:
        relative = absolute.relative_to(base).as_posix()
    except ValueError:
        raise ExportError(f"{absolute}: not under the image root {base}; "
                          "choose another --image-root") from None
    return (LOCAL_FILES_PREFIX if prefix is None else prefix) + quote(relative)


def _choice(name: str, score: float | None = None) -> dict:
    region = {"id": uuid.uuid4().hex[:10], "type": "choices", "from_name": FROM_NAME,
              "to_name": TO_NAME, "origin": "manual", "value": {"choices": [name]}}
    if score is not None:
        region["origin"] = "prediction"
        region["score"] = score
    return region


def _task_data(ctx: ExportContext, sample: Item, source: Path) -> dict:
    data = {TO_NAME: image_reference(source, ctx.options.image_url_prefix,
                                     ctx.options.image_root),
            "sha256": sample.sha256, "labelloop_id": sample.id}
    if sample.is_frame:
        data.update(video_frame_fields(sample, ctx.workspace.media([sample.media_id])[0]))
    return data


class LabelStudioWriter(FormatWriter):
    name = "labelstudio"
    summary = "tasks.json + label_config.xml for Label Studio (annotations, predictions)"

    def write(self, ctx: ExportContext, items: list[ExportedItem]) -> None:
        tasks = []
        for item in items:
            annotation = item.annotation
            tasks.append({
                "id": item.sample.id,
                "data": _task_data(ctx, item.sample, item.source),
                # No completed_by: Label Studio refuses an import naming a user it
                # does not know and gives the annotation to the importing user; the
                # annotator travels in the task's meta, which it keeps.
                "annotations": [{
                    "result": [_choice(item.label)],
                    "created_at": annotation.created_at,
                    "lead_time": annotation.seconds_spent,
                    "was_cancelled": False,
                    "ground_truth": False,
                }],
                "predictions": [],
                "meta": {"annotator": annotation.annotator, "labeled_at": annotation.created_at},
            })
        for sample, (name, score, model) in self._predicted(ctx):
            tasks.append({
                "id": sample.id,
                "data": _task_data(ctx, sample, ctx.workspace.resolve(sample.path)),
                "annotations": [],
                "predictions": [{"model_version": model, "score": score,
                                 "result": [_choice(name, score)]}],
            })
        with ctx.open_text(TASKS_FILE) as handle:
            json.dump(tasks, handle, indent=1, ensure_ascii=False)
        ctx.write_text(CONFIG_FILE, label_config(ctx.classes))

    @staticmethod
    def _predicted(ctx: ExportContext) -> list[tuple[Item, tuple[str, float, str]]]:
        """Unlabeled items with a prediction, in id order (none unless asked for)."""
        predictions = ctx.options.predictions
        if not predictions:
            return []
        unlabeled = ctx.workspace.unlabeled_sample_ids()
        wanted = [i for i in unlabeled if i in predictions]
        return [(s, predictions[s.id]) for s in ctx.workspace.samples(wanted)]


WRITER = LabelStudioWriter()
