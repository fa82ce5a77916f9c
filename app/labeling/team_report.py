"""Who labeled what, how fast, and how much the annotators agree (``labelloop annotators``).

A *vote* is an annotator's newest standing class label of an item (undo
rows and labels that were undone do not count).  Items with votes of two
or more annotators are where agreement is measured: the share of votes that
match another annotator's vote on the same item, Cohen's kappa for each
pair of annotators, and Fleiss' kappa overall and per class over the items
with the most common number of voters (Fleiss needs the same number per
item).

Speed: an annotator's active time is the sum of the gaps between their
consecutive labels that are at most :data:`BREAK_S` (a longer gap is a
break, not labeling); labels/hour divides by it.  Seconds per label are the
ones the GUI recorded where it did, else those gaps.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import combinations
from typing import Any

import numpy as np

from app.domain.records import Annotation
from app.project.workspace import Workspace
from sampling.agreement import cohen_kappa, fleiss_kappa, fleiss_kappa_per_class

BREAK_S = 600.0


@dataclass(frozen=True)
class AnnotatorStats:
    """One annotator's figures; None where there is nothing to measure."""

    name: str
    labels: int                 # label rows given (undo rows excluded)
    items: int                  # items whose current label is theirs
    labels_per_hour: float | None
    median_seconds_per_label: float | None
    shared_items: int           # items someone else voted on too
    agreement: float | None     # share of their votes on shared items that others match


@dataclass(frozen=True)
class TeamReport:
    annotators: list[AnnotatorStats]
    overlap_items: int
    fleiss_kappa: float | None
    fleiss_kappa_per_class: dict[str, float | None]
    cohen_kappa: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"annotators": [asdict(a) for a in self.annotators],
                "overlap_items": self.overlap_items, "fleiss_kappa": self.fleiss_kappa,
                "fleiss_kappa_per_class": self.fleiss_kappa_per_class,
                "cohen_kappa": self.cohen_kappa}


def votes(history: list[Annotation]) -> dict[int, dict[str, str]]:
    """``{item: {annotator: class}}``: each annotator's newest standing class label."""
    undone = {a.undoes_id for a in history if a.undoes_id is not None}
    out: dict[int, dict[str, str]] = defaultdict(dict)
    for a in history:  # oldest first: a later vote replaces an earlier one
        if a.undoes_id is not None or a.id in undone:
            continue
        if a.class_name is None:
            out[a.sample_id].pop(a.annotator, None)
        else:
            out[a.sample_id][a.annotator] = a.class_name
    return {item: who for item, who in out.items() if who}


def _nan_to_none(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 4)


def _speed(rows: list[Annotation]) -> tuple[float | None, float | None]:
    times = sorted(datetime.fromisoformat(a.created_at).timestamp() for a in rows)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b - a <= BREAK_S]
    active = sum(gaps)
    per_hour = round((len(gaps)) / active * 3600.0, 1) if active > 0 else None
    recorded = [a.seconds_spent for a in rows if a.seconds_spent is not None]
    basis = recorded or gaps
    median = round(float(statistics.median(basis)), 3) if basis else None
    return per_hour, median


def team_report(workspace: Workspace) -> TeamReport:
    """Every annotator's counts, speed and agreement, and the team's kappas."""
    history = workspace.all_annotations()
    classes = workspace.classes()
    code = {name: i for i, name in enumerate(classes)}
    by_annotator: dict[str, list[Annotation]] = defaultdict(list)
    for a in history:
        if a.undoes_id is None and a.class_name is not None:
            by_annotator[a.annotator].append(a)
    current = workspace.labeled_per_annotator()
    item_votes = votes(history)
    shared = {item: who for item, who in item_votes.items() if len(who) >= 2}

    stats = []
    for name in sorted(set(by_annotator) | set(current)):
        mine = [who for who in shared.values() if name in who]
        matched = sum(1 for who in mine
                      if any(c == who[name] for other, c in who.items() if other != name))
        per_hour, median = _speed(by_annotator.get(name, []))
        stats.append(AnnotatorStats(
            name, len(by_annotator.get(name, [])), current.get(name, 0), per_hour, median,
            len(mine), round(matched / len(mine), 4) if mine else None))

    pairs: dict[str, float | None] = {}
    names = sorted({n for who in shared.values() for n in who})
    for first, second in combinations(names, 2):
        both = [(who[first], who[second]) for who in shared.values()
                if first in who and second in who and who[first] in code
                and who[second] in code]
        if both:
            a = np.array([code[x] for x, _ in both])
            b = np.array([code[y] for _, y in both])
            pairs[f"{first}|{second}"] = _nan_to_none(cohen_kappa(a, b, len(classes)))

    fleiss, per_class = None, {name: None for name in classes}
    if shared:
        raters = Counter(len(who) for who in shared.values()).most_common(1)[0][0]
        counts = np.array([[Counter(who.values())[c] for c in classes]
                           for who in shared.values() if len(who) == raters])
        counts = counts[counts.sum(axis=1) == raters]  # votes for archived classes left out
        if len(counts):
            fleiss = _nan_to_none(fleiss_kappa(counts))
            per_class = {name: _nan_to_none(k)
                         for name, k in zip(classes, fleiss_kappa_per_class(counts),
                                            strict=True)}
    return TeamReport(stats, len(shared), fleiss, per_class, pairs)
