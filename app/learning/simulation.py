"""A/B simulation of active-learning strategies on a fully labeled image folder.

The pool's labels are known but hidden: only :class:`app.learning.simulation_data.Oracle`
holds them, and it answers for exactly the samples a strategy asked for (it
stands in for the annotator). A strategy sees nothing but what the current model computed on
the pool (probabilities, MC-dropout stacks, embeddings) and opaque sample ids
that carry no class order. For every seed all strategies start from the same
random initial set and retrain each round with the same :class:`Recipe`, so
the curves differ only by which samples were picked.

Each completed round is persisted at once (see :mod:`app.learning.simulation_runs`);
calling :func:`run_simulation` again on the same OUT continues where it
stopped and recomputes nothing that is on disk; asking for more rounds
extends the runs there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from app.files.atomic_write import atomic_file
from app.learning import simulation_runs as store
from app.learning.pool_features import image_features
from app.learning.simulation_data import SimulationData, load_simulation_data
from app.learning.simulation_report import (
    Point,
    average_runs,
    label_savings,
    plot_curves,
    write_curves_csv,
    write_curves_json,
)
from app.project.workspace import WorkspaceError
from models.inference import concatenate
from models.learner import Learner, NetworkSpec
from models.learners import learner_from_state, learner_type
from models.metrics import classification_metrics
from models.pretrain_config import DEFAULT_TIME_BUDGET_S
from models.threads import torch_threads
from models.train_config import (
    ARCHITECTURES,
    DEFAULT_ARCH,
    SIMULATION_DEFAULTS,
    TrainConfig,
    epochs_to_reach,
)
from models.training import TrainingError
from sampling.strategies import STRATEGIES, PoolArrays, rank

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Recipe:
    """How the model is retrained every round; the same for every strategy.

    Attributes
    ----------
    arch : str
        Network, one of :data:`models.train_config.ARCHITECTURES`.
    epochs : int
        Passes over the labeled set per round (at least; see ``min_steps``).
    min_steps : int
        Lower bound on optimiser steps per round: with few labels, ``epochs``
        passes are too few steps to fit them, so the epochs are raised to
        ``ceil(min_steps / batches per epoch)``. 0 disables the bound.
    batch_size : int
    lr : float
    augment : bool
        Random affine jitter while training.
    warm_start : bool
        Start each round from the previous round's weights instead of from
        scratch.
    mc_samples : int
        MC-dropout passes for the strategies that need them (``bald``,
        ``variation_ratio``).
    input_size : int, optional
        Side the images are resized to; by default from their median size.
    semi_supervised : bool
        Train every round on the unlabeled rest of the pool too
        (:mod:`models.semi_supervised`); for random and every strategy alike,
        so a ratio still compares selection only.
    pretrained : bool
        Pretrain one backbone on the pool's images (labels unseen; see
        :mod:`app.learning.simulation_backbone`) and start every round of
        every strategy, random included, from it.
    pretrain_budget_s : float
        Seconds the pretraining may optimise for (the ``labelloop pretrain``
        default).

    Notes
    -----
    Why ``min_steps``: with a fixed number of epochs the first rounds (tens
    of labels) get only a handful of optimiser steps; the model is then
    barely better than chance (13 % test accuracy at 50 digits, 10 epochs)
    and its uncertainty is noise, so uncertainty sampling starts no better
    than random and never catches up. Measured on the digits (init 20, 10
    rounds of 20, seed 0, margin vs random, savings = random's final labels /
    labels margin needs for random's final accuracy):

    ========================================  =============================
    recipe                                    margin savings
    ========================================  =============================
    32 px, 10 epochs (no min_steps)           1.29x (init 50, 8 x 50)
    16 px, 10 epochs (no min_steps)           1.00x
    16 px, 10 epochs, warm start              1.57x
    32 px, min_steps 200                      1.83x
    16 px, min_steps 200, no augmentation     1.83x
    16 px, min_steps 200, augmentation        2.20x
    ========================================  =============================

    The digits are 8 x 8 originals drawn at 32 px, so 16 px inputs lose
    nothing and train about 3x faster.
    """

    arch: str = DEFAULT_ARCH
    epochs: int = SIMULATION_DEFAULTS.epochs
    min_steps: int = SIMULATION_DEFAULTS.min_steps
    batch_size: int = SIMULATION_DEFAULTS.batch_size
    lr: float = SIMULATION_DEFAULTS.lr
    augment: bool = True
    warm_start: bool = False
    mc_samples: int = SIMULATION_DEFAULTS.mc_samples
    input_size: int | None = None
    semi_supervised: bool = False
    pretrained: bool = False
    pretrain_budget_s: float = DEFAULT_TIME_BUDGET_S

    def epochs_for(self, n_labeled: int) -> int:
        """Epochs to train on ``n_labeled`` samples (``epochs`` raised to ``min_steps``)."""
        return epochs_to_reach(self.min_steps, self.epochs, self.batch_size, n_labeled)

    def train_config(self, n_labeled: int, input_size: int, seed: int,
                     warm_state: dict[str, Tensor] | None,
                     backbone_state: dict[str, Tensor] | None = None) -> TrainConfig:
        """The :class:`TrainConfig` of one round.

        No validation split: with tens of labels, holding a fifth out would
        waste the very samples being compared; the epochs are fixed instead.
        """
        return TrainConfig(
            arch=self.arch, epochs=self.epochs_for(n_labeled), batch_size=self.batch_size,
            lr=self.lr, val_fraction=0.0, patience=0, seed=seed, input_size=input_size,
            augment=self.augment, warm_start_state=warm_state if self.warm_start else None,
            backbone_state=backbone_state if self.pretrained else None, num_threads=1,
            semi_supervised=self.semi_supervised,
        )


@dataclass(frozen=True)
class SimulationConfig:
    """One A/B simulation.

    Attributes
    ----------
    pool, test : Path
        ImageFolder-style folders with the same class subfolders.
    strategies : tuple of str
        Names from :data:`sampling.strategies.STRATEGIES`.
    init, step, rounds : int
        Initial random labels, labels added per round, rounds after the initial one.
    seeds : tuple of int
        One run per strategy and seed; curves average over the seeds.
    recipe : Recipe
    """

    pool: Path
    test: Path
    strategies: tuple[str, ...]
    init: int
    step: int
    rounds: int
    seeds: tuple[int, ...] = (0,)
    recipe: Recipe = field(default_factory=Recipe)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, written as ``config`` in curves.json."""
        values = asdict(self)
        values["pool"], values["test"] = str(self.pool), str(self.test)
        return values


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`run_simulation` wrote: averaged curves, savings, and file paths."""

    curves: dict[str, list[Point]]
    savings: dict[str, Any] | None
    files: dict[str, Path]
    computed_rounds: int
    reused_rounds: int


def check_config(config: SimulationConfig, pool_size: int) -> None:
    """Reject settings that cannot run, before any training."""
    unknown = [s for s in config.strategies if s not in STRATEGIES]
    if unknown:
        raise WorkspaceError(f"unknown strategies {', '.join(unknown)}; "
                             f"available: {', '.join(STRATEGIES)}")
    if not config.strategies or len(set(config.strategies)) != len(config.strategies):
        raise WorkspaceError("give at least one strategy, each once")
    if not config.seeds or len(set(config.seeds)) != len(config.seeds) or min(config.seeds) < 0:
        raise WorkspaceError("seeds must be distinct non-negative integers")
    if config.init < 2 or config.step < 1 or config.rounds < 0:
        raise WorkspaceError("need init >= 2, step >= 1 and rounds >= 0")
    if config.recipe.arch not in ARCHITECTURES:
        raise WorkspaceError(f"unknown architecture {config.recipe.arch!r}")
    final = config.init + config.rounds * config.step
    if final > pool_size:
        raise WorkspaceError(
            f"init + rounds * step = {final} labels, but the pool has only {pool_size} images")


def settings_of(config: SimulationConfig, data: SimulationData) -> dict[str, Any]:
    """What determines the numbers of every run (compared when resuming).

    Left out on purpose: the folders' paths (their fingerprints identify the
    data, and a moved folder gives the same results) and ``rounds`` (round
    ``r`` does not depend on how many rounds follow, so a later call with
    more rounds extends the runs on disk, and one with fewer reads a prefix).
    """
    recipe = asdict(config.recipe)
    # Recorded only when on, so a simulation written before the option existed
    # still resumes with the same settings.
    if not recipe["semi_supervised"]:
        del recipe["semi_supervised"]
    return {
        "classes": list(data.classes), "pool_fingerprint": data.fingerprints["pool"],
        "test_fingerprint": data.fingerprints["test"], "input_size": data.input_size,
        "init": config.init, "step": config.step, "recipe": recipe,
    }


# --------------------------------------------------------------------------- one round


def derived_seed(*parts: int) -> int:
    """An independent 32-bit seed for one purpose of one (seed, round)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


