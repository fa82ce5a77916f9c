"""Pretraining on one Ray cluster worker; the backbone's bytes come back here.

The run is the same :func:`models.pretrain.pretrain_backbone` as on the
desktop, with the same config (on the worker's GPU when the cluster has
one). Epoch events stream back through
:func:`app.learning.ray_cluster.run_remote_job`; the weights return as
checkpoint bytes with their sha256, which the caller checks, writes
atomically and registers exactly as a local run's backbone.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.learning.ray_training import local_paths, media_item
from app.learning.shard_scoring import ShardItem
from app.project.workspace import WorkspaceError

if TYPE_CHECKING:
    from models.pretrain import PretrainResult
    from models.pretrain_config import PretrainConfig


@dataclass(frozen=True)
class RemotePretraining:
    """What a cluster pretraining returns: its result (weights left out), device and bytes."""

    result: PretrainResult
    device: str
    checkpoint: bytes
    sha256: str


def pretrain_on_cluster(
    address: str,
    paths: Sequence[str],
    config: PretrainConfig,
    *,
    ship_media: bool = False,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RemotePretraining:
    """Pretrain on one worker of the cluster at ``address``; checked checkpoint bytes back.

    Raises
    ------
    app.learning.ray_cluster.ClusterError
        No cluster, the cluster went away, or the run failed there.
    models.learner.TrainingCancelled
        ``should_stop()`` became true; the remote run is stopped.
    """
    from app.learning.ray_cluster import run_remote_job

    items = [media_item(path, ship_media) for path in paths]
    outcome: RemotePretraining = run_remote_job(
        address, pretrain_remote, items, config, progress=progress, should_stop=should_stop,
        what="pretraining run")
    actual = hashlib.sha256(outcome.checkpoint).hexdigest()
    if actual != outcome.sha256:
        raise WorkspaceError(f"the backbone from the cluster at {address} arrived damaged "
                             f"(sha256 {actual}, the worker said {outcome.sha256})")
    return outcome


def pretrain_remote(items: Sequence[ShardItem], config: PretrainConfig, *,
                    report: Callable[[dict[str, Any]], None],
                    use_gpu: bool) -> RemotePretraining:
    """The cluster side: pretrain, then serialise the weights (runs on the worker)."""
    from models.checkpoint import serialize_checkpoint
    from models.pretrain import pretrain_backbone

    config = replace(config, device="cuda" if use_gpu else "cpu")
    with tempfile.TemporaryDirectory(prefix="labelloop-pretrain-") as folder:
        result = pretrain_backbone(local_paths(items, Path(folder)), config, report)
    checkpoint = serialize_checkpoint(result.state_dict)
    return RemotePretraining(replace(result, state_dict={}), config.device, checkpoint.data,
                             checkpoint.sha256)
