"""Roles on a team project: annotator and reviewer.

Stored in the project's database as ``{"name": "reviewer", ...}``.  With no
roles set (a project of one, or a team that does not care) everyone may do
everything, as before.  Once any role is set, a name not listed is an
annotator, and:

* an annotator labels items nobody labeled, relabels their own, and labels
  items leased to them (the overlap set hands an item to several);
* a reviewer labels or relabels anything: a reviewer's label on a
  disagreement settles it (the newest label wins; the votes stay in the
  history).

The CLI's ``label`` and the GUI's labeling session both go through
:func:`check_may_label`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from app.domain.errors import WorkspaceError
from app.project.workspace import Workspace

ROLES_SETTING = "roles"
ROLES = ("annotator", "reviewer")


def read_roles(workspace: Workspace) -> dict[str, str]:
    value = workspace.setting(ROLES_SETTING)
    return json.loads(value) if value else {}


def set_role(workspace: Workspace, name: str, role: str) -> dict[str, str]:
    """Give ``name`` a role; returns every role now set."""
    if role not in ROLES:
        raise WorkspaceError(f"role {role!r}: choose {' or '.join(ROLES)}")
    roles = {**read_roles(workspace), name: role}
    workspace.set_setting(ROLES_SETTING, json.dumps(roles, sort_keys=True))
    return roles


def role_of(workspace: Workspace, name: str) -> str:
    """``name``'s role; everyone is a reviewer while no role is set."""
    roles = read_roles(workspace)
    return roles.get(name, "annotator") if roles else "reviewer"


def check_may_label(workspace: Workspace, annotator: str, sample_id: int) -> None:
    """Raise WorkspaceError if ``annotator``'s role does not allow labeling this item now."""
    if role_of(workspace, annotator) == "reviewer":
        return
    history = workspace.history(sample_id)
    if not history or history[-1].class_name is None:
        return
    current_by = _label_giver(history)
    if current_by == annotator:
        return
    if any(sid == sample_id and who == annotator for sid, who, _ in workspace.active_leases()):
        return
    raise WorkspaceError(
        f"sample {sample_id} is labeled by {current_by}; annotator {annotator} may not "
        "relabel it (a reviewer may)")


def relabel_guard(workspace: Workspace, annotator: str) -> Callable[[int], str | None] | None:
    """For bulk writes (``import-labels``): why ``annotator`` may not label an item, or None.

    None as a whole when ``annotator`` may label anything (a reviewer, or a
    project without roles).  Otherwise the returned function refuses items
    whose current label someone else gave: an import is no way around the
    rule :func:`check_may_label` applies to a key press.  Leases are not
    consulted: an import is not working through a claimed queue.
    """
    if role_of(workspace, annotator) == "reviewer":
        return None
    givers = {sid: row.annotator for sid, row in workspace.current_annotations().items()
              if row.class_name is not None}

    def refusal(sample_id: int) -> str | None:
        giver = givers.get(sample_id)
        if giver is None or giver == annotator:
            return None
        return f"labeled by {giver}; annotator {annotator} may not relabel it (a reviewer may)"

    return refusal


def _label_giver(history: list) -> str:
    """Who gave the current label: the newest label row that is no undo and not undone."""
    undone = {a.undoes_id for a in history if a.undoes_id is not None}
    for row in reversed(history):
        if row.undoes_id is None and row.id not in undone and row.class_name is not None:
            return row.annotator
    return history[-1].annotator