# Purposes for derived_seed: separate streams so that, e.g., the initial set
# does not change when the number of MC passes does.
_INITIAL, _IDS, _TRAIN, _RANK, _MC = range(5)


def initial_set(pool_size: int, init: int, seed: int) -> list[int]:
    """The random initial pool positions shared by every strategy for ``seed``."""
    rng = np.random.default_rng(derived_seed(seed, _INITIAL))
    return sorted(rng.choice(pool_size, size=init, replace=False).tolist())


def opaque_ids(pool_size: int, seed: int) -> NDArray[np.int64]:
    """Sample ids for the strategies, in a random order.

    The pool is listed class folder by class folder, so positions would tell
    a strategy the class through its id tie-break; shuffled ids do not.
    """
    return np.random.default_rng(derived_seed(seed, _IDS)).permutation(pool_size).astype(np.int64)


def round_learner(state: dict[str, Tensor], recipe: Recipe, classes: int,
                  input_size: int) -> Learner:
    """The trained learner of a round, ready to score.

    Rebuilt from the settings the recipe trains with (its dropout included),
    by the same path as a registered version's.
    """
    # The network depends on none of a round's numbers (labels, seed, warm
    # start), so any round's config describes it.
    config = recipe.train_config(0, input_size, 0, None)
    return learner_from_state(NetworkSpec.for_config(config, classes), state)


