"""The staging area of a scoring pass cut into shards: each finished shard kept, none committed.

A pass on a cluster writes every shard here the moment it arrives, each file
atomically; the version's score cache (:mod:`app.learning.scoring`) is only
written once every shard is in, in one swap. So a pass that dies half-way
(the cluster went away, the desktop was closed) leaves the cache as it was,
and the next pass with the same plan reuses the shards already here.

Layout: ``cache/score-shards/vNNNNN/PLAN/shard-NNNNN.npz``. ``PLAN`` is a
digest of everything that determines the shards' numbers (checkpoint,
T, batch and shard size, the sample ids of every shard), so a shard is only
ever reused for exactly the rows it was computed for.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.files.atomic_write import write_bytes_atomic
from app.project.workspace import Workspace

SHARD_ARRAYS = ("sample_ids", "probs", "mc_probs", "embeddings")


def shard_root(workspace: Workspace, version_id: int) -> Path:
    """Every staged shard of one model version (all plans)."""
    return workspace.cache_dir / "score-shards" / f"v{version_id:05d}"


def plan_key(checkpoint_sha256: str, mc_samples: int, batch_size: int,
             shards: list[NDArray[np.int64]]) -> str:
    """A digest naming one plan: the same key means the same numbers for every shard."""
    digest = hashlib.sha256()
    digest.update(json.dumps([checkpoint_sha256, int(mc_samples), int(batch_size),
                              [len(s) for s in shards]]).encode())
    for ids in shards:
        digest.update(np.ascontiguousarray(ids, dtype=np.int64).tobytes())
    return digest.hexdigest()[:24]


class ShardStaging:
    """The shards of one plan: saved one by one, read back on a re-run."""

    def __init__(self, folder: Path | None) -> None:
        # None: a read-only project, nothing is staged (the pass keeps shards in memory).
        self.folder = folder

    def _path(self, index: int) -> Path:
        assert self.folder is not None
        return self.folder / f"shard-{index:05d}.npz"

    def load(self, index: int, sample_ids: NDArray[np.int64]) -> dict[str, Any] | None:
        """The staged shard ``index`` if it is there, whole, and for exactly ``sample_ids``."""
        if self.folder is None:
            return None
        try:
            with np.load(self._path(index), allow_pickle=False) as stored:
                shard: dict[str, Any] = {name: stored[name] for name in SHARD_ARRAYS}
                failed = json.loads(bytes(stored["failed"]).decode("utf-8"))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            return None  # missing or damaged: scored again
        if not np.array_equal(shard["sample_ids"], sample_ids):
            return None
        shard["failed"] = {int(k): str(v) for k, v in failed.items()}
        return shard

    def save(self, index: int, shard: dict[str, Any]) -> None:
        """Stage one finished shard (atomically: a reader sees it whole or not at all)."""
        if self.folder is None:
            return
        buffer = io.BytesIO()
        failed = json.dumps({str(k): v for k, v in shard["failed"].items()}).encode("utf-8")
        np.savez(buffer, **{name: shard[name] for name in SHARD_ARRAYS},
                 failed=np.frombuffer(failed, dtype=np.uint8))
        self.folder.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(self._path(index), buffer.getvalue())

    def staged(self) -> int:
        """How many shard files are staged."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        return len(list(self.folder.glob("shard-*.npz")))


def discard_shards(workspace: Workspace, version_id: int) -> None:
    """Remove the staged shards of a version (after its cache was committed)."""
    shutil.rmtree(shard_root(workspace, version_id), ignore_errors=True)
