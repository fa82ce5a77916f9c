"""Checkpoints: atomic writes, sha256 identity, safe loading.

A checkpoint is a plain ``state_dict`` (names -> tensors) written with
``torch.save``. Its sha256 is the model's identity in the registry, so:

* writes are atomic (temp file in the same folder, fsync, ``os.replace``):
  ``path`` never holds half a file;
* loads read the file once, verify the sha256 of those bytes *before*
  unpickling anything, and then unpickle the same bytes with
  ``weights_only=True`` so a file that smuggles Python objects is refused.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tempfile
import warnings
from collections.abc import Mapping
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


def save_checkpoint(state_dict: Mapping[str, Tensor], path: str | Path) -> str:
    """Write ``state_dict`` to ``path`` atomically and return its sha256.

    Parameters
    ----------
    state_dict : mapping of str to Tensor
        Tensors only, so that :func:`load_checkpoint` can read it back with
        ``weights_only=True``. Tensors are moved to the CPU.
    path : str or Path
        Destination; its folder must exist. An existing file is replaced.

    Returns
    -------
    str
        Hex sha256 of the bytes written (equal to ``file_sha256(path)``).
    """
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise TypeError(f"state_dict entry {key!r} is not str -> Tensor")
    cpu_state = {key: value.detach().cpu() for key, value in state_dict.items()}
    buffer = io.BytesIO()
    torch.save(cpu_state, buffer)
    data = buffer.getvalue()

    target = Path(path)
    # Same folder as the target so os.replace is a rename, which is atomic.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException as exc:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            # A write through a handle names no file; say which (a full disk).
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise
    _fsync_directory(target.parent)
    return hashlib.sha256(data).hexdigest()


def _fsync_directory(folder: Path) -> None:
    # Persist the rename itself; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
