"""Importing existing labels from a CSV file with ``file,label`` columns."""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from app.workspace import Workspace, WorkspaceError


@dataclass
class LabelImportReport:
    labeled: int = 0
    unchanged: int = 0
    added_classes: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "labeled": self.labeled,
            "unchanged": self.unchanged,
            "added_classes": self.added_classes,
            "unmatched": self.unmatched,
            "ambiguous": self.ambiguous,
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


def read_label_rows(csv_path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """``(file, label)`` rows of a CSV; a clear error names a malformed file."""
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or not {"file", "label"} <= set(reader.fieldnames):
                raise WorkspaceError(
                    f"{csv_path}: needs a header with 'file' and 'label' columns "
                    f"(found {reader.fieldnames})"
                )
            return [
                (row["file"] or "", (row["label"] or "").strip())
                for row in reader
            ]
    except OSError as exc:
        raise WorkspaceError(f"{csv_path}: cannot read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise WorkspaceError(f"{csv_path}: not a readable CSV file ({exc})") from exc


def import_labels(
    workspace: Workspace,
    csv_path: str | os.PathLike[str],
    annotator: str,
    *,
    add_classes: bool = False,
) -> LabelImportReport:
    """Label pool samples from a CSV; unknown classes are an error unless ``add_classes``."""
    rows = read_label_rows(csv_path)
    known = set(workspace.classes())
    unknown = sorted({label for _, label in rows if label and label not in known})
    if unknown and not add_classes:
        raise WorkspaceError(
            f"{csv_path}: unknown classes {', '.join(repr(u) for u in unknown)}; "
            "add them with --add-classes or fix the file"
        )
    report = LabelImportReport()
    if unknown:
        workspace.add_classes(unknown)
        report.added_classes = unknown
    samples = workspace.samples()
    index = _suffix_index({s.id: s.path for s in samples})
    absolute = {str(workspace.resolve(s.path)): s.id for s in samples}
    current = workspace.current_labels()
    class_ids = {c.name: c.id for c in workspace.class_infos()}
    writes: dict[int, int] = {}
    for file, label in rows:
        if not label:
            continue
        name = _normalise(file)
        matches = [absolute[name]] if name in absolute else index.get(name, [])
        if not matches:
            report.unmatched.append(file)
        elif len(matches) > 1:
            report.ambiguous.append(file)
        elif current.get(matches[0]) == label:
            report.unchanged += 1
        else:
            writes[matches[0]] = class_ids[label]
    workspace.store.add_annotations(list(writes.items()), annotator, "import-labels")
    report.labeled = len(writes)
    return report