def train_model(data: SimulationData, positions: Sequence[int], labels: Sequence[int],
                recipe: Recipe, seed: int, round_index: int,
                warm_state: dict[str, Tensor] | None,
                backbone_state: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
    """Train one round's model on the labeled pool samples; returns its weights."""
    config = recipe.train_config(len(positions), data.input_size,
                                 derived_seed(seed, _TRAIN, round_index), warm_state,
                                 backbone_state)
    taken = set(positions)
    unlabeled = ([p for i, p in enumerate(data.pool_paths) if i not in taken]
                 if recipe.semi_supervised else [])
    try:
        result = learner_type(config.arch).fit([data.pool_paths[i] for i in positions], labels,
                                               data.classes, config, unlabeled=unlabeled)
    except TrainingError as err:
        raise WorkspaceError(f"round {round_index} (seed {seed}): cannot train: {err}") from err
    return result.state_dict


def evaluate(learner: Learner, data: SimulationData) -> dict[str, float]:
    """Accuracy and macro F1 of ``learner`` on the test set."""
    scores = concatenate(learner.predict_tensors(data.test_images, num_threads=1))
    predicted = scores.probs.argmax(axis=1)
    metrics = classification_metrics(data.test_labels, predicted, data.classes)
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}


def select(strategy: str, learner: Learner, pool_images: Tensor, labeled: Sequence[int],
           ids: NDArray[np.int64], k: int, mc_samples: int, seed: int, round_index: int,
           features: NDArray[np.float32] | None = None, n_classes: int | None = None
           ) -> list[int]:
    """Pool positions that ``strategy`` asks to label next, from model outputs only.

    The strategy gets :class:`PoolArrays` of the unlabeled samples (their
    opaque ids and what ``learner`` computed for them), and the label-free
    ``features`` of the pool (:func:`app.learning.pool_features.image_features`)
    when it uses them. This function itself is handed the images, not
    :class:`SimulationData`, so no label is even within its reach.
    """
    spec = STRATEGIES[strategy]
    wanted = set(spec.needs) | set(spec.uses)
    mc = mc_samples if "mc_probs" in wanted else 0
    scores = concatenate(learner.predict_tensors(
        pool_images, mc_samples=mc, seed=derived_seed(seed, _MC, round_index), num_threads=1))
    is_labeled = np.zeros(len(pool_images), dtype=bool)
    is_labeled[np.asarray(labeled, dtype=np.int64)] = True
    unlabeled = np.flatnonzero(~is_labeled)
    use_features = features is not None and "features" in wanted
    pool = PoolArrays(
        ids=ids[unlabeled],
        probs=scores.probs[unlabeled] if "probs" in wanted else None,
        mc_probs=scores.mc_probs[unlabeled] if mc else None,
        embeddings=scores.embeddings[unlabeled] if "embeddings" in wanted else None,
        labeled_embeddings=(scores.embeddings[is_labeled]
                            if "labeled_embeddings" in wanted else None),
        features=features[unlabeled] if use_features else None,
        labeled_features=(features[is_labeled]
                          if use_features and "labeled_features" in wanted else None),
        n_classes=n_classes,
    )
    ranking = rank(strategy, pool, k=k, seed=derived_seed(seed, _RANK, round_index))
    return unlabeled[ranking.indices].tolist()


