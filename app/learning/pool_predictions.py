"""The latest model's class and score for each unlabeled item, for exports.

Label Studio pre-annotations come from here: the export layer cannot read
model scores (it sits below learning), so the caller hands it this map.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.learning.ranking import DEFAULT_MC_SAMPLES
from app.learning.scoring import ensure_scores
from app.project.workspace import Workspace, WorkspaceError


def latest_predictions(
    workspace: Workspace, *, progress: Callable[[int, int], None] | None = None
) -> dict[int, tuple[str, float, str]]:
    """``{item id: (class, probability, model version name)}`` for every unlabeled item.

    Uses the latest registered model version's cached scores, scoring the
    items not cached yet (:func:`app.learning.scoring.ensure_scores`).  Items
    the model could not read, and classes the project no longer has, are
    left out.

    Raises
    ------
    WorkspaceError
        The project has no model version yet.
    """
    version = workspace.latest_model()
    if version is None:
        raise WorkspaceError(f"{workspace.root}: no model version to take predictions from; "
                             "train one first (labelloop train)")
    scores = ensure_scores(workspace, version, DEFAULT_MC_SAMPLES, progress=progress)
    unlabeled = np.array(workspace.unlabeled_sample_ids(), dtype=np.int64)
    rows = scores.rows_for(unlabeled)
    classes = set(workspace.classes())
    name = f"labelloop-model-{version.id}"
    found: dict[int, tuple[str, float, str]] = {}
    for sample_id, row in zip(unlabeled.tolist(), rows.tolist(), strict=True):
        if row < 0:
            continue
        probs = scores.probs[row]
        best = int(np.argmax(probs))
        label = version.classes[best]
        if label in classes:
            found[sample_id] = (label, round(float(probs[best]), 6), name)
    return found
