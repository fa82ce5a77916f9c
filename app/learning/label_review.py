"""Labels the latest model confidently disagrees with: the "Likely mislabeled" queue.

Label noise costs accuracy twice: the model learns the wrong class, and the
mistake hides among thousands of right labels.  This finds the suspects
with per-class confidence thresholds (:mod:`sampling.label_noise`), so an
annotator can fix them in the same keyboard flow as labeling.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.learning.pick_reasons import MislabeledReason
from app.learning.ranking import DEFAULT_MC_SAMPLES, RankedSample
from app.project.workspace import Workspace
from sampling.label_noise import rank_likely_mislabeled


def likely_mislabeled(workspace: Workspace, top: int | None = None, *,
                      progress: Callable[[int, int], None] | None = None) -> list[RankedSample]:
    """Labeled samples whose label the latest model contradicts, most suspicious first.

    Labels of classes the model does not know (added after it was trained)
    are left out: the model cannot speak for them.  Without a model there is
    nothing to compare with and the queue is empty.

    Parameters
    ----------
    workspace : Workspace
    top : int, optional
        At most this many (None: every suspect).
    progress : callable, optional
        ``progress(done, total)`` while samples are scored.
    """
    version = workspace.latest_model()
    if version is None:
        return []
    from app.learning.scoring import ensure_scores

    labels = workspace.current_labels()
    index = {name: i for i, name in enumerate(version.classes)}
    known = sorted(sid for sid, name in labels.items() if name in index)
    if not known:
        return []
    scores = ensure_scores(workspace, version, DEFAULT_MC_SAMPLES, progress=progress)
    ids = np.array(known, dtype=np.int64)
    rows = scores.rows_for(ids)
    ids, rows = ids[rows >= 0], rows[rows >= 0]  # unreadable files have no scores
    given = np.array([index[labels[int(sid)]] for sid in ids], dtype=np.int64)
    probs = scores.probs[rows]
    ranking = rank_likely_mislabeled(probs, given)
    picked = ranking.indices[:top] if top is not None else ranking.indices
    samples = {s.id: s for s in workspace.samples(ids[picked].tolist())}
    queue = []
    for position, row in enumerate(picked):
        sid = int(ids[row])
        suggested = int(ranking.suggested[position])
        reason = MislabeledReason(
            given=version.classes[given[row]], suggested=version.classes[suggested],
            suggested_probability=float(probs[row, suggested]),
            given_probability=float(probs[row, given[row]]), model=version.id)
        queue.append(RankedSample(sid, samples[sid].path, float(ranking.scores[position]),
                                  reason))
    return queue
