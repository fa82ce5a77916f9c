"""Label Studio exports: the full JSON task list and ``JSON_MIN``.

Full JSON: each task has ``data`` (the image reference) and ``annotations``
(each with a ``result`` list, ``completed_by``, ``created_at``,
``updated_at``, ``was_cancelled``).  Cancelled (skipped) annotations are
ignored; of the others the one saved last (``updated_at``, else
``created_at``: an annotation edited later is the newer opinion) is the
label and the older ones go to history
with their annotators (``completed_by``, else the annotator a Labelloop
export put in the task's ``meta``).  ``predictions`` are a model's, not a person's: they
are counted and never imported.

``JSON_MIN`` (Label Studio's converter): one flat record per annotation,
the data fields plus ``<from_name>: "class"`` and ``annotator``; records of
the same task are grouped the same way.

Image references are matched to items by path: ``/data/local-files/?d=...``
is URL-decoded, an uploaded file (``/data/upload/12/3f2a9c1e-cat.png``) is
matched by its original name (Label Studio adds an 8-hex prefix), other URLs
by their path.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

from app.pool.label_formats.entries import LabelEntry, LabelSource, LabelVote

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}
# JSON_MIN keys that are about the annotation, not the task's data or its answer.
_MIN_META = {"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time",
             "agreement", "annotation_ids"}
_PREFERRED_CHOICE_KEYS = ("label", "choice", "choices", "class", "category")
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


def path_from_reference(reference: str) -> str:
    """The file path an image reference in a task names, for matching to items."""
    parts = urlsplit(reference)
    if parts.path.endswith("/data/local-files/") or parts.path.endswith("/data/local-files"):
        found = parse_qs(parts.query).get("d")
        if found:
            return found[0]  # parse_qs already URL-decoded it
    if "/data/upload/" in parts.path:
        name = unquote(PurePosixPath(parts.path).name)
        return _UPLOAD_PREFIX.sub("", name)
    if parts.scheme in ("http", "https", "s3", "gs", "azure-blob") and parts.netloc:
        return unquote(parts.path).lstrip("/")
    return reference


def annotator_name(completed_by: object) -> str | None:
    """A readable annotator from ``completed_by`` (a user id, a user dict or an email)."""
    if isinstance(completed_by, dict):
        email = completed_by.get("email")
        if email:
            return str(email)
        completed_by = completed_by.get("id")
    if isinstance(completed_by, bool) or completed_by is None or completed_by == "":
        return None
    if isinstance(completed_by, int):
        return f"labelstudio-user-{completed_by}"
    return str(completed_by)


def _image_reference(data: dict) -> str | None:
    """``data.image``, else the first value that names an image file."""
    value = data.get("image")
    if isinstance(value, str) and value:
        return value
    for value in data.values():
        if isinstance(value, str) and PurePosixPath(urlsplit(value).path).suffix.lower() \
                in IMAGE_SUFFIXES:
            return value
    return None


def _choice_of(result: object) -> tuple[str | None, str | None]:
    """``(class, problem)`` from an annotation's ``result`` list."""
    if not isinstance(result, list):
        return None, "no result list"
    for region in result:
        if not isinstance(region, dict):
            continue
        value = region.get("value")
        if region.get("type") == "choices" or (isinstance(value, dict) and "choices" in value):
            choices = value.get("choices") if isinstance(value, dict) else None
            if not isinstance(choices, list) or not choices:
                return None, "an empty choice"
            if len(choices) > 1:
                return None, f"several choices ticked ({', '.join(map(str, choices))})"
            return str(choices[0]), None
    return None, "no class choice in the result"


def _saved_at(annotation: dict) -> str:
    """When an annotation was last saved: Label Studio's ISO times sort as text."""
    return str(annotation.get("updated_at") or annotation.get("created_at") or "")


def _cancelled(annotation: dict) -> bool:
    return bool(annotation.get("was_cancelled") or annotation.get("skipped"))


def _is_url(reference: str) -> bool:
    parts = urlsplit(reference)
    return bool(parts.scheme and parts.netloc) and "/data/local-files" not in parts.path


def _entry(reference: str, data: dict, votes: list[LabelVote]) -> LabelEntry:
    winner = votes[-1]
    sha = data.get("sha256")
    return LabelEntry(file=path_from_reference(reference), label=winner.label,
                      annotator=winner.annotator,
                      sha256=sha.lower() if isinstance(sha, str) and sha else None,
                      history=tuple(votes[:-1]), url_path=_is_url(reference))


