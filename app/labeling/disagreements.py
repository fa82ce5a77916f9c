"""The Disagreements queue: items whose annotators' votes differ, not yet settled.

A vote is an annotator's newest standing class label of an item
(:func:`app.labeling.team_report.votes`).  An item is in dispute when its
votes name two or more classes, unless a reviewer (:mod:`app.labeling.roles`)
labeled it after the last vote: the reviewer's label is then the current
one and settles it, while every vote stays in the history.  The most split
items come first (fewest votes for the leading class, then item id).
"""

from __future__ import annotations

from collections import Counter

from app.labeling.roles import read_roles
from app.labeling.team_report import votes
from app.learning.pick_reasons import DisagreementReason
from app.learning.ranking import RankedSample
from app.project.workspace import Workspace


def disagreements(workspace: Workspace) -> list[RankedSample]:
    """Unsettled items in dispute, most split first; score = share of the leading class."""
    history = workspace.all_annotations()
    item_votes = votes(history)
    newest_label_by: dict[int, tuple[int, str]] = {}
    for row in history:
        if row.undoes_id is None and row.class_name is not None:
            newest_label_by[row.sample_id] = (row.id, row.annotator)
    # Only a named reviewer settles: without roles everyone may relabel, but
    # a second annotator's vote is a vote, not a verdict.
    reviewers = {who for who, role in read_roles(workspace).items() if role == "reviewer"}
    settled = {sid for sid, (_, who) in newest_label_by.items()
               if who in reviewers and len(item_votes.get(sid, {})) >= 2}
    disputed = []
    for sid, who in item_votes.items():
        classes = Counter(who.values())
        if len(classes) < 2 or sid in settled:
            continue
        lead = classes.most_common(1)[0][1] / len(who)
        disputed.append((lead, sid, tuple(sorted(who.items()))))
    disputed.sort()
    samples = {s.id: s for s in workspace.samples([sid for _, sid, _ in disputed])}
    return [RankedSample(sid, samples[sid].path, lead, DisagreementReason(said))
            for lead, sid, said in disputed]
