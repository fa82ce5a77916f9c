"""Importing existing labels from a CSV file with ``file,label`` columns.

Rows that cannot be applied as written are never guessed at; each is
reported and the rest of the file goes in:

* ``empty_label``: a row whose label cell is empty (nothing to apply);
* ``invalid_labels``: a label that is not a valid class name (control
  characters, too long; see :mod:`app.domain.class_names`);
* ``refused_paths``: a file path with a ``..`` component (``a/../a/x.png``),
  which could name a different file than it seems to;
* ``conflicting``: rows naming the same sample with different labels; that
  sample keeps its current label (no row wins silently);
* ``unmatched`` / ``ambiguous``: no sample, or several, match the path.

Repeated rows with the same label count once (``repeated`` counts the extra
rows).
"""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from app.domain.class_names import class_name_problem
from app.domain.records import IMPORTED_SOURCE
from app.files.safe_files import UnreadableFile, read_regular_file
from app.project.workspace import Workspace, WorkspaceError


@dataclass
class LabelImportReport:
    labeled: int = 0
    unchanged: int = 0
    repeated: int = 0
    added_classes: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    empty_label: list[str] = field(default_factory=list)
    invalid_labels: list[dict] = field(default_factory=list)
    refused_paths: list[dict] = field(default_factory=list)
    conflicting: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "labeled": self.labeled,
            "unchanged": self.unchanged,
            "repeated": self.repeated,
            "added_classes": self.added_classes,
            "unmatched": self.unmatched,
            "ambiguous": self.ambiguous,
            "empty_label": self.empty_label,
            "invalid_labels": self.invalid_labels,
            "refused_paths": self.refused_paths,
            "conflicting": self.conflicting,
        }


def _suffix_index(paths: dict[int, str]) -> dict[str, list[int]]:
    """Map every trailing part of each sample path to the samples that end with it.

    ``a/b/c.png`` is reachable as ``c.png``, ``b/c.png`` and ``a/b/c.png``, so a
    CSV written relative to whatever folder was imported still matches.
    """
    index: dict[str, list[int]] = defaultdict(list)
    for sample_id, path in paths.items():
        parts = PurePosixPath(path.replace(os.sep, "/")).parts
        for start in range(len(parts)):
            index["/".join(parts[start:])].append(sample_id)
    return index


def _normalise(name: str) -> str:
    name = name.strip().replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/") if not os.path.isabs(name) else name


def read_label_rows(
    csv_path: str | os.PathLike[str], max_bytes: int | None = None
) -> list[tuple[str, str]]:
    """``(file, label)`` rows of a CSV; a clear error names a malformed file.

    The CSV is read under :mod:`app.files.safe_files`' rules: a FIFO, a device such
    as ``/dev/zero`` or a file over the size cap (``max_bytes``) is refused
    before it is read.
    """
    try:
        data = read_regular_file(csv_path, max_bytes)
    except UnreadableFile as exc:
        raise WorkspaceError(f"{csv_path}: {exc}") from exc
    except ValueError as exc:  # a malformed size cap in the environment
        raise WorkspaceError(str(exc)) from exc
    try:
        text = data.decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if reader.fieldnames is None or not {"file", "label"} <= set(reader.fieldnames):
            raise WorkspaceError(
                f"{csv_path}: needs a header with 'file' and 'label' columns "
                f"(found {reader.fieldnames})"
            )
        return [(row["file"] or "", (row["label"] or "").strip()) for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise WorkspaceError(f"{csv_path}: not a readable CSV file ({exc})") from exc


def _screen_rows(
    rows: list[tuple[str, str]], known: set[str], report: LabelImportReport
) -> list[tuple[str, str, str]]:
    """``(file, normalised path, label)`` of the rows that may apply; the rest reported."""
    kept = []
    for file, label in rows:
        if not label:
            report.empty_label.append(file)
            continue
        problem = None if label in known else class_name_problem(label)
        if problem is not None:
            report.invalid_labels.append({"file": file, "label": label, "reason": problem})
            continue
        name = _normalise(file)
        if ".." in PurePosixPath(name).parts:
            report.refused_paths.append(
                {"file": file, "reason": "has a '..' component; write the path without it"})
            continue
        kept.append((file, name, label))
    return kept


def import_labels(
    workspace: Workspace,
    csv_path: str | os.PathLike[str],
    annotator: str,
    *,
    add_classes: bool = False,
    max_bytes: int | None = None,
) -> LabelImportReport:
    """Label pool samples from a CSV; unknown classes are an error unless ``add_classes``.

    Rows that cannot be applied are reported (see the module docstring) and
    the others are applied in one transaction.
    """
    rows = read_label_rows(csv_path, max_bytes)
    known = set(workspace.classes())
    report = LabelImportReport()
    kept = _screen_rows(rows, known, report)
    unknown = sorted({label for _, _, label in kept if label not in known})
    if unknown and not add_classes:
        raise WorkspaceError(
            f"{csv_path}: unknown classes {', '.join(repr(u) for u in unknown)}; "
            "add them with --add-classes or fix the file"
        )
    if unknown:
        workspace.add_classes(unknown)
        report.added_classes = unknown
    samples = workspace.samples()
    index = _suffix_index({s.id: s.path for s in samples})
    absolute = {str(workspace.resolve(s.path)): s.id for s in samples}
    # sample id -> label -> the CSV rows (as written) that gave it that label
    wanted: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for file, name, label in kept:
        matches = [absolute[name]] if name in absolute else index.get(name, [])
        if not matches:
            report.unmatched.append(file)
        elif len(matches) > 1:
            report.ambiguous.append(file)
        else:
            wanted[matches[0]][label].append(file)
    paths = {s.id: s.path for s in samples}
    current = workspace.current_labels()
    class_ids = {c.name: c.id for c in workspace.class_infos()}
    writes: dict[int, int] = {}
    for sample_id, by_label in wanted.items():
        if len(by_label) > 1:
            report.conflicting.append({
                "path": paths[sample_id], "labels": sorted(by_label),
                "files": [f for files in by_label.values() for f in files]})
            continue
        ((label, files),) = by_label.items()
        report.repeated += len(files) - 1
        if current.get(sample_id) == label:
            report.unchanged += 1
        else:
            writes[sample_id] = class_ids[label]
    workspace.add_annotations(list(writes.items()), annotator, IMPORTED_SOURCE)
    report.labeled = len(writes)
    return report