# --------------------------------------------------------------------------- one run


def save_state(path: Path, round_index: int, state: dict[str, Tensor]) -> None:
    """Weights of the last completed round, replaced atomically."""
    with atomic_file(path) as handle:
        torch.save({"round": round_index, "state_dict": state}, handle)


def load_state(path: Path, round_index: int) -> dict[str, Tensor] | None:
    """The saved weights if they belong to ``round_index``, else None."""
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # damaged or foreign: the caller recomputes the run instead
        return None
    if not isinstance(saved, dict) or saved.get("round") != round_index:
        return None
    return saved.get("state_dict")


@dataclass
class RunContext:
    """What every run of a simulation shares."""

    config: SimulationConfig
    data: SimulationData
    out: Path
    settings: dict[str, Any]
    progress: Progress | None = None
    # The initial model of each seed is the same for every strategy; train it once.
    initial: dict[int, tuple[dict[str, Tensor], dict[str, float]]] = field(default_factory=dict)
    computed: int = 0
    reused: int = 0
    # The pretrained backbone every round starts from (recipe.pretrained).
    backbone: dict[str, Tensor] | None = None
    _features: NDArray[np.float32] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.config.recipe.pretrained and self.backbone is None:
            from app.learning.simulation_backbone import simulation_backbone

            recipe = self.config.recipe
            self.backbone = simulation_backbone(self.data, self.out, recipe.arch,
                                                time_budget_s=recipe.pretrain_budget_s)

    def backbone_option(self) -> dict[str, Any]:
        """``train_model``'s backbone argument, named only when there is a backbone."""
        return {} if self.backbone is None else {"backbone_state": self.backbone}

    def features(self) -> NDArray[np.float32]:
        """The pool's label-free embedding, computed on first use (no labels).

        The pretrained backbone's when the recipe pretrains (as a project's
        typicality queues use it), else the pixels' principal axes.
        """
        if self._features is None:
            if self.backbone is not None:
                from models.pretrain import backbone_embeddings, backbone_network

                network = backbone_network(self.config.recipe.arch, self.data.input_size,
                                           self.backbone)
                self._features = backbone_embeddings(network, self.data.pool_images)
            else:
                self._features = image_features(self.data.pool_images)
        return self._features


