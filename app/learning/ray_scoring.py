"""Scoring the pool on a Ray cluster, into the same per-version cache as local scoring.

The missing samples (what :func:`app.learning.scoring.ensure_scores` would
score here) are cut into shards of whole batches; each shard is one Ray
task (:func:`app.learning.shard_scoring.score_shard`) that verifies the
checkpoint, decodes its items and scores them with one torch thread. The
checkpoint travels once (``ray.put``); media are read by path on shared
storage, or shipped as bytes with ``ship_media``.

Shards are staged as they finish (:mod:`app.learning.score_shards`) and the
cache is committed once, when every shard is in: a pass that fails leaves the
cache untouched, and the next pass reuses the staged shards.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
from numpy.typing import NDArray

from app.domain.records import ModelVersion
from app.learning.model_registry import stored_checkpoint
from app.learning.score_shards import ShardStaging, discard_shards, plan_key, shard_root
from app.learning.scoring import (
    BATCH_SIZE,
    PoolScores,
    empty_scores,
    ensure_scores,
    scores_without_failed,
)
from app.learning.shard_scoring import NetworkRecord, ShardItem, score_shard
from app.pool.frame_cache import restore_missing_frames
from app.project.workspace import Workspace, WorkspaceError

# Batches per shard: a shard of 4 x 256 items takes a few seconds on one
# core, long enough that Ray's per-task overhead (milliseconds) is noise,
# short enough that a lost worker costs little and progress moves often.
SHARD_BATCHES = 4


def ensure_scores_on_ray(
    workspace: Workspace,
    version: ModelVersion,
    mc_samples: int,
    address: str,
    *,
    ship_media: bool = False,
    shard_batches: int = SHARD_BATCHES,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PoolScores:
    """:func:`~app.learning.scoring.ensure_scores`, the missing samples scored on a cluster.

    Parameters
    ----------
    address : str
        ``host:port`` of a running Ray cluster, or ``local``.
    ship_media : bool
        Send each file's bytes with its shard (workers without the project's
        media on shared storage); otherwise workers read the files by path.
    shard_batches : int
        Batches of :data:`~app.learning.scoring.BATCH_SIZE` per shard.

    Raises
    ------
    app.learning.ray_cluster.ClusterError
        The cluster cannot be reached, went away (:class:`ClusterLost`), or a
        shard failed for good. The cache is left as it was.
    """
    scorer = partial(score_on_ray, address=address, ship_media=ship_media,
                     shard_batches=shard_batches)
    scores = ensure_scores(workspace, version, mc_samples, progress=progress,
                           should_stop=should_stop, scorer=scorer)
    if not workspace.read_only:
        discard_shards(workspace, version.id)  # committed: the staged shards are spent
    return scores


def plan_shards(sample_ids: NDArray[np.int64], shard_batches: int) -> list[NDArray[np.int64]]:
    """``sample_ids`` cut into shards of ``shard_batches`` whole batches, in order."""
    size = max(1, shard_batches) * BATCH_SIZE
    return [sample_ids[start:start + size] for start in range(0, len(sample_ids), size)]


def score_on_ray(
    workspace: Workspace,
    version: ModelVersion,
    sample_ids: NDArray[np.int64],
    mc_samples: int,
    progress: Callable[[int, int], None] | None,
    should_stop: Callable[[], bool] | None,
    *,
    address: str,
    ship_media: bool = False,
    shard_batches: int = SHARD_BATCHES,
) -> PoolScores:
    """Score ``sample_ids`` on the cluster (a :data:`~app.learning.scoring.Scorer`)."""
    if len(sample_ids) == 0:
        return empty_scores(version, mc_samples)
    shards = plan_shards(sample_ids, shard_batches)
    key = plan_key(version.checkpoint_sha256, mc_samples, BATCH_SIZE, shards)
    staging = ShardStaging(None if workspace.read_only
                           else shard_root(workspace, version.id) / key)
    results: dict[int, dict] = {}
    for index, ids in enumerate(shards):
        staged = staging.load(index, ids)
        if staged is not None:
            results[index] = staged
    done = sum(len(shards[i]) for i in results)
    if progress:
        progress(done, len(sample_ids))
    todo = [i for i in range(len(shards)) if i not in results]
    if todo:
        checkpoint = _checkpoint_bytes(workspace, version)
        network = NetworkRecord(version.id, version.arch, len(version.classes),
                                tuple(version.input_shape), dict(version.hyperparameters))
        _run_shards(workspace, shards, todo, checkpoint, version, network, mc_samples,
                    shard_batches, address, ship_media, staging, results, progress,
                    should_stop, done, len(sample_ids))
    parts = [results[i] for i in range(len(shards))]
    failed: dict[int, str] = {}
    for part in parts:
        failed.update(part["failed"])
    return scores_without_failed(
        version, np.concatenate([p["sample_ids"] for p in parts]),
        np.concatenate([p["probs"] for p in parts]),
        np.concatenate([p["mc_probs"] for p in parts]),
        np.concatenate([p["embeddings"] for p in parts]), failed)


def _run_shards(workspace: Workspace, shards: list[NDArray[np.int64]], todo: list[int],
                checkpoint: bytes, version: ModelVersion, network: NetworkRecord,
                mc_samples: int, shard_batches: int, address: str, ship_media: bool,
                staging: ShardStaging, results: dict[int, dict],
                progress: Callable[[int, int], None] | None,
                should_stop: Callable[[], bool] | None, done: int, total: int) -> None:
    import ray

    from app.learning.ray_cluster import gather, ray_cluster, task_options

    samples = workspace.samples([int(i) for i in np.concatenate([shards[i] for i in todo])])
    restore_missing_frames(workspace, samples)  # frames lost from the cache: decoded again
    paths = {s.id: str(workspace.resolve(s.path)) for s in samples}
    with ray_cluster(address) as session:
        options = task_options(session, gpu_if_any=True)
        device = "cuda" if "num_gpus" in options else "cpu"
        task = ray.remote(score_shard).options(**options)
        checkpoint_ref = ray.put(checkpoint)  # sent to each node once, not once per shard
        refs = [task.remote(checkpoint_ref, version.checkpoint_sha256, network,
                            _items(shards[i], paths, ship_media), mc_samples,
                            i * shard_batches, BATCH_SIZE, 1, device)
                for i in todo]
        finished = done

        def on_result(position: int, shard: dict) -> None:
            nonlocal finished
            index = todo[position]
            if not np.array_equal(shard["sample_ids"], shards[index]):
                raise WorkspaceError(f"shard {index} came back for other samples")
            staging.save(index, shard)
            results[index] = shard
            finished += len(shard["sample_ids"])
            if progress:
                progress(finished, total)

        gather(session, refs, on_result, should_stop, what="scoring shard")


def _items(ids: NDArray[np.int64], paths: dict[int, str], ship_media: bool) -> list[ShardItem]:
    items = []
    for sample_id in ids.tolist():
        path = paths[sample_id]
        if not ship_media:
            items.append(ShardItem(sample_id, path))
            continue
        try:
            with open(path, "rb") as handle:
                items.append(ShardItem(sample_id, path, data=handle.read()))
        except OSError as exc:
            items.append(ShardItem(sample_id, path, error=f"{path}: {exc.strerror or exc}"))
    return items


def _checkpoint_bytes(workspace: Workspace, version: ModelVersion) -> bytes:
    path = stored_checkpoint(workspace, version)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise WorkspaceError(f"model version {version.id}: checkpoint {path} cannot be read: "
                             f"{exc.strerror or exc}") from exc
