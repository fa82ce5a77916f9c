"""Where a project's heavy jobs run: "this machine" or "a Ray cluster at ADDRESS".

A project setting (``compute``), read when the window starts a training or
scoring job: the job's parameters then carry ``ray: ADDRESS`` and the job
worker sends its heavy part there (:mod:`app.learning.ray_scoring`,
:mod:`app.learning.ray_training`), with the same events, cancel and errors.
The CLI says it per command (``--ray``) instead.
"""

from __future__ import annotations

from typing import Any

from app.learning.ray_cluster import check_address
from app.project.workspace import Workspace

COMPUTE_SETTING = "compute"
THIS_MACHINE = "this machine"


def compute_address(workspace: Workspace) -> str | None:
    """The Ray address the project's jobs go to, or None for this machine."""
    value = (workspace.setting(COMPUTE_SETTING, "") or "").strip()
    return value or None


def set_compute_address(workspace: Workspace, address: str | None) -> None:
    """Send the project's jobs to the cluster at ``address`` (None: this machine).

    Raises
    ------
    app.learning.ray_cluster.ClusterError
        ``address`` is neither ``host:port`` nor ``local``.
    """
    workspace.set_setting(COMPUTE_SETTING, "" if address is None else check_address(address))


def describe_compute(address: str | None) -> str:
    """``"this machine"`` or ``"Ray cluster at ADDRESS"``, for the window."""
    return THIS_MACHINE if address is None else f"Ray cluster at {address}"


def with_compute(workspace: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """A job's ``params`` with the project's compute setting applied (training, scoring)."""
    address = compute_address(workspace)
    return params if address is None or "ray" in params else {**params, "ray": address}
