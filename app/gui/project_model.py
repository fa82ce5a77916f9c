"""The Qt face of an open project: the one object every widget subscribes to.

It owns the :class:`Workspace` and the :class:`LabelingSession` (the logic
lives there, in app/) and turns their changes into signals, so widgets hold
no state of their own (napari's ``QtDims(dims)`` pattern).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.gui.tasks import run_task
from app.labeling.queues import (
    QueueSpec,
    build_queue,
    queue_batch_size,
    queue_counts,
    queue_header,
)
from app.labeling.session import LabelingSession, class_shortcuts, find_by_id_or_name
from app.labeling.video_context import step_frame
from app.learning.ranking import RankedSample
from app.project.workspace import Workspace, WorkspaceError

# Queues built without a model are fast enough to build on the UI thread,
# which lets the window open with its first sample already on screen.  For a
# big pool only their first FIRST_PAGE samples are: the rest follows from a
# background build (a million-item pool took 10 s to list on the UI thread).
SYNC_KINDS = frozenset({"unlabeled", "labeled"})
FIRST_PAGE = 5_000
# Queues of unlabeled samples: a sample labeled while such a queue was being
# built in the background is dropped from it when it lands.
STATUS_MAX_AGE_S = 1.0
UNLABELED_KINDS = frozenset({"uncertain", "random", "unlabeled", "failures"})
# Team projects: how long a key press waits for a lost server before the label
# goes to the outbox, and how often the window sends it and looks who else labels.
TEAM_RECONNECT_WINDOW_S = 2.0
TEAM_REFRESH_MS = 5000


class ProjectModel(QObject):
    queueChanged = Signal()      # a new queue (order) is shown
    currentChanged = Signal()    # another sample is current
    labelsChanged = Signal()     # a label was written or undone
    busy = Signal(str, int, int)  # message, done, total (total 0: indeterminate)
    idle = Signal()
    suggestModeChanged = Signal(bool)
    message = Signal(str)        # a short notice for the status bar
    failureSetsChanged = Signal()  # a failure set was created or grew
    error = Signal(str)          # something the user must read
    selectionChanged = Signal()  # the samples a class key labels together changed
    classesChanged = Signal()    # a class was added, renamed, removed, moved, coloured or keyed
    teamChanged = Signal()       # who else is labeling, or labels waiting offline

    def __init__(self, workspace: Workspace, annotator: str) -> None:
        super().__init__()
        self.workspace = workspace
        self.annotator = annotator
        self.session = LabelingSession(workspace, annotator)
        self.spec = QueueSpec()
        self._queue_generation = 0
        self.queue_pending = False  # a queue is being built in the background
        self.suggest_mode = False
        # Samples selected in the grid; two or more are labeled together by
        # one class key (one batch, one undo step).
        self.selected: list[int] = []
        # The project's counts, kept until this window changes a label or a
        # queue (the signals below, connected first so they forget before any
        # view asks) and for at most STATUS_MAX_AGE_S, so another process's
        # labels show up too: every key press asked for them five times (queue
        # list, header, status bar), each a count over the whole pool.
        self._status: tuple[float, dict[str, Any]] | None = None
        self._pool_size: tuple[float, int] | None = None
        self.labelsChanged.connect(self._forget_status)
        self.queueChanged.connect(self._forget_status)
        self.queueChanged.connect(self._forget_pool_size)
        self._others: list[str] = []
        self._team_timer: Any = None
        if workspace.database_kind == "postgresql":
            self._start_team_mode()

    # -- a team's project on a server -----------------------------------------

    def _start_team_mode(self) -> None:
        """Labels wait in an outbox while the server is away; look again every few seconds."""
        from PySide6.QtCore import QTimer

        from app.labeling.outbox import OUTBOX_NAME, Outbox

        # A key press must not freeze the window for a minute of reconnects.
        self.workspace.set_reconnect_window(TEAM_RECONNECT_WINDOW_S)
        self.session.outbox = Outbox(self.workspace.cache_dir / OUTBOX_NAME)
        self.session.claiming = True  # lease items ahead, as `labelloop next` does
        self._team_timer = QTimer(self)
        self._team_timer.timeout.connect(self.refresh_team)
        self._team_timer.start(TEAM_REFRESH_MS)
        self.refresh_team()

    def waiting_labels(self) -> int:
        """Labels given here that the server has not received yet."""
        outbox = self.session.outbox
        return len(outbox) if outbox is not None else 0

    def others_labeling(self) -> list[str]:
        """The other annotators holding live leases (as of the last look)."""
        return list(self._others)

    def refresh_team(self) -> None:
        """Send waiting labels, and see who else holds items now."""
        from app.store.errors import StoreError

        outbox = self.session.outbox
        try:
            if outbox is not None and len(outbox) and outbox.flush(self.workspace):
                self.labelsChanged.emit()
            self._others = sorted({who for _, who, _ in self.workspace.active_leases()}
                                  - {self.annotator})
        except StoreError:
            pass  # still offline: the status bar says so, the timer tries again
        self.teamChanged.emit()

    # -- read-only views ----------------------------------------------------

    @property
    def root(self) -> Path:
        return self.workspace.root

    @property
    def queue(self) -> list[RankedSample]:
        return self.session.queue

    @property
    def current(self) -> RankedSample | None:
        return self.session.current

    def classes(self) -> list[str]:
        return self.workspace.classes()

    def shortcuts(self) -> dict[str, str]:
        styles = self.workspace.class_styles()
        return class_shortcuts(list(styles), {n: s.key for n, s in styles.items()})

    def status(self) -> dict[str, Any]:
        """:meth:`Workspace.status` plus labels since the latest model (a copy)."""
        from app.learning.model_registry import labels_since_latest_model

        now = time.monotonic()
        if self._status is None or now - self._status[0] > STATUS_MAX_AGE_S:
            # A label forgets the counts but not the pool's size, which only an
            # import changes (a new queue follows it) or the age limit renews.
            if self._pool_size is None or now - self._pool_size[0] > STATUS_MAX_AGE_S:
                self._pool_size = (now, self.workspace.sample_count())
            status = self.workspace.status(self._pool_size[1])
            status["labels_since_training"] = labels_since_latest_model(self.workspace)
            self._status = (now, status)
        return dict(self._status[1])

    def counts(self) -> dict[str, int]:
        return queue_counts(self.workspace, self.status())

    def _forget_status(self) -> None:
        self._status = None

    def _forget_pool_size(self) -> None:
        self._pool_size = None

    def set_annotator(self, name: str) -> None:
        """Label as ``name`` from the next key press on (undo walks back ``name``'s labels)."""
        self.annotator = name
        self.session.annotator = name

    def classes_changed(self) -> None:
        """Tell every view the classes changed (names, order, keys or colours)."""
        self._forget_status()
        self.classesChanged.emit()
        self.labelsChanged.emit()  # a rename shows on every labeled tile and count

    def failure_sets(self) -> list[str]:
        return self.workspace.failure_set_names()

    def label_of(self, sample_id: int) -> str | None:
        return self.workspace.current_label(sample_id)

    def header(self) -> str:
        """Where the annotator is in the queue, e.g. ``"12 of 1,797"``."""
        text = queue_header(self.session.position, len(self.queue), self.spec, self.counts(),
                            self.workspace.latest_model() is not None)
        if self.queue_pending and self.queue:
            text += " (loading the rest…)"
        return text

    # -- queues -------------------------------------------------------------

    def show_queue(self, spec: QueueSpec, *, keep_sample: int | None = None,
                   keep_current: bool = False) -> None:
        """Switch to ``spec``'s queue; model-based queues are built in the background.

        ``keep_current``: when a background queue lands, the sample on screen
        *then* stays on screen (if it is in the new queue), whatever the
        annotator did while it was built -- never an older one.
        """
        spec = dataclasses.replace(spec, batch_size=queue_batch_size(self.workspace))
        self.spec = spec
        self._queue_generation += 1
        generation = self._queue_generation
        # Small queues are built whole here, filters and all; a big one shows its
        # first page here only when unfiltered (a filter may need every row).
        small = spec.kind in SYNC_KINDS and self.counts().get(spec.kind, 0) <= FIRST_PAGE
        plain = spec.filters.is_empty and spec.media == "all"
        if spec.kind in SYNC_KINDS and (small or plain):
            whole = small or (spec.size is not None and spec.size <= FIRST_PAGE)
            first = build_queue(self.workspace, spec if whole else
                                dataclasses.replace(spec, size=FIRST_PAGE))
            self.queue_pending = False
            self._apply_queue(first, keep_sample)
            if whole or len(first) < FIRST_PAGE:
                return
            # The rest of a big queue: the first page stays on screen meanwhile.
            keep_sample, keep_current = None, True
        self.queue_pending = True

        def build(workspace: Workspace, progress: Callable[[int, int], None]) -> list:
            return build_queue(workspace, spec, progress)

        def done(items: list[RankedSample]) -> None:
            if generation == self._queue_generation:  # a later switch wins
                self.queue_pending = False
                current = self.current
                keep = keep_sample
                if keep_current:
                    keep = current.sample_id if current is not None else None
                self._apply_queue(self._without_new_labels(items, spec, keep), keep)
            self.idle.emit()

        def failed(text: str) -> None:
            self.idle.emit()
            if generation == self._queue_generation:
                self.queue_pending = False
                self.error.emit(f"{spec.title}: {text}")

        def start() -> None:
            # Started from the event loop, after the window painted what it has:
            # a build thread started at once took the GIL from the first paint
            # (3 s of a million-item project's opening). A later switch makes
            # this one moot before it costs anything.
            if generation != self._queue_generation:
                return
            self.busy.emit(f"Building queue “{spec.title}”…", 0, 0)
            self.run_in_background(build, done, failed,
                                   lambda d, t: self.busy.emit("Scoring the pool…", d, t))

        QTimer.singleShot(0, start)

    def refresh_queue(self) -> None:
        """Rebuild the current queue, keeping the sample on screen."""
        current = self.current
        self.show_queue(self.spec, keep_sample=current.sample_id if current else None,
                        keep_current=True)

    def _without_new_labels(self, items: list[RankedSample], spec: QueueSpec,
                            keep: int | None) -> list[RankedSample]:
        """``items`` less the samples labeled while they were ranked off the UI thread."""
        if spec.kind not in UNLABELED_KINDS:
            return items
        labels = self.workspace.current_labels()
        return [item for item in items
                if item.sample_id not in labels or item.sample_id == keep]

    def _apply_queue(self, items: list[RankedSample], keep_sample: int | None) -> None:
        self.session.set_queue(items, self.spec.kind, keep_sample)
        self.selected = []  # a selection belongs to the queue it was made in
        self.queueChanged.emit()
        self.selectionChanged.emit()
        self.currentChanged.emit()

    # -- actions ------------------------------------------------------------

    def set_suggest_mode(self, enabled: bool) -> None:
        """Show the model's class pre-selected; Enter accepts, another key corrects."""
        self.suggest_mode = enabled
        self.suggestModeChanged.emit(enabled)
        self.currentChanged.emit()

    def suggestion(self) -> dict | None:
        return self.session.suggestion() if self.suggest_mode else None

    def label(self, class_name: str) -> None:
        if len(self.selected) > 1:
            self._label_selected(class_name)
            return
        self._commit(lambda: self.session.label(class_name, suggested=self.suggest_mode))

    # -- selecting several samples ---------------------------------------------

    def set_selection(self, sample_ids: list[int]) -> None:
        """The samples a class key labels together (the grid's selection)."""
        if sample_ids != self.selected:
            self.selected = list(sample_ids)
            self.selectionChanged.emit()

    def select_all(self) -> None:
        """Select every sample of the queue shown (filtered as it is)."""
        self.set_selection([item.sample_id for item in self.queue])

    def clear_selection(self) -> None:
        self.set_selection([])

    def _label_selected(self, class_name: str) -> None:
        chosen = list(self.selected)
        waiting = self.waiting_labels()
        if self._commit(lambda: self.session.label_selected(chosen, class_name)) is None:
            if self.waiting_labels() > waiting:  # the server is away: the batch waits
                self.set_selection([])
                self.message.emit(f"Offline: {len(chosen):,} labels “{class_name}” wait "
                                  "and are sent, as one batch, when the server is back")
            return
        self.set_selection([])
        self.message.emit(f"Labeled {len(chosen):,} samples “{class_name}” "
                          "(one undo takes the batch back)")

    def review(self, verdict: str) -> None:
        """Accept or reject the label of the selection, else of the current sample."""
        chosen = list(self.selected) if len(self.selected) > 1 else None
        if chosen is None and self.current is None:
            self.message.emit("The queue is done: no label to review")
            return
        verdicts = self._commit(lambda: self.session.review(verdict, chosen) or None)
        if verdicts is None:
            return
        if chosen is not None:
            self.set_selection([])
        what = (f"sample {verdicts[0].sample_id}" if len(verdicts) == 1
                else f"{len(verdicts):,} samples")
        back = " (back to the labeling queues)" if verdict == "rejected" else ""
        self.message.emit(f"{verdict.capitalize()} the label of {what}{back}")

    def accept_suggestion(self) -> None:
        if not self.suggest_mode:
            return
        if self.current is None:
            self.message.emit("The queue is done: no sample to accept a suggestion for")
            return
        if self._commit(self.session.accept_suggestion) is None:
            self.message.emit("No suggestion: the latest model has not scored this sample")

    def _commit(self, action: Callable[[], Any]) -> Any:
        waiting = self.waiting_labels()
        length = len(self.session.queue)
        try:
            written = action()
        except WorkspaceError as exc:
            self.error.emit(str(exc))
            return None
        if len(self.session.queue) != length:  # items others hold left the queue
            self.queueChanged.emit()
        if written is not None:
            self.labelsChanged.emit()
            self.currentChanged.emit()
        elif self.waiting_labels() > waiting:  # kept for later: the annotator goes on
            self.teamChanged.emit()
            self.currentChanged.emit()
        return written

    def label_by_key(self, key: str) -> bool:
        name = self.shortcuts().get(key.lower())
        if name is None:
            return False
        self.label(name)
        return True

    def skip(self) -> None:
        self.session.skip()
        self.currentChanged.emit()

    def undo(self) -> None:
        undone = self.session.undo()
        if not undone:
            self.message.emit("Nothing to undo")
            return
        if len(undone) == 1:
            self.message.emit(f"Undid “{undone[0].class_name}” on sample {undone[0].sample_id}")
        else:
            self.message.emit(f"Undid a batch of {len(undone):,} labels")
        self.labelsChanged.emit()
        self.currentChanged.emit()

    def move(self, delta: int) -> None:
        self.session.move(delta)
        self.currentChanged.emit()

    def go_to(self, index: int) -> None:
        self.session.go_to(index)
        self.currentChanged.emit()

    def open_sample(self, text: str) -> bool:
        """Show the sample ``text`` names (id, path or file name); False with an error if none."""
        try:
            sample = find_by_id_or_name(self.workspace, text)
        except WorkspaceError as exc:
            self.error.emit(str(exc))
            return False
        length = len(self.session.queue)
        self.session.open_sample(sample)
        if len(self.session.queue) != length:
            self.queueChanged.emit()
        self.currentChanged.emit()
        return True

    def step_frame(self, delta: int) -> None:
        """Show the kept frame ``delta`` places away in the current frame's video."""
        current = self.current
        if current is None:
            return
        item = self.workspace.sample(current.sample_id)
        target = step_frame(self.workspace, item, delta)
        if target is None:
            self.message.emit("Not a video frame" if not item.is_frame else
                              f"No {'earlier' if delta < 0 else 'later'} kept frame of this video")
            return
        self.show_sample(target)

    def show_sample(self, sample_id: int) -> None:
        """Show the sample ``sample_id`` (joining the queue if it is not in it)."""
        length = len(self.session.queue)
        self.session.open_sample(self.workspace.sample(sample_id))
        if len(self.session.queue) != length:
            self.queueChanged.emit()
        self.currentChanged.emit()

    def mark_failure(self, failure_set: str) -> None:
        current = self.current
        if current is None:
            return
        try:
            added = self.session.mark_failure(failure_set)
        except WorkspaceError as exc:
            self.error.emit(str(exc))
            return
        note = "added to" if added else "already in"
        self.message.emit(f"Sample {current.sample_id} {note} failure set “{failure_set}”")
        if added:
            self.failureSetsChanged.emit()

    # -- background work ----------------------------------------------------

    def run_in_background(self, fn, on_done, on_error, on_progress=None) -> None:
        run_task(self.root, fn, on_done=on_done, on_error=on_error, on_progress=on_progress)

    def close(self) -> None:
        self._queue_generation += 1  # a queue still being built lands nowhere
        if self._team_timer is not None:
            self._team_timer.stop()
        self.workspace.close()
