"""Importing existing labels from a file of any supported format.

:func:`app.pool.label_formats.read_label_file` detects the format (today's
``file,label`` CSV, Label Studio JSON and JSON_MIN, Hugging Face metadata,
COCO, FiftyOne, an ImageFolder tree) and gives one entry per labeled file;
here every entry is matched to an item and applied the same way.

Matching: by the sha256 the source records, else by the content of the
image when it lies beside the label file (an export's own copy), else by
path (absolute, or any trailing part of an item's path).

Rows that cannot be applied as written are never guessed at; each is
reported and the rest of the file goes in:

* ``empty_label``: a row whose label cell is empty (nothing to apply);
* ``invalid_labels``: a label that is not a valid class name (control
  characters, too long; see :mod:`app.domain.class_names`), or that the
  format cannot express as one class (several choices ticked);
* ``refused_paths``: a file path with a ``..`` component (``a/../a/x.png``),
  which could name a different file than it seems to;
* ``conflicting``: rows naming the same sample with different labels; that
  sample keeps its current label (no row wins silently);
* ``unmatched`` / ``ambiguous``: no sample, or several, match the path.

Repeated rows with the same label count once (``repeated`` counts the extra
rows).  Earlier annotations a source keeps (Label Studio tasks annotated
several times) are written before the label that wins, with their
annotators, so the history shows them; a sample already carrying the
winning label is left as it is, history and all, so importing the same
file twice changes nothing.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from app.domain.class_names import class_name_problem
from app.domain.records import IMPORTED_SOURCE
from app.files.file_digest import file_sha256
from app.pool.label_formats import LabelEntry, LabelSource, read_label_file
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
    #: Items the importer's role may not relabel: ``{"path", "reason"}``.
    refused_by_role: list[dict] = field(default_factory=list)
    #: The format the file was read as (see :mod:`app.pool.label_formats`).
    format: str = "csv"
    #: Entries matched to an item (applied, unchanged or conflicting).
    matched: int = 0
    #: Earlier annotations written to history before the winning label.
    history: int = 0
    #: ``{annotator: {"labeled": n, "history": m}}`` of what was written.
    per_annotator: dict[str, dict[str, int]] = field(default_factory=dict)
    #: What the format counted: Label Studio tasks, cancelled annotations, ...
    source_counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "format": self.format,
            "matched": self.matched,
            "labeled": self.labeled,
            "unchanged": self.unchanged,
            "repeated": self.repeated,
            "history": self.history,
            "added_classes": self.added_classes,
            "unmatched": self.unmatched,
            "ambiguous": self.ambiguous,
            "empty_label": self.empty_label,
            "invalid_labels": self.invalid_labels,
            "refused_paths": self.refused_paths,
            "conflicting": self.conflicting,
            "refused_by_role": self.refused_by_role,
            "per_annotator": self.per_annotator,
            "source_counts": self.source_counts,
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


def _screen(entries: list[LabelEntry], known: set[str],
            report: LabelImportReport) -> list[tuple[LabelEntry, str]]:
    """``(entry, normalised path)`` of the entries that may apply; the rest reported."""
    kept = []
    for entry in entries:
        if not entry.label:
            report.empty_label.append(entry.file)
            continue
        problems = [(label, class_name_problem(label))
                    for label in (entry.label, *(v.label for v in entry.history))
                    if label not in known]
        bad = [(label, p) for label, p in problems if p is not None]
        if bad:
            report.invalid_labels.append({"file": entry.file, "label": bad[0][0],
                                          "reason": bad[0][1]})
            continue
        name = _normalise(entry.file)
        if ".." in PurePosixPath(name).parts:
            report.refused_paths.append(
                {"file": entry.file, "reason": "has a '..' component; write the path without it"})
            continue
        kept.append((entry, name))
    return kept


class _Matcher:
    """Finds the sample an entry names: by sha256, by the file's content, by path."""

    def __init__(self, workspace: Workspace) -> None:
        samples = workspace.samples()
        self.by_sha = {s.sha256: s.id for s in samples}
        self.index = _suffix_index({s.id: s.path for s in samples})
        self.absolute = {str(workspace.resolve(s.path)): s.id for s in samples}

    def match(self, entry: LabelEntry, name: str) -> list[int]:
        if entry.sha256 and entry.sha256 in self.by_sha:
            return [self.by_sha[entry.sha256]]
        if entry.local_file is not None:
            try:
                digest = file_sha256(entry.local_file)
            except (OSError, ValueError):
                digest = None
            if digest in self.by_sha:
                return [self.by_sha[digest]]
        if name in self.absolute:
            return [self.absolute[name]]
        found = self.index.get(name, [])
        parts = name.split("/")
        # A URL's path may start with the server's own folders: drop them one by one.
        for start in range(1, len(parts)) if entry.url_path and not found else ():
            found = self.index.get("/".join(parts[start:]), [])
            if found:
                break
        return found


