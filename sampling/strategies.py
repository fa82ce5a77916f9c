"""The one registry of active-learning strategies, looked up by name.

A strategy turns the cached arrays of an unlabeled pool (:class:`PoolArrays`)
into a labeling queue (:class:`Ranking`)::

    ranking = rank("margin", PoolArrays(ids=ids, probs=probs), k=100)
    queue_ids = pool.ids[ranking.indices]

Two kinds:

``"score"``
    One independent score per sample (``sampling.uncertainty``); the queue is
    the pool sorted by score, highest first, ties broken by ascending sample
    id. ``k=None`` ranks the whole pool.
``"batch"``
    The picks depend on each other (``sampling.diversity``), so the strategy
    needs the batch size ``k``.

Every strategy is deterministic for a given ``seed`` and independent of the
row order of the pool: batch strategies run on the pool sorted by id, so
their ties also go to the lowest id.

The registry is an immutable mapping of frozen specs holding plain
functions; there are no shared mutable default instances.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from sampling import diversity, typicality, uncertainty

__all__ = [
    "STRATEGIES",
    "PoolArrays",
    "Ranking",
    "StrategySpec",
    "available_strategies",
    "rank",
]

# Expected shape of each optional pool array, for validation and error messages.
_ARRAY_SHAPES: dict[str, tuple[int, str]] = {
    "probs": (2, "[n, c]"),
    "mc_probs": (3, "[n, c, T]"),
    "embeddings": (2, "[n, d]"),
    "labeled_embeddings": (2, "[m, d]"),
    "features": (2, "[n, f]"),
    "labeled_features": (2, "[m, f]"),
}
# Arrays with one row per labeled sample, not per pool sample.
_LABELED_ARRAYS = ("labeled_embeddings", "labeled_features")

#: ``auto`` picks by typicality while its batch leaves fewer than this many
#: labels per class, and by uncertainty for the batch that reaches it and
#: after. Measured by tests/bench/test_bench_low_budget.py: margin's model is
#: the better one from 4 labels per class on, on the digits and on the
#: letters A-J alike (README, "Low-budget selection").
AUTO_SWITCH_LABELS_PER_CLASS = 4.0
#: What ``auto`` runs on either side of the switch.
AUTO_TYPICAL = "typiclust"
AUTO_UNCERTAIN = "margin"


@dataclass(frozen=True, eq=False)
class PoolArrays:
    """Cached model outputs for the unlabeled pool, one row per sample.

    Attributes
    ----------
    ids : NDArray[int64], shape [n]
        Unique sample ids; the stable tie-break key of every ranking.
    probs : NDArray[float32], shape [n, c], optional
        Class probabilities.
    mc_probs : NDArray[float32], shape [n, c, T], optional
        Probabilities of T MC-dropout passes.
    embeddings : NDArray[float32], shape [n, d], optional
        Penultimate-layer embeddings.
    labeled_embeddings : NDArray[float32], shape [m, d], optional
        Embeddings of the already labeled samples (core-set centers).
    features : NDArray[float32], shape [n, f], optional
        A label-free embedding of the pool (no model needed), for the
        typicality strategies.
    labeled_features : NDArray[float32], shape [m, f], optional
        The same embedding of the labeled samples.
    n_classes : int, optional
        Number of classes of the project (``probcover`` sizes its radius
        with it; ``auto`` counts labels per class with it). Defaults to the
        width of ``probs`` when those are given.

    Raises
    ------
    ValueError
        On duplicate or non-integer ids, a wrong number of dimensions, row
        counts that differ from ``len(ids)``, or mismatching class counts /
        embedding widths.
    """

    ids: NDArray[np.int64]
    probs: NDArray[np.float32] | None = None
    mc_probs: NDArray[np.float32] | None = None
    embeddings: NDArray[np.float32] | None = None
    labeled_embeddings: NDArray[np.float32] | None = None
    features: NDArray[np.float32] | None = None
    labeled_features: NDArray[np.float32] | None = None
    n_classes: int | None = None

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids)
        if ids.ndim != 1:
            raise ValueError(f"ids must have shape [n] (1-D), got shape {ids.shape}")
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"ids must be integers, got dtype {ids.dtype}")
        ids = ids.astype(np.int64, copy=False)
        # Frozen dataclass: normalising the dtype once here is the one write allowed.
        object.__setattr__(self, "ids", ids)
        if not _strictly_increasing(ids) and np.unique(ids).size != ids.size:
            raise ValueError("ids must be unique")
        for name, (ndim, shape) in _ARRAY_SHAPES.items():
            value = getattr(self, name)
            if value is None:
                continue
            value = np.asarray(value)
            object.__setattr__(self, name, value)
            if value.ndim != ndim:
                raise ValueError(f"{name} must have shape {shape}, got shape {value.shape}")
            if name not in _LABELED_ARRAYS and value.shape[0] != ids.shape[0]:
                raise ValueError(
                    f"{name} has {value.shape[0]} rows but there are {ids.shape[0]} ids"
                )
        if (
            self.probs is not None
            and self.mc_probs is not None
            and self.probs.shape[1] != self.mc_probs.shape[1]
        ):
            raise ValueError(
                f"probs has {self.probs.shape[1]} classes, mc_probs {self.mc_probs.shape[1]}"
            )
        if (
            self.embeddings is not None
            and self.labeled_embeddings is not None
            and self.embeddings.shape[1] != self.labeled_embeddings.shape[1]
        ):
            raise ValueError(
                f"embeddings have width {self.embeddings.shape[1]}, "
                f"labeled_embeddings {self.labeled_embeddings.shape[1]}"
            )
        if (
            self.features is not None
            and self.labeled_features is not None
            and self.features.shape[1] != self.labeled_features.shape[1]
        ):
            raise ValueError(
                f"features have width {self.features.shape[1]}, "
                f"labeled_features {self.labeled_features.shape[1]}"
            )
        if self.n_classes is None and self.probs is not None:
            object.__setattr__(self, "n_classes", int(self.probs.shape[1]))
        if self.n_classes is not None and (
            isinstance(self.n_classes, bool)
            or not isinstance(self.n_classes, (int, np.integer))
            or self.n_classes < 1
        ):
            raise ValueError(f"n_classes must be a positive integer, got {self.n_classes!r}")

    @property
    def n(self) -> int:
        """Number of samples in the pool."""
        return int(self.ids.shape[0])

    @property
    def n_labeled(self) -> int | None:
        """Number of labeled samples, from whichever labeled array is given (None: neither)."""
        for name in _LABELED_ARRAYS:
            value = getattr(self, name)
            if value is not None:
                return int(value.shape[0])
        return None


@dataclass(frozen=True, eq=False)
class Ranking:
    """A labeling queue over a pool.

    Attributes
    ----------
    indices : NDArray[int64], shape [k]
        Positions into the pool arrays, in queue order (``pool.ids[indices]``
        are the sample ids).
    scores : NDArray[float32], shape [k]
        The strategy's score of each picked item, see :data:`STRATEGIES`
        descriptions: the uncertainty score for score strategies and for
        ``margin_kcenter`` / ``entropy_kmeans``; the distance at pick time for
        ``coreset`` (``inf`` for the first pick when there is no labeled set)
        and ``badge`` (gradient-embedding distance; the gradient norm for the
        first pick); 0 for ``random``; typicality (1 / mean kNN distance)
        for ``typiclust``; points newly covered for ``probcover``; for
        ``auto``, the score of the strategy it ran.
    """

    indices: NDArray[np.int64]
    scores: NDArray[np.float32]


StrategyFn = Callable[[PoolArrays, int | None, int], Ranking]


@dataclass(frozen=True)
class StrategySpec:
    """One registered strategy.

    Attributes
    ----------
    name : str
        Registry key.
    kind : {"score", "batch"}
        ``"score"``: independent per-sample scores, ``k`` optional;
        ``"batch"``: picks depend on each other, ``k`` required.
    needs : tuple of str
        :class:`PoolArrays` fields that must be present.
    description : str
        One line for menus and ``--help``: what is ranked and what the score means.
    run : callable
        ``run(pool, k, seed) -> Ranking``; called by :func:`rank` after the
        checks, with ``k`` already capped at the pool size.
    uses : tuple of str
        Optional fields used when present (e.g. ``labeled_embeddings``).
    """

    name: str
    kind: Literal["score", "batch"]
    needs: tuple[str, ...]
    description: str
    run: StrategyFn = field(repr=False)
    uses: tuple[str, ...] = ()


def rank(strategy: str, pool: PoolArrays, k: int | None = None, seed: int = 0) -> Ranking:
    """Rank ``pool`` with the strategy registered as ``strategy``.

    Parameters
    ----------
    strategy : str
        A name from :func:`available_strategies`.
    pool : PoolArrays
        The unlabeled pool; must hold the arrays the strategy ``needs``.
    k : int or None
        Queue length; None ranks the whole pool (score strategies only);
        values above the pool size are capped.
    seed : int
        Seed for strategies with randomness; same seed, same queue.

    Returns
    -------
    Ranking
        ``min(k, n)`` positions into the pool in queue order, with scores.

    Raises
    ------
    ValueError
        For an unknown name, a missing array (the message names the strategy
        and the array), a negative ``k``, ``k=None`` with a batch strategy, or
        invalid array contents (NaN, probabilities outside [0, 1]).
    """
    spec = STRATEGIES.get(strategy)
    if spec is None:
        raise ValueError(
            f"unknown strategy {strategy!r}; available: {', '.join(available_strategies())}"
        )
    for name in spec.needs:
        if getattr(pool, name) is None:
            raise ValueError(
                f"strategy {strategy!r} needs pool.{name} {_ARRAY_SHAPES[name][1]}, "
                "which is missing"
            )
    if k is None:
        if spec.kind == "batch":
            raise ValueError(
                f"strategy {strategy!r} is a batch strategy and needs k (the batch size)"
            )
    elif isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer or None, got {k!r}")
    else:
        k = min(int(k), pool.n)
    return spec.run(pool, k, seed)


def available_strategies() -> list[str]:
    """Registered strategy names, in registry order (random, scores, batch)."""
    return list(STRATEGIES)


# --------------------------------------------------------------------------- score strategies


def _score_strategy(score: Callable[[NDArray], NDArray[np.float32]], array: str) -> StrategyFn:
    """A strategy that sorts the pool by ``score(getattr(pool, array))``."""

    def run(pool: PoolArrays, k: int | None, seed: int) -> Ranking:
        del seed  # deterministic: ties are broken by id
        scores = score(getattr(pool, array))
        indices = uncertainty.top_k_by_score(scores, k, tie_break=pool.ids)
        return Ranking(indices, scores[indices])

    return run


def _random(pool: PoolArrays, k: int | None, seed: int) -> Ranking:
    # Permute the id-sorted pool so the queue depends on ids and seed, not on row order.
    k = pool.n if k is None else k
    by_id = _id_order(pool)
    permutation = np.random.default_rng(seed).permutation(pool.n)[:k]
    indices = permutation if by_id is None else by_id[permutation]
    return Ranking(indices.astype(np.int64), np.zeros(k, dtype=np.float32))


# --------------------------------------------------------------------------- batch strategies


def _coreset(pool: PoolArrays, k: int, seed: int) -> Ranking:
    by_id = _id_order(pool)
    picks, distances = diversity.k_center_greedy_with_distances(
        _rows(pool.embeddings, by_id), k, pool.labeled_embeddings, seed
    )
    return Ranking(_pool_positions(picks, by_id), distances)


def _badge(pool: PoolArrays, k: int, seed: int) -> Ranking:
    by_id = _id_order(pool)
    picks, distances = diversity.badge_with_distances(
        _rows(pool.probs, by_id), _rows(pool.embeddings, by_id), k, seed
    )
    return Ranking(_pool_positions(picks, by_id), distances)


def _uncertain_then_diverse(
    score: Callable[[NDArray], NDArray[np.float32]], method: Literal["kcenter", "kmeans"]
) -> StrategyFn:
    """Top ``10 k`` by ``score(pool.probs)``, then ``method`` picks a diverse ``k``."""

    def run(pool: PoolArrays, k: int, seed: int) -> Ranking:
        by_id = _id_order(pool)
        scores = score(_rows(pool.probs, by_id))
        picks = diversity.top_uncertain_then_diverse(
            scores,
            _rows(pool.embeddings, by_id),
            k,
            method=method,
            seed=seed,
            already_selected=pool.labeled_embeddings,
        )
        return Ranking(_pool_positions(picks, by_id), scores[picks])

    return run


def _typiclust(pool: PoolArrays, k: int, seed: int) -> Ranking:
    by_id = _id_order(pool)
    picks = typicality.typiclust(_rows(pool.features, by_id), k, pool.labeled_features, seed)
    return Ranking(_pool_positions(picks.indices, by_id), picks.typicality)


def _probcover(pool: PoolArrays, k: int, seed: int) -> Ranking:
    if pool.n_classes is None or pool.n_classes < 2:
        raise ValueError("strategy 'probcover' needs pool.n_classes (>= 2) to size its balls")
    by_id = _id_order(pool)
    cover = typicality.probcover(_rows(pool.features, by_id), k, pool.labeled_features,
                                 pool.n_classes, seed)
    return Ranking(_pool_positions(cover.indices, by_id), cover.gains.astype(np.float32))


def auto_phase(pool: PoolArrays, k: int = 0) -> str:
    """The strategy ``auto`` runs for a batch of ``k`` on ``pool``: typical, then uncertain.

    Typical (:data:`AUTO_TYPICAL`) while there is no model output
    (``probs``), or while the labels after this batch (labeled + ``k``)
    stay below :data:`AUTO_SWITCH_LABELS_PER_CLASS` per class; uncertain
    (:data:`AUTO_UNCERTAIN`) for the batch that reaches it and after. The
    switch counts the budget the batch reaches because that is what the
    benchmark measures: the budget from which margin's batches give the
    better model. Without a label-free embedding (``features``) only the
    uncertain side can run.
    """
    if pool.probs is None:
        return AUTO_TYPICAL
    if pool.features is None:
        return AUTO_UNCERTAIN
    reached = (pool.n_labeled or 0) + k
    classes = pool.n_classes or int(pool.probs.shape[1])
    return AUTO_TYPICAL if reached < AUTO_SWITCH_LABELS_PER_CLASS * classes else AUTO_UNCERTAIN


def _auto(pool: PoolArrays, k: int, seed: int) -> Ranking:
    phase = auto_phase(pool, k)
    if phase == AUTO_TYPICAL and pool.features is None:
        raise ValueError("strategy 'auto' needs pool.features [n, f] (a label-free embedding) "
                         "or pool.probs [n, c], and neither is there")
    return rank(phase, pool, k, seed)


def _id_order(pool: PoolArrays) -> NDArray[np.int64] | None:
    """Positions that sort the pool by id, or None when it already is sorted."""
    if _strictly_increasing(pool.ids):
        return None
    return np.argsort(pool.ids, kind="stable").astype(np.int64)


def _rows(array: NDArray, by_id: NDArray[np.int64] | None) -> NDArray:
    """``array`` with its rows in id order (itself, no copy, when already in id order)."""
    return array if by_id is None else array[by_id]


def _pool_positions(picks: NDArray[np.int64], by_id: NDArray[np.int64] | None) -> NDArray:
    """Map positions in the id-ordered pool back to positions in the pool as given."""
    return picks if by_id is None else by_id[picks]


def _strictly_increasing(ids: NDArray[np.int64]) -> bool:
    return bool(np.all(ids[1:] > ids[:-1]))


# --------------------------------------------------------------------------- the registry

_SPECS = (
    StrategySpec(
        name="random",
        kind="score",
        needs=(),
        description="Seeded random order (baseline); score 0.",
        run=_random,
    ),
    StrategySpec(
        name="least_confidence",
        kind="score",
        needs=("probs",),
        description="1 - top class probability.",
        run=_score_strategy(uncertainty.least_confidence, "probs"),
    ),
    StrategySpec(
        name="margin",
        kind="score",
        needs=("probs",),
        description="Smallest gap between the two top classes first; score -(p1 - p2).",
        run=_score_strategy(uncertainty.margin, "probs"),
    ),
    StrategySpec(
        name="entropy",
        kind="score",
        needs=("probs",),
        description="Predictive entropy in nats.",
        run=_score_strategy(uncertainty.entropy, "probs"),
    ),
    StrategySpec(
        name="bald",
        kind="score",
        needs=("mc_probs",),
        description="BALD mutual information over MC-dropout passes (nats).",
        run=_score_strategy(uncertainty.bald, "mc_probs"),
    ),
    StrategySpec(
        name="variation_ratio",
        kind="score",
        needs=("mc_probs",),
        description="Share of MC-dropout passes that disagree with the modal class.",
        run=_score_strategy(uncertainty.variation_ratio, "mc_probs"),
    ),
    StrategySpec(
        name="coreset",
        kind="batch",
        needs=("embeddings",),
        uses=("labeled_embeddings",),
        description="Greedy k-center core-set on embeddings; score = distance at pick time.",
        run=_coreset,
    ),
    StrategySpec(
        name="badge",
        kind="batch",
        needs=("probs", "embeddings"),
        description="BADGE: k-means++ on gradient embeddings; score = distance at pick time.",
        run=_badge,
    ),
    StrategySpec(
        name="margin_kcenter",
        kind="batch",
        needs=("probs", "embeddings"),
        uses=("labeled_embeddings",),
        description="Top 10*k by margin, then k-center among them; score = margin score.",
        run=_uncertain_then_diverse(uncertainty.margin, "kcenter"),
    ),
    StrategySpec(
        name="entropy_kmeans",
        kind="batch",
        needs=("probs", "embeddings"),
        description="Top 10*k by entropy, k-means, most uncertain per cluster; score = entropy.",
        run=_uncertain_then_diverse(uncertainty.entropy, "kmeans"),
    ),
    StrategySpec(
        name="typiclust",
        kind="batch",
        needs=("features",),
        uses=("labeled_features",),
        description="TypiClust: the most typical sample of each largest unlabeled cluster of a "
                    "label-free embedding (low budgets); score = typicality.",
        run=_typiclust,
    ),
    StrategySpec(
        name="probcover",
        kind="batch",
        needs=("features",),
        uses=("labeled_features",),
        description="ProbCover: greedy max coverage with pure-sized balls on a label-free "
                    "embedding (low budgets); score = samples newly covered.",
        run=_probcover,
    ),
    StrategySpec(
        name="auto",
        kind="batch",
        needs=(),
        uses=("features", "labeled_features", "probs"),
        description="typiclust below a measured number of labels per class, then margin: "
                    "typical samples first, uncertain ones once the model is worth asking.",
        run=_auto,
    ),
)

STRATEGIES: Mapping[str, StrategySpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
