"""Writing model checkpoints: :mod:`models.checkpoint`'s bytes, written atomically.

``models/`` serialises and hashes (it may not import the application); the
write goes through the one atomic-write helper, so a checkpoint is replaced
whole and fsynced like every other file the application writes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from torch import Tensor

from app.files.atomic_write import write_bytes_atomic
from models.checkpoint import serialize_checkpoint


def save_checkpoint(state_dict: Mapping[str, Tensor], path: str | os.PathLike[str]) -> str:
    """Write ``state_dict`` to ``path`` atomically and durably; return its sha256.

    Parameters
    ----------
    state_dict : mapping of str to Tensor
        Tensors only (see :func:`models.checkpoint.serialize_checkpoint`).
    path : str or Path
        Destination. An existing file is replaced; a reader sees the old file
        or the new one, never half.

    Returns
    -------
    str
        Hex sha256 of the bytes written (equal to ``file_sha256(path)``).
    """
    checkpoint = serialize_checkpoint(state_dict)
    write_bytes_atomic(path, checkpoint.data)
    return checkpoint.sha256
