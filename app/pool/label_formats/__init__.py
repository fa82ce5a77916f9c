"""Reading label files of every supported format, detected by their content.

:func:`read_label_file` takes a file or a folder and returns a
:class:`~app.pool.label_formats.entries.LabelSource`; the caller
(:mod:`app.pool.label_import`) matches and applies it.

=====================  ==================================================
format                 recognised by
=====================  ==================================================
csv                    a CSV header with ``file`` (or ``path``) and ``label``
hf-metadata            ``metadata.jsonl`` / ``metadata.csv`` / ``metadata.parquet``
                       with ``file_name`` and ``label``
labelstudio            a JSON list of tasks with ``data`` (full export)
labelstudio-min        a JSON list of flat records naming an image (JSON_MIN)
coco                   a JSON object with ``images``, ``annotations``, ``categories``
fiftyone               a JSON object with ``labels`` (and ``classes``)
hf-parquet             Parquet shards with ``image`` and ``label``
imagefolder            a folder of class folders
=====================  ==================================================
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.files.safe_files import UnreadableFile, read_regular_file
from app.pool.label_formats import coco, fiftyone, folders, labelstudio, parquet_tables, tables
from app.pool.label_formats.entries import LabelEntry, LabelSource, LabelVote
from app.project.workspace import WorkspaceError

_PARQUET_MAGIC = b"PAR1"


def _read(path: Path, max_bytes: int | None) -> bytes:
    try:
        return read_regular_file(path, max_bytes)
    except UnreadableFile as exc:
        raise WorkspaceError(f"{path}: {exc}") from exc
    except ValueError as exc:  # a malformed size cap in the environment
        raise WorkspaceError(str(exc)) from exc


def _json_lines(path: Path, text: str) -> list[dict]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except RecursionError:
            raise WorkspaceError(f"{path}: line {number} nested too deeply to read") from None
        except ValueError as exc:
            raise WorkspaceError(f"{path}: line {number} is not JSON ({exc})") from None
        if not isinstance(row, dict):
            raise WorkspaceError(f"{path}: line {number} is not a JSON object")
        rows.append(row)
    return rows


def _from_json(path: Path, document: object) -> LabelSource:
    if coco.is_coco(document):
        return coco.read_coco(path, document)
    if fiftyone.is_fiftyone_labels(document):
        return fiftyone.read_fiftyone(path, document)
    if isinstance(document, dict) and "label" in document and set(document) & set(
            tables.FILE_COLUMNS):
        return tables.read_jsonl(path, [document])  # JSON Lines of a single record
    if isinstance(document, dict) and isinstance(document.get("data"), dict):
        document = [document]  # one Label Studio task on its own
    if labelstudio.is_task_list(document):
        return labelstudio.read_tasks(path, document)
    if labelstudio.is_min_list(document):
        try:
            return labelstudio.read_min(path, document)
        except ValueError as exc:
            raise WorkspaceError(f"{path}: {exc}") from None
    raise WorkspaceError(
        f"{path}: JSON that is none of the label formats Labelloop reads (Label Studio, "
        "COCO, FiftyOne, Hugging Face metadata)")


def read_label_file(path: str | os.PathLike[str], max_bytes: int | None = None) -> LabelSource:
    """Parse a label file (or an export folder) of any supported format.

    Parameters
    ----------
    path : path
        A file, or a folder (an export of any format, or a class tree).
    max_bytes : int, optional
        Size cap for the file read (see :mod:`app.files.safe_files`).

    Raises
    ------
    WorkspaceError
        Unreadable, or not a format Labelloop reads; the message names the file.
    """
    path = Path(path)
    if path.is_dir():
        found = folders.label_files_in(path)
        if not found:
            return folders.read_class_tree(path)
        if found[0].suffix == ".parquet":
            return parquet_tables.read_parquet(found)
        return read_label_file(found[0], max_bytes)
    if path.suffix.lower() == ".parquet" and path.is_file():
        return parquet_tables.read_parquet([path])  # streamed: no size cap applies
    data = _read(path, max_bytes)
    if data.startswith(_PARQUET_MAGIC):
        return parquet_tables.read_parquet([path])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WorkspaceError(f"{path}: not a readable CSV or JSON file ({exc})") from exc
    if text.lstrip().startswith(("[", "{")):
        try:
            document = json.loads(text)
        except RecursionError:
            raise WorkspaceError(f"{path}: JSON nested too deeply to read") from None
        except ValueError:
            return tables.read_jsonl(path, _json_lines(path, text))
        return _from_json(path, document)
    return tables.read_csv(path, text)


__all__ = ["LabelEntry", "LabelSource", "LabelVote", "read_label_file"]
