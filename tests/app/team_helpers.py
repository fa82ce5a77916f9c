"""Projects for the team tests: many items without image files.

Claiming and labeling never open an item's file, so a pool of rows with
distinct made-up digests is a real pool for them, made in milliseconds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from app.project.workspace import Workspace


def pool_project(root: Path, n: int, database: str | None = None,
                 classes: tuple[str, ...] = ("cat", "dog", "bird")) -> Path:
    """A closed project at ``root`` with ``n`` items (on ``database`` if given)."""
    with Workspace.init(root, list(classes), database=database) as ws:
        batch = ws.create_batch(["synthetic"])
        rows = [(f"pool/item_{i:05d}.png", hashlib.sha256(str(i).encode()).hexdigest(),
                 8, 8, i) for i in range(n)]
        assert ws.insert_samples(rows, batch) == n
        ws.finish_batch(batch, n, 0, 0)
    return root
