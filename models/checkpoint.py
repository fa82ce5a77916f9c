"""Checkpoints: atomic writes, sha256 identity, safe loading.

A checkpoint is a plain ``state_dict`` (names -> tensors) written with
``torch.save``. Its sha256 is the model's identity in the registry, so:

* saving serialises to bytes and hashes them here (:func:`serialize_checkpoint`);
  the application writes those bytes atomically with fsync
  (``app.learning.checkpoint_file.save_checkpoint``), so a checkpoint file
  never holds half a checkpoint;
* loads read the file once, verify the sha256 of those bytes *before*
  unpickling anything, and then unpickle the same bytes with
  ``weights_only=True`` so a file that smuggles Python objects is refused.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

_CHUNK = 1 << 20


class CheckpointError(RuntimeError):
    """A checkpoint is missing, altered, or not a plain tensor state_dict."""


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class SerializedCheckpoint:
    """A checkpoint's exact bytes and their sha256, ready to be written.

    Writing is the application's job (``app.files.atomic_write``, behind
    ``app.learning.checkpoint_file.save_checkpoint``): models/ never imports
    the application, and there is one atomic-write implementation.
    """

    data: bytes
    sha256: str


def serialize_checkpoint(state_dict: Mapping[str, Tensor]) -> SerializedCheckpoint:
    """``torch.save`` a tensor ``state_dict`` to bytes and hash them.

    Parameters
    ----------
    state_dict : mapping of str to Tensor
        Tensors only, so that :func:`load_checkpoint` can read it back with
        ``weights_only=True``. Tensors are moved to the CPU.

    Returns
    -------
    SerializedCheckpoint
        The bytes and their hex sha256 (the model's identity in the registry).

    Raises
    ------
    TypeError
        An entry is not ``str -> Tensor``.
    """
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise TypeError(f"state_dict entry {key!r} is not str -> Tensor")
    cpu_state = {key: value.detach().cpu() for key, value in state_dict.items()}
    buffer = io.BytesIO()
    torch.save(cpu_state, buffer)
    data = buffer.getvalue()
    return SerializedCheckpoint(data, hashlib.sha256(data).hexdigest())


def load_checkpoint(path: str | Path, expected_sha256: str) -> dict[str, Tensor]:
    """Verify a checkpoint's sha256, then load its tensors onto the CPU.

    Parameters
    ----------
    path : str or Path
        The checkpoint file.
    expected_sha256 : str
        Hex digest recorded when the checkpoint was saved.

    Returns
    -------
    dict of str to Tensor
        The state_dict.

    Raises
    ------
    CheckpointError
        The file is missing, its sha256 differs, or it holds anything other
        than a plain tensor state_dict. The message names the file.
    """
    target = Path(path)
    if not target.is_file():
        raise CheckpointError(f"checkpoint file not found: {target}")
    # Read once: the bytes that are hashed are the bytes that are unpickled,
    # so the file cannot be swapped between the check and the load.
    try:
        data = target.read_bytes()
    except OSError as err:
        raise CheckpointError(f"checkpoint {target} cannot be read: {err.strerror or err}") \
            from err
    return load_checkpoint_bytes(data, expected_sha256, str(target))


def load_checkpoint_bytes(data: bytes, expected_sha256: str, name: str) -> dict[str, Tensor]:
    """Verify the sha256 of a checkpoint's bytes, then load its tensors onto the CPU.

    For bytes that did not come from a file here (sent to a cluster worker,
    say); :func:`load_checkpoint` reads a file and comes here.

    Parameters
    ----------
    data : bytes
        The checkpoint's exact bytes.
    expected_sha256 : str
        Hex digest recorded when the checkpoint was saved.
    name : str
        What the messages call the checkpoint (its path, or a model version).

    Raises
    ------
    CheckpointError
        The sha256 differs, or the bytes hold anything other than a plain
        tensor state_dict.
    """
    target = name
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256.strip().lower():
        raise CheckpointError(
            f"checkpoint {target} has sha256 {actual}, expected {expected_sha256}: "
            "the file was modified or replaced; refusing to load it"
        )
    try:
        with warnings.catch_warnings():
            # Plain pickles make torch warn about the protocol before refusing
            # them; the refusal below is the message that matters.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"checkpoint {target} is not a plain tensor state_dict "
            f"(refused by weights_only loading): {first}"
        ) from err
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"checkpoint {target} does not hold a str -> Tensor state_dict")
    return dict(state)
