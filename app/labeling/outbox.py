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


class Outbox:
    """Labels not yet stored, oldest first, kept in ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._pending: list[PendingLabel] = []
        if self.path.is_file():
            try:
                rows = json.loads(self.path.read_text(encoding="utf-8"))
                self._pending = [PendingLabel(**row) for row in rows]
            except (OSError, ValueError, TypeError) as exc:
                raise WorkspaceError(f"{self.path}: unreadable outbox of unsent labels "
                                     f"({exc}); move it aside to continue") from exc

    def __len__(self) -> int:
        return len(self._pending)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, [asdict(p) for p in self._pending])

    def add(self, label: PendingLabel) -> None:
        self._pending.append(label)
        self._save()

    def flush(self, workspace: Workspace) -> int:
        """Send waiting labels in order until one fails to reach the server; return how many
        were stored."""
        sent = 0
        try:
            while self._pending:
                self._pending[0].send(workspace)
                self._pending.pop(0)
                sent += 1
        except StoreUnavailable:
            pass
        finally:
            if sent:
                self._save()
        return sent

    def submit(self, workspace: Workspace, label: PendingLabel) -> int | None:
        """Store ``label`` now, or keep it (behind any waiting ones) if the server is away.

        Returns the annotation id, or None when the label waits in the outbox.
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