def simulate_run(context: RunContext, strategy: str, seed: int) -> list[Point]:
    """Run (or finish) the rounds of one strategy and seed; returns its points.

    Rounds already on disk are reused (only the first ``rounds + 1`` when
    there are more); the run continues from the saved weights of its last
    round. Without them, a from-scratch recipe retrains that round (same
    inputs and seed, so the same weights); a warm-started run starts over,
    since its weights depend on every earlier round.
    """
    config, data, out = context.config, context.data, context.out
    recipe = config.recipe
    rounds = store.load_run(out, strategy, seed, context.settings)[: config.rounds + 1]
    labeled = [i for done in rounds for i in done["added"]]
    labels = data.oracle.reveal(labeled)
    state = None
    if rounds and len(rounds) <= config.rounds:
        last = len(rounds) - 1
        state = load_state(store.state_path(out, strategy, seed), last)
        if state is None and not recipe.warm_start:
            state = train_model(data, labeled, labels, recipe, seed, last, None,
                                **context.backbone_option())
        elif state is None:
            rounds, labeled, labels = [], [], []
    context.reused += len(rounds)
    for done in rounds:
        _report(context, strategy, seed, done, resumed=True)

    ids = opaque_ids(len(data.pool_paths), seed)
    for round_index in range(len(rounds), config.rounds + 1):
        started = time.perf_counter()
        if round_index == 0:
            added = initial_set(len(data.pool_paths), config.init, seed)
        else:
            learner = round_learner(state, recipe, len(data.classes), data.input_size)
            added = select(strategy, learner, data.pool_images, labeled, ids, config.step,
                           recipe.mc_samples, seed, round_index,
                           features=context.features() if _uses_features(strategy) else None,
                           n_classes=len(data.classes))
        labeled += added
        labels += data.oracle.reveal(added)
        if round_index == 0 and seed in context.initial:
            state, metrics = context.initial[seed]
        else:
            state = train_model(data, labeled, labels, recipe, seed, round_index, state,
                                **context.backbone_option())
            learner = round_learner(state, recipe, len(data.classes), data.input_size)
            metrics = evaluate(learner, data)
            if round_index == 0:
                context.initial[seed] = (state, metrics)
        point = {"round": round_index, "labels": len(labeled), **metrics, "added": added,
                 "seconds": round(time.perf_counter() - started, 3)}
        rounds.append(point)
        # Weights first: a run file never names a round whose weights are not saved.
        save_state(store.state_path(out, strategy, seed), round_index, state)
        store.save_run(out, strategy, seed, context.settings, rounds)
        context.computed += 1
        _report(context, strategy, seed, point, resumed=False)
    return [{"labels": p["labels"], "accuracy": p["accuracy"], "macro_f1": p["macro_f1"]}
            for p in rounds]


def _uses_features(strategy: str) -> bool:
    spec = STRATEGIES[strategy]
    return "features" in spec.needs or "features" in spec.uses


def _report(context: RunContext, strategy: str, seed: int, point: dict[str, Any],
            resumed: bool) -> None:
    if context.progress is not None:
        context.progress({"strategy": strategy, "seed": seed, "round": point["round"],
                          "rounds": context.config.rounds, "labels": point["labels"],
                          "accuracy": point["accuracy"], "resumed": resumed})


# --------------------------------------------------------------------------- everything


