"""Checking a ``--weights`` file before a training job is started for it.

A job that fails minutes in, in another process, on a typo or on a file that
is not a state_dict wastes the user's time and leaves a failed job behind;
the same load the job will do is tried here first, in the caller, so the
error comes at once and names the file.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from app.domain.errors import WorkspaceError
from app.files.safe_files import UnreadableFile, open_regular_file


def check_weights_file(path: str | os.PathLike[str], arch: str) -> Path:
    """Return ``path`` made absolute if it loads into ``arch``'s network, else raise.

    The file must be a regular file within the size cap (see
    :mod:`app.files.safe_files`), load with ``torch.load(weights_only=True)`` and
    fit the architecture's body (classifier keys are ignored, as in
    training).

    Raises
    ------
    WorkspaceError
        Naming the file and the reason.
    """
    absolute = Path(os.path.abspath(path))
    try:
        open_regular_file(absolute).close()
    except UnreadableFile as exc:
        raise WorkspaceError(f"--weights {absolute}: {exc}") from exc
    except ValueError as exc:  # a malformed size cap in the environment
        raise WorkspaceError(str(exc)) from exc
    from models.networks import build_network  # torch: only when weights are given

    try:
        build_network(arch, 2, 64, weights=absolute)
    except pickle.UnpicklingError as exc:
        # torch's own message suggests weights_only=False, which would run any
        # code in the file: not advice to pass on.
        raise WorkspaceError(f"--weights {absolute}: not a PyTorch state_dict file (it does not "
                             "load with torch.load(weights_only=True))") from exc
    except ValueError as exc:  # loaded, but not a state_dict of this network
        reason = _first_line(exc).removeprefix(f"{absolute} ")
        raise WorkspaceError(f"--weights {absolute}: {reason}") from exc
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types on garbage
        raise WorkspaceError(
            f"--weights {absolute}: does not load into a {arch} network "
            f"({_first_line(exc)})") from exc
    return absolute


def _first_line(exc: Exception, limit: int = 300) -> str:
    """The error's text on one line, shortened: torch's can run to pages."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    text = text or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
