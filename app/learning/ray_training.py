"""A training run on one Ray cluster worker; the checkpoint's bytes come back here.

The run is the same :meth:`models.learner.Learner.fit` as on the desktop,
with the same config (on a GPU when the cluster has one). Epoch events stream
back through :func:`app.learning.ray_cluster.run_remote_job`; the weights
return as checkpoint bytes with their sha256, which the caller checks,
writes atomically and registers exactly as a local run's.

Media are read by path (shared storage) or shipped as bytes
(``ship_media``), as for scoring.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.learning.shard_scoring import ShardItem
from app.project.workspace import WorkspaceError

if TYPE_CHECKING:
    from models.train_config import TrainConfig
    from models.training import TrainResult


@dataclass(frozen=True)
class RemoteTraining:
    """What a cluster training run returns: its result (weights left out) and checkpoint."""

    result: TrainResult
    checkpoint: bytes
    sha256: str


def train_on_cluster(
    address: str,
    paths: Sequence[str],
    labels: Sequence[int],
    classes: Sequence[str],
    config: TrainConfig,
    *,
    ship_media: bool = False,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RemoteTraining:
    """Train on one worker of the cluster at ``address``; checked checkpoint bytes back.

    Raises
    ------
    app.learning.ray_cluster.ClusterError
        No cluster, the cluster went away, or the run failed there (the
        message carries the worker's own error, e.g. a training error).
    models.training.TrainingCancelled
        ``should_stop()`` became true; the remote run is stopped.
    """
    from app.learning.ray_cluster import run_remote_job

    items = [media_item(path, ship_media) for path in paths]
    outcome: RemoteTraining = run_remote_job(
        address, fit_remote, items, list(labels), list(classes), config,
        progress=progress, should_stop=should_stop, what="training run")
    actual = hashlib.sha256(outcome.checkpoint).hexdigest()
    if actual != outcome.sha256:
        raise WorkspaceError(f"the checkpoint from the cluster at {address} arrived damaged "
                             f"(sha256 {actual}, the worker said {outcome.sha256})")
    return outcome


def fit_remote(items: Sequence[ShardItem], labels: list[int], classes: list[str],
               config: TrainConfig, *, report: Callable[[dict[str, Any]], None],
               use_gpu: bool) -> RemoteTraining:
    """The cluster side: fit, then serialise the weights (runs on the worker)."""
    from models.checkpoint import serialize_checkpoint
    from models.learners import learner_type

    if use_gpu:
        config = replace(config, device="cuda")
    with tempfile.TemporaryDirectory(prefix="labelloop-train-") as folder:
        paths = local_paths(items, Path(folder))
        result = learner_type(config.arch).fit(paths, labels, classes, config, report)
    checkpoint = serialize_checkpoint(result.state_dict)
    return RemoteTraining(replace(result, state_dict={}), checkpoint.data, checkpoint.sha256)


def media_item(path: str, ship_media: bool) -> ShardItem:
    """A file for a cluster worker: its path (shared storage), or its bytes too."""
    if not ship_media:
        return ShardItem(0, path)
    try:
        with open(path, "rb") as handle:
            return ShardItem(0, path, data=handle.read())
    except OSError as exc:
        raise WorkspaceError(f"{path}: cannot be read to send to the cluster: "
                             f"{exc.strerror or exc}") from exc


def local_paths(items: Sequence[ShardItem], folder: Path) -> list[str]:
    """On the worker: each item's path, shipped bytes written into ``folder`` first."""
    paths = []
    for position, item in enumerate(items):
        if item.data is None:
            paths.append(item.path)
            continue
        local = folder / f"{position:06d}{Path(item.path).suffix[:16]}"
        local.write_bytes(item.data)
        paths.append(str(local))
    return paths