# One torch thread for the whole simulation (2 threads on a busy 2-core machine
# are far slower); the caller's count comes back after, also on an error.
@torch_threads(1)
def run_simulation(config: SimulationConfig, out: str | os.PathLike[str], *,
                   fresh: bool = False, progress: Progress | None = None,
                   workers: int | None = 1) -> SimulationResult:
    """Simulate every (strategy, seed), then write curves.json, curves.csv and curves.png.

    Parameters
    ----------
    config : SimulationConfig
    out : path
        Output folder; results already there (same settings) are reused.
    fresh : bool
        Discard earlier results in ``out`` instead of reusing them.
    progress : callable, optional
        Called after every round (computed or reused) with ``{"strategy",
        "seed", "round", "rounds", "labels", "accuracy", "resumed"}``.
    workers : int or None
        Processes running (strategy, seed) runs side by side; None: one per
        core this process may use (:func:`available_cores`). With 1 (or a
        single run) everything runs in this process and each seed's initial
        model is trained once for all strategies; in parallel every run
        trains it itself (same inputs and seed, so the same numbers).

    Raises
    ------
    WorkspaceError
        Bad folders (class subfolders differ, no images), impossible settings,
        or ``out`` holding a simulation with other settings.
    """
    out = Path(out)
    data, settings = prepare_simulation(config, out, fresh=fresh)
    pairs = [(strategy, seed) for seed in config.seeds for strategy in config.strategies]
    processes = min(len(pairs), available_cores() if workers is None else max(1, workers))
    if processes > 1:
        from app.learning.simulation_pool import run_in_processes

        if config.recipe.pretrained:
            # Pretrained once, here, and recorded in OUT: every worker loads it.
            from app.learning.simulation_backbone import simulation_backbone

            simulation_backbone(data, out, config.recipe.arch,
                                time_budget_s=config.recipe.pretrain_budget_s)
        outcomes = run_in_processes(config, out, settings, pairs, processes, progress)
        runs: dict[str, list[list[Point]]] = {name: [] for name in config.strategies}
        computed = reused = 0
        for (strategy, _seed), (points, done, kept) in zip(pairs, outcomes, strict=True):
            runs[strategy].append(points)
            computed, reused = computed + done, reused + kept
        return write_report(config, data, out, runs, computed, reused)
    context = RunContext(config, data, out, settings, progress)
    runs = {name: [] for name in config.strategies}
    # Seeds outermost: the shared initial model of one seed is needed only while
    # its strategies run.
    for seed in config.seeds:
        for strategy in config.strategies:
            runs[strategy].append(simulate_run(context, strategy, seed))
        context.initial.clear()
    return write_report(config, data, out, runs, context.computed, context.reused)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def prepare_simulation(config: SimulationConfig, out: Path, *, fresh: bool
                       ) -> tuple[SimulationData, dict[str, Any]]:
    """Load the folders, check the settings and claim ``out`` (see :func:`run_simulation`)."""
    data = load_simulation_data(Path(config.pool), Path(config.test), config.recipe.arch,
                                config.recipe.input_size)
    check_config(config, len(data.pool_paths))
    settings = settings_of(config, data)
    store.prepare_out(out, settings, fresh=fresh)
    return data, settings


def simulate_one_run(config: SimulationConfig, out: Path, strategy: str, seed: int,
                     settings: dict[str, Any], progress: Progress | None = None
                     ) -> tuple[list[Point], int, int]:
    """One (strategy, seed) run on its own: ``(points, computed rounds, reused rounds)``.

    What a cluster task runs (see :mod:`app.learning.ray_simulation`): it loads
    the folders itself and trains the seed's initial model itself, which a
    whole local simulation does once per seed; same inputs and seeds, so the
    same numbers. Refuses data that differ from what ``settings`` recorded.
    """
    with torch_threads(1):
        data = load_simulation_data(Path(config.pool), Path(config.test), config.recipe.arch,
                                    config.recipe.input_size)
        changed = store.differences(store.normalised(settings),
                                    store.normalised(settings_of(config, data)))
        if changed:
            raise WorkspaceError(f"the folders read differently on this worker "
                                 f"({'; '.join(changed)}): is the storage really shared?")
        context = RunContext(config, data, out, settings, progress)
        points = simulate_run(context, strategy, seed)
    return points, context.computed, context.reused


def write_report(config: SimulationConfig, data: SimulationData, out: Path,
                 runs: dict[str, list[list[Point]]], computed: int, reused: int
                 ) -> SimulationResult:
    """Average the runs, compute the savings and write curves.json, .csv and .png."""
    curves = {name: average_runs(per_seed) for name, per_seed in runs.items()}
    savings = label_savings(curves, runs=runs)
    files = {name: out / name for name in store.REPORT_FILES}
    document_config = {**config.to_dict(), "input_size": data.input_size,
                       "classes": list(data.classes), "pool_size": len(data.pool_paths),
                       "test_size": len(data.test_labels)}
    write_curves_json(files["curves.json"], document_config, curves, savings)
    write_curves_csv(files["curves.csv"], curves)
    bands = ", bands: +-1 std over seeds" if len(config.seeds) > 1 else ""
    plot_curves(files["curves.png"], curves,
                f"{Path(config.pool).name}: {len(data.pool_paths)} images, "
                f"{len(config.seeds)} seed(s){bands}")
    return SimulationResult(curves, savings, files, computed, reused)
