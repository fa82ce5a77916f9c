"""Labels waiting to reach a database server that cannot be reached right now.

A team's desktop keeps labeling when the network drops or the server
restarts: a label that cannot be sent joins the outbox, and every later one
queues behind it, so they arrive in the order they were given.  The outbox
is a JSON file in the project's cache, rewritten atomically on every change,
so closing the window (or a crash) loses none of them.  Each label carries
its idempotency key: one that did arrive before the connection dropped is
stored once when it is sent again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.domain.errors import WorkspaceError
from app.files.atomic_write import write_json_atomic
from app.project.workspace import Workspace
from app.store.errors import StoreUnavailable

OUTBOX_NAME = "outbox.json"


@dataclass(frozen=True)
class PendingLabel:
    """Everything :meth:`Workspace.label` needs to store one label later."""

    sample_id: int
    class_name: str | None
    annotator: str
    client_key: str
    seconds_spent: float | None = None
    source: str = "manual"
    suggested: bool = False
    prediction: dict[str, Any] = field(default_factory=dict)

    def send(self, workspace: Workspace) -> int:
        return workspace.label(self.sample_id, self.class_name, self.annotator,
                               seconds_spent=self.seconds_spent, source=self.source,
                               suggested=self.suggested, client_key=self.client_key,
                               **self.prediction)


@dataclass(frozen=True)
class PendingBatch:
    """One key press that labeled several items (:meth:`Workspace.label_many`), kept whole.

    ``batch_key`` makes it idempotent: sent again, it is stored once, and
    one undo still takes the whole batch back.
    """

    sample_ids: list[int]
    class_name: str | None
    annotator: str
    batch_key: str
    source: str = "manual"
    # {sample id (as text: JSON keys are strings): prediction}
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def send(self, workspace: Workspace) -> int:
        workspace.label_many(self.sample_ids, self.class_name, self.annotator,
                             source=self.source, batch_key=self.batch_key,
                             predictions={int(k): v for k, v in self.predictions.items()})
        return len(self.sample_ids)


Pending = PendingLabel | PendingBatch


def _to_json(pending: Pending) -> dict[str, Any]:
    return {"kind": "batch", **asdict(pending)} if isinstance(pending, PendingBatch) \
        else asdict(pending)


def _from_json(row: dict[str, Any]) -> Pending:
    # Rows written before batches existed carry no kind: single labels.
    if row.get("kind") == "batch":
        return PendingBatch(**{k: v for k, v in row.items() if k != "kind"})
    return PendingLabel(**row)


def _label_count(pending: Pending) -> int:
    return len(pending.sample_ids) if isinstance(pending, PendingBatch) else 1


class Outbox:
    """Labels not yet stored, oldest first, kept in ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._pending: list[Pending] = []
        if self.path.is_file():
            try:
                rows = json.loads(self.path.read_text(encoding="utf-8"))
                self._pending = [_from_json(row) for row in rows]
            except (OSError, ValueError, TypeError) as exc:
                raise WorkspaceError(f"{self.path}: unreadable outbox of unsent labels "
                                     f"({exc}); move it aside to continue") from exc

    def __len__(self) -> int:
        """Labels waiting (a batch counts each of its items)."""
        return sum(_label_count(p) for p in self._pending)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, [_to_json(p) for p in self._pending])

    def add(self, label: Pending) -> None:
        self._pending.append(label)
        self._save()

    def flush(self, workspace: Workspace) -> int:
        """Send waiting labels in order until one fails to reach the server; return how many
        were stored."""
        sent = 0
        try:
            while self._pending:
                self._pending[0].send(workspace)
                sent += _label_count(self._pending.pop(0))
        except StoreUnavailable:
            pass
        finally:
            if sent:
                self._save()
        return sent

    def submit(self, workspace: Workspace, label: Pending) -> int | None:
        """Store ``label`` now, or keep it (behind any waiting ones) if the server is away.

        Returns the annotation id (a batch: how many it labeled), or None when
        the label waits in the outbox.
        """
        if self._pending:
            self.add(label)
            self.flush(workspace)
            return None
        try:
            return label.send(workspace)
        except StoreUnavailable:
            self.add(label)
            return None
