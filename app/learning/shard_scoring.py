"""Scoring one shard of the pool where it runs: the body of a cluster task.

It needs nothing of the project (no database, no workspace): the checkpoint's
bytes and sha256, the network's record, and the shard's items (paths on
shared storage, or the files' bytes). The checkpoint is verified before torch
reads a byte of it, exactly as on the desktop.

A shard starts on a batch boundary of the whole scoring pass (``batch_offset``)
and is scored in the same batches with the same per-batch dropout seeds
(:func:`models.inference.batch_seed`), so its rows equal those of scoring
the whole pool in one pass on one machine.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.project.workspace import WorkspaceError


@dataclass(frozen=True)
class ShardItem:
    """One pool item of a shard: read by ``path``, or from ``data`` when the bytes are shipped.

    ``error`` says why the desktop could not read a file it was to ship; the
    item then gets a NaN row and that reason, as an unreadable file does.
    """

    sample_id: int
    path: str
    data: bytes | None = None
    error: str | None = None


@dataclass(frozen=True)
class NetworkRecord:
    """What rebuilds a version's network: as :class:`app.domain.records.ModelVersion` says."""

    version_id: int
    arch: str
    classes: int
    input_shape: tuple[int, ...]
    hyperparameters: dict[str, Any]


def score_shard(
    checkpoint: bytes,
    checkpoint_sha256: str,
    network: NetworkRecord,
    items: Sequence[ShardItem],
    mc_samples: int,
    batch_offset: int,
    batch_size: int,
    threads: int = 1,
    device: str = "cpu",
    seed: int = 0,
) -> dict[str, Any]:
    """Score the shard's items; arrays aligned with ``items``.

    Returns
    -------
    dict
        ``sample_ids [n]``, ``probs [n, c]``, ``mc_probs [n, c, T]``,
        ``embeddings [n, d]`` (NaN rows for unreadable items) and ``failed``
        (sample id -> reason).

    Raises
    ------
    WorkspaceError
        The checkpoint's bytes do not have the recorded sha256, or do not fit
        the recorded network.
    """
    from models.checkpoint import CheckpointError, load_checkpoint_bytes
    from models.learner import NetworkSpec, StateMismatchError
    from models.learners import learner_from_state

    name = f"of model version {network.version_id}"
    try:
        state = load_checkpoint_bytes(checkpoint, checkpoint_sha256, name)
        spec = NetworkSpec.from_record(network.arch, network.classes, network.input_shape,
                                       network.hyperparameters)
        learner = learner_from_state(spec, state)
    except (CheckpointError, StateMismatchError) as exc:
        raise WorkspaceError(f"model version {network.version_id} on a cluster worker: {exc}"
                             ) from exc
    if device != "cpu":
        learner.network.to(device)
    with tempfile.TemporaryDirectory(prefix="labelloop-shard-") as folder:
        paths = _readable_paths(items, Path(folder))
        batches = learner.predict(paths, batch_size=batch_size, mc_samples=mc_samples,
                                  on_error="nan", seed=seed, batch_offset=batch_offset,
                                  num_threads=threads, device=device)
        probs, mcs, embs, failed = [], [], [], {}
        for batch in batches:
            probs.append(batch.probs)
            mcs.append(batch.mc_probs if batch.mc_probs is not None
                       else np.zeros((len(batch), network.classes, 0), np.float32))
            embs.append(batch.embeddings)
            for row, reason in batch.errors.items():
                item = items[row]
                # A shipped file was read from a temporary copy: name the original.
                failed[item.sample_id] = item.error or reason.replace(paths[row], item.path)
    return {"sample_ids": np.array([i.sample_id for i in items], dtype=np.int64),
            "probs": _joined(probs), "mc_probs": _joined(mcs), "embeddings": _joined(embs),
            "failed": failed}


def _joined(parts: list[NDArray[np.float32]]) -> NDArray[np.float32]:
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def _readable_paths(items: Sequence[ShardItem], folder: Path) -> list[str]:
    """Each item's path; shipped bytes are written to ``folder`` and read from there,
    through the same decoder (and the same refusals) as files on shared storage."""
    paths = []
    for position, item in enumerate(items):
        if item.data is None and item.error is None:
            paths.append(item.path)
            continue
        local = folder / f"{position:06d}{Path(item.path).suffix[:16]}"
        if item.data is not None:
            local.write_bytes(item.data)
        paths.append(str(local))  # missing when the desktop could not read it: a NaN row
    return paths