def read_tasks(path: Path, tasks: list) -> LabelSource:
    """Entries from a Label Studio full JSON export (a list of tasks)."""
    source = LabelSource("labelstudio")
    for task in tasks:
        source.count("tasks")
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            source.problems.append({"file": str(task)[:80], "reason": "a task without data"})
            continue
        reference = _image_reference(task["data"])
        if reference is None:
            source.problems.append({"file": str(task.get("id")), "reason": "no image in data"})
            continue
        file = path_from_reference(reference)
        predictions = task.get("predictions")
        source.count("predictions_ignored", len(predictions) if isinstance(predictions, list)
                     else 0)
        annotations = task.get("annotations", task.get("completions")) or []
        # Labelloop's own export names the annotator in the task's meta.
        meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
        meta_annotator = str(meta["annotator"]) if meta.get("annotator") else None
        ordered = sorted(
            (a for a in annotations if isinstance(a, dict)),
            key=_saved_at)  # stable: equal times keep the file's order
        votes = []
        for annotation in ordered:
            source.count("annotations")
            if _cancelled(annotation):
                source.count("cancelled")
                continue
            label, problem = _choice_of(annotation.get("result"))
            if label is None:
                source.problems.append({"file": file, "reason": problem or "no class"})
                continue
            votes.append(LabelVote(label, annotator_name(annotation.get("completed_by"))
                                   or meta_annotator))
        if not votes:
            source.count("tasks_without_label")
            continue
        source.entries.append(_entry(reference, task["data"], votes))
    return source


def _config_choice_names(path: Path) -> list[str]:
    """``name`` of each Choices control in a ``label_config.xml`` beside the export."""
    config = path.parent / "label_config.xml"
    try:
        root = ElementTree.fromstring(config.read_text(encoding="utf-8"))
    except (OSError, ValueError, ElementTree.ParseError):
        return []
    return [c.get("name", "") for c in root.iter("Choices") if c.get("name")]


def _choice_key(path: Path, records: list[dict], image_key: str) -> str:
    """Which JSON_MIN field holds the class (the Choices control's from_name)."""
    candidates = set()
    for record in records:
        for key, value in record.items():
            if key in _MIN_META or key == image_key:
                continue
            if isinstance(value, str) or (isinstance(value, dict) and "choices" in value):
                candidates.add(key)
    for name in _config_choice_names(path):
        if name in candidates:
            return name
    for name in _PREFERRED_CHOICE_KEYS:
        if name in candidates:
            return name
    if len(candidates) == 1:
        return next(iter(candidates))
    raise ValueError(
        f"cannot tell which field holds the class (candidates: {sorted(candidates)}); "
        "put the project's label_config.xml beside the file")


def _min_label(value: object) -> tuple[str | None, str | None]:
    if isinstance(value, str):
        return (value, None) if value else (None, "an empty choice")
    if isinstance(value, dict):
        value = value.get("choices")
    if isinstance(value, list) and len(value) == 1:
        return str(value[0]), None
    if isinstance(value, list) and len(value) > 1:
        return None, f"several choices ticked ({', '.join(map(str, value))})"
    return None, "no class choice"


def read_min(path: Path, records: list[dict]) -> LabelSource:
    """Entries from a Label Studio ``JSON_MIN`` export (one record per annotation)."""
    source = LabelSource("labelstudio-min")
    image_key = "image" if any("image" in r for r in records) else next(
        (k for r in records for k, v in r.items()
         if isinstance(v, str) and PurePosixPath(urlsplit(v).path).suffix.lower()
         in IMAGE_SUFFIXES), "image")
    key = _choice_key(path, records, image_key)
    groups: dict[object, list[dict]] = {}
    for record in records:
        reference = record.get(image_key)
        group = record.get("id", reference)
        groups.setdefault(group if group is not None else id(record), []).append(record)
    for group in groups.values():
        source.count("tasks")
        reference = group[0].get(image_key)
        if not isinstance(reference, str) or not reference:
            source.problems.append({"file": str(group[0])[:80], "reason": "no image"})
            continue
        file = path_from_reference(reference)
        votes = []
        for record in sorted(group, key=_saved_at):
            if key not in record:
                continue  # a task without annotations: the converter lists its data alone
            source.count("annotations")
            label, problem = _min_label(record.get(key))
            if label is None:
                source.problems.append({"file": file, "reason": problem or "no class"})
                continue
            votes.append(LabelVote(label, annotator_name(record.get("annotator"))))
        if votes:
            source.entries.append(_entry(reference, group[0], votes))
        else:
            source.count("tasks_without_label")
    return source


def is_task_list(document: object) -> bool:
    """A full export: a list whose items are tasks (dicts with ``data``)."""
    return isinstance(document, list) and any(
        isinstance(t, dict) and isinstance(t.get("data"), dict) for t in document)


def is_min_list(document: object) -> bool:
    """A ``JSON_MIN`` export: flat dicts, one of whose values names an image file."""
    return isinstance(document, list) and bool(document) and all(
        isinstance(r, dict) for r in document) and not is_task_list(document)
