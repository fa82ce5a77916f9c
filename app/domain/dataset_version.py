"""The dataset version: one hash that names a set of labels.

The same definition serves the export manifest and the model registry, so a
model's ``data_version`` can be matched against an exported dataset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def dataset_version(pairs: Iterable[tuple[str, str]]) -> str:
    """Hash of the sorted ``(sha256, label)`` pairs.

    Sorting makes the version independent of import order and sample ids;
    any added, removed or relabeled image changes it.
    """
    digest = hashlib.sha256()
    for sha, label in sorted(pairs):
        digest.update(f"{sha}\t{label}\n".encode())
    return digest.hexdigest()