def import_labels(
    workspace: Workspace,
    label_path: str | os.PathLike[str],
    annotator: str,
    *,
    add_classes: bool = False,
    max_bytes: int | None = None,
    may_write: Callable[[int], str | None] | None = None,
) -> LabelImportReport:
    """Label pool samples from a label file or folder of any supported format.

    Parameters
    ----------
    workspace : Workspace
        The open project.
    label_path : path
        The file (or export folder, or class tree); its format is detected.
    annotator : str
        Stored on labels whose source names no annotator.
    add_classes : bool
        Create classes the file names that the project lacks; without it
        unknown classes are an error and nothing is written.
    max_bytes : int, optional
        Size cap of the file read.
    may_write : callable, optional
        ``may_write(sample_id)`` gives the reason an item may not be
        labeled by this import (the importer's role), or None; refused
        items are reported in ``refused_by_role`` and left as they are.

    Returns
    -------
    LabelImportReport
        What was applied and what was not, and why (see the module docstring).
    """
    source = read_label_file(label_path, max_bytes)
    return apply_labels(workspace, source, annotator, add_classes=add_classes,
                        where=str(label_path), may_write=may_write)


def apply_labels(workspace: Workspace, source: LabelSource, annotator: str, *,
                 add_classes: bool = False, where: str = "labels",
                 may_write: Callable[[int], str | None] | None = None) -> LabelImportReport:
    """Apply parsed entries to the workspace in one transaction per annotator and round."""
    known = set(workspace.classes())
    report = LabelImportReport(format=source.format, source_counts=dict(source.counts))
    report.invalid_labels.extend(
        {"file": p["file"], "label": "", "reason": p["reason"]} for p in source.problems)
    kept = _screen(source.entries, known, report)
    unknown = sorted({label for entry, _ in kept
                      for label in (entry.label, *(v.label for v in entry.history))
                      if label not in known})
    if unknown and not add_classes:
        raise WorkspaceError(
            f"{where}: unknown classes {', '.join(repr(u) for u in unknown)}; "
            "add them with --add-classes or fix the file"
        )
    if unknown:
        workspace.add_classes(unknown)
        report.added_classes = unknown
    matcher = _Matcher(workspace)
    # sample id -> label -> the entries that gave it that label
    wanted: dict[int, dict[str, list[LabelEntry]]] = defaultdict(lambda: defaultdict(list))
    for entry, name in kept:
        matches = matcher.match(entry, name)
        if not matches:
            report.unmatched.append(entry.file)
        elif len(matches) > 1:
            report.ambiguous.append(entry.file)
        else:
            wanted[matches[0]][entry.label].append(entry)
            report.matched += 1
    _write(workspace, wanted, annotator, report, may_write)
    return report


def _write(workspace: Workspace, wanted: dict[int, dict[str, list[LabelEntry]]],
           default_annotator: str, report: LabelImportReport,
           may_write: Callable[[int], str | None] | None) -> None:
    paths = {s.id: s.path for s in workspace.samples(sorted(wanted))} if wanted else {}
    current = workspace.current_labels()
    class_ids = {c.name: c.id for c in workspace.class_infos()}
    # rounds[k][annotator] = rows of the k-th earlier annotation of each sample; the
    # winners come in a last round, so each sample's newest row is its label.
    rounds: list[dict[str, list[tuple[int, int]]]] = []
    winners: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for sample_id, by_label in wanted.items():
        if len(by_label) > 1:
            report.conflicting.append({
                "path": paths[sample_id], "labels": sorted(by_label),
                "files": [e.file for entries in by_label.values() for e in entries]})
            continue
        ((label, entries),) = by_label.items()
        report.repeated += len(entries) - 1
        if current.get(sample_id) == label:
            report.unchanged += 1
            continue
        refusal = may_write(sample_id) if may_write is not None else None
        if refusal is not None:
            report.refused_by_role.append({"path": paths[sample_id], "reason": refusal})
            continue
        entry = entries[-1]
        for k, vote in enumerate(entry.history):
            if len(rounds) <= k:
                rounds.append(defaultdict(list))
            rounds[k][vote.annotator or default_annotator].append(
                (sample_id, class_ids[vote.label]))
        winners[entry.annotator or default_annotator].append((sample_id, class_ids[label]))
    for rows_by_annotator in rounds:
        for name, rows in rows_by_annotator.items():
            workspace.add_annotations(rows, name, IMPORTED_SOURCE)
            report.history += len(rows)
            report.per_annotator.setdefault(name, {"labeled": 0, "history": 0})["history"] \
                += len(rows)
    for name, rows in winners.items():
        workspace.add_annotations(rows, name, IMPORTED_SOURCE)
        report.labeled += len(rows)
        report.per_annotator.setdefault(name, {"labeled": 0, "history": 0})["labeled"] \
            += len(rows)
