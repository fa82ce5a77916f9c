"""Ranking the unlabeled pool with an active-learning strategy.

The arrays come from the latest model version's score cache (scored first
when missing); the strategy itself is a pure function from ``sampling``.
Before any model exists, a strategy that needs model outputs gets the
cold-start batch instead (:mod:`app.learning.cold_start`), and says so in each
sample's reason.

Scores follow one convention everywhere (queue, grid, ``rank`` output):
higher means more worth labeling.  For margin that is ``-(p1 - p2)``, in
[-1, 0], 0 for a tie between the two most probable classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.learning.pick_reasons import PickReason, StrategyReason
from app.project.workspace import Workspace, WorkspaceError
from sampling.strategies import STRATEGIES, PoolArrays, rank

DEFAULT_MC_SAMPLES = 10
# Arrays a model computes, and arrays of the label-free embedding (no model needed).
MODEL_ARRAYS = frozenset({"probs", "mc_probs", "embeddings", "labeled_embeddings"})
LABEL_FREE_ARRAYS = frozenset({"features", "labeled_features"})
# A cold-start batch asked for without a size (k-center needs one).
DEFAULT_COLD_START_BATCH = 500


@dataclass(frozen=True)
class RankedSample:
    """One entry of a queue, with the reason it is there (see :mod:`app.learning.pick_reasons`)."""

    sample_id: int
    path: str
    score: float
    reason: PickReason

    def to_json(self) -> dict[str, Any]:
        """``{"sample_id", "path", "score"}`` plus ``strategy`` / ``cold_start`` where they apply."""
        return {"sample_id": self.sample_id, "path": self.path,
                "score": _json_number(self.score), **self.reason.json_fields()}


def _json_number(value: float) -> float | None:
    # JSON has no infinity: the first pick of a k-center batch has no distance yet.
    return value if np.isfinite(value) else None


def unlabeled_ids(workspace: Workspace) -> np.ndarray:
    # One query: reading every sample and every label to subtract them cost
    # seconds on a 100,000-image pool.
    return np.asarray(workspace.unlabeled_sample_ids(), dtype=np.int64)


def rank_unlabeled(
    workspace: Workspace,
    strategy: str,
    top: int | None = None,
    *,
    seed: int = 0,
    mc_samples: int = DEFAULT_MC_SAMPLES,
    progress: Callable[[int, int], None] | None = None,
) -> list[RankedSample]:
    """The unlabeled pool in ``strategy``'s queue order (the first ``top``).

    Strategies on the label-free embedding (``typiclust``, ``probcover``,
    ``auto`` before the first model) rank with or without a model. With no
    model yet, a strategy that needs one returns the cold-start batch
    (:func:`app.learning.cold_start.cold_start_picks`): ``top`` samples (``DEFAULT_COLD_START_BATCH`` when None) picked for
    diversity, each with a :class:`ColdStartReason` naming the method.
    """
    if strategy not in STRATEGIES:
        raise WorkspaceError(
            f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}"
        )
    spec = STRATEGIES[strategy]
    if spec.kind == "batch" and top is None:
        raise WorkspaceError(f"strategy {strategy!r} picks a batch: give --top K")
    candidates = unlabeled_ids(workspace)
    version_id = None
    wanted = set(spec.needs) | set(spec.uses)
    has_model = workspace.latest_model() is not None
    if set(spec.needs) & MODEL_ARRAYS and not has_model:
        return _cold_start(workspace, strategy, candidates, top, seed, progress)
    arrays: dict[str, Any] = {}
    if wanted & LABEL_FREE_ARRAYS:
        candidates, arrays = _label_free_arrays(workspace, candidates, seed, progress)
    if wanted & MODEL_ARRAYS and has_model:
        from app.learning.model_registry import resolve_version
        from app.learning.scoring import ensure_scores

        version = resolve_version(workspace, None)
        version_id = version.id
        scores = ensure_scores(workspace, version, mc_samples, progress=progress)
        rows = scores.rows_for(candidates)
        keep = rows >= 0
        candidates, rows = candidates[keep], rows[keep]
        arrays = {name: value[keep] if name == "features" else value
                  for name, value in arrays.items()}
        labeled_rows = scores.rows_for(np.array(sorted(workspace.current_labels()), np.int64))
        arrays.update(
            probs=scores.probs[rows],
            mc_probs=scores.mc_probs[rows] if scores.mc_probs.shape[-1] else None,
            embeddings=scores.embeddings[rows],
            labeled_embeddings=scores.embeddings[labeled_rows[labeled_rows >= 0]],
        )
    pool = PoolArrays(ids=candidates, n_classes=len(workspace.classes()) or None, **arrays)
    if pool.n == 0:
        return []
    try:
        ranking = rank(strategy, pool, k=top, seed=seed)
    except ValueError as exc:
        raise WorkspaceError(f"strategy {strategy!r}: {exc}") from exc
    picked = pool.ids[ranking.indices]
    samples = {s.id: s for s in workspace.samples(picked.tolist())}
    return [
        RankedSample(int(sid), samples[int(sid)].path, float(score),
                     StrategyReason(strategy, version_id))
        for sid, score in zip(picked, ranking.scores, strict=True)
    ]


def _label_free_arrays(workspace: Workspace, candidates: np.ndarray, seed: int,
                       progress: Callable[[int, int], None] | None
                       ) -> tuple[np.ndarray, dict[str, Any]]:
    """``features`` of the candidates and ``labeled_features`` (unembeddable ones left out)."""
    from app.learning.pool_features import project_features

    features = project_features(workspace, seed=seed, progress=progress)
    rows = features.rows_for(candidates)
    labeled_rows = features.rows_for(np.array(sorted(workspace.current_labels()), np.int64))
    return candidates[rows >= 0], {
        "features": features.vectors[rows[rows >= 0]],
        "labeled_features": features.vectors[labeled_rows[labeled_rows >= 0]],
    }


def _cold_start(workspace: Workspace, strategy: str, candidates: np.ndarray, top: int | None,
                seed: int, progress: Callable[[int, int], None] | None) -> list[RankedSample]:
    from app.learning.cold_start import cold_start_picks

    k = DEFAULT_COLD_START_BATCH if top is None else top
    picks = cold_start_picks(workspace, candidates, k, seed=seed, progress=progress)
    samples = {s.id: s for s in workspace.samples(picks.ids.tolist())}
    reason = picks.reason_for(strategy)
    return [
        RankedSample(int(sid), samples[int(sid)].path, float(distance), reason)
        for sid, distance in zip(picks.ids, picks.distances, strict=True)
    ]
