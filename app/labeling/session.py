"""A labeling session: walking a queue and committing one label per key press.

Pure Python, so the GUI's behaviour is tested without a window: the widget
forwards key presses here and repaints from :attr:`LabelingSession.current`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from app.domain.class_keys import CLASS_KEYS, class_shortcuts  # noqa: F401  (re-exported)
from app.domain.errors import WorkspaceError
from app.domain.records import Annotation, Sample
from app.labeling.outbox import Outbox, PendingBatch, PendingLabel
from app.labeling.reviews import Verdict, judge
from app.labeling.roles import check_may_label, relabel_guard
from app.learning.pick_reasons import JudgedReason, OpenedReason
from app.learning.ranking import RankedSample
from app.monitor.live_accuracy import prediction_for, predictions_for_many
from app.project.workspace import Workspace
from app.store.errors import StoreUnavailable
from app.targeted.failure_sets import add_samples

# Team projects (see LabelingSession._claim_ahead): queues that claim, how
# many items are leased ahead, for how long, and how far a claim looks.
CLAIMING_QUEUES = frozenset({"uncertain", "random", "unlabeled", "failures"})
CLAIM_BATCH = 5
CLAIM_LEASE_S = 30 * 60.0
CLAIM_LOOKAHEAD = 50
CLAIM_TRIES = 4


class LabelingSession:
    """The annotator's position in a queue and the actions on the current sample."""

    def __init__(self, workspace: Workspace, annotator: str, *,
                 clock: Callable[[], float] = time.monotonic, source: str = "unlabeled") -> None:
        self.workspace = workspace
        self.annotator = annotator
        self.source = source
        # Labels waiting for the database server (team projects; see outbox).
        self.outbox: Outbox | None = None
        # Team projects: lease the next few items of the queue as the
        # annotator goes, and leave out those someone else holds.
        self.claiming = False
        self._clock = clock
        self.queue: list[RankedSample] = []
        self.position = 0
        self._shown_at = clock()
        # (sample id, prediction) last offered as a suggestion: Enter accepts
        # exactly what was on screen, even if new scores landed since.
        self._offered: tuple[int, dict] | None = None

    # -- queue ------------------------------------------------------------

    @property
    def current(self) -> RankedSample | None:
        return self.queue[self.position] if 0 <= self.position < len(self.queue) else None

    def set_queue(self, items: list[RankedSample], source: str,
                  keep_sample: int | None = None) -> None:
        """Show a new queue; keep ``keep_sample`` on screen if it is in it."""
        self.queue = list(items)
        self.source = source
        ids = [item.sample_id for item in self.queue]
        self.position = ids.index(keep_sample) if keep_sample in ids else 0
        self._restart_clock()
        self._claim_ahead()

    def _claim_ahead(self) -> None:
        """Lease the next :data:`CLAIM_BATCH` items from here on; drop the ones others hold.

        Only queues of unlabeled items claim.  An item before the last one
        leased here that could not be leased is someone else's (or was
        labeled meanwhile): it leaves this queue.  Offline, nothing changes.
        """
        if not self.claiming or self.source not in CLAIMING_QUEUES:
            return
        for _ in range(CLAIM_TRIES):
            window = self.queue[self.position : self.position + CLAIM_LOOKAHEAD]
            if not window:
                return
            try:
                held = self.workspace.claim_items([it.sample_id for it in window],
                                                  self.annotator, CLAIM_BATCH, CLAIM_LEASE_S)
            except StoreUnavailable:
                return
            last = max((i for i, it in enumerate(window) if it.sample_id in held),
                       default=len(window) - 1)
            gone = {it.sample_id for it in window[: last + 1] if it.sample_id not in held}
            if gone:
                self.queue = self.queue[: self.position] + [
                    it for it in self.queue[self.position :] if it.sample_id not in gone]
            if held:
                return

    def open_sample(self, sample: Sample) -> RankedSample:
        """Show ``sample`` now: where it is in the queue, else inserted at the current place.

        Inserted, not replacing the queue: after the detour the annotator
        walks on through the queue they were in.
        """
        ids = [item.sample_id for item in self.queue]
        if sample.id in ids:
            self.position = ids.index(sample.id)
        else:
            self.position = min(self.position, len(self.queue))
            self.queue.insert(self.position, RankedSample(sample.id, sample.path, 0.0,
                                                          OpenedReason()))
        self._restart_clock()
        return self.queue[self.position]

    def move(self, delta: int) -> RankedSample | None:
        if self.queue:
            self.position = max(0, min(len(self.queue) - 1, self.position + delta))
            self._restart_clock()
        return self.current

    def go_to(self, index: int) -> RankedSample | None:
        if 0 <= index < len(self.queue):
            self.position = index
            self._restart_clock()
        return self.current

    def _restart_clock(self) -> None:
        self._shown_at = self._clock()

    def seconds_on_current(self) -> float:
        return max(0.0, self._clock() - self._shown_at)

    # -- actions ----------------------------------------------------------

    def label(self, class_name: str, *, suggested: bool = False,
              prediction: dict | None = None) -> int | None:
        """Commit ``class_name`` for the current sample, then advance. Returns the row id.

        What the latest model predicted for the sample is stored with the
        label (live accuracy); ``suggested`` says the prediction was shown
        pre-selected, so a different class is a correction.  ``prediction``
        overrides the stored prediction (the suggestion that was shown).
        """
        item = self.current
        if item is None:
            return None
        try:
            check_may_label(self.workspace, self.annotator, item.sample_id)
            if prediction is None:
                prediction = prediction_for(self.workspace, item.sample_id) or {}
        except StoreUnavailable:
            if self.outbox is None:
                raise
            # Offline: the label is kept without the model's prediction; the
            # role was checked when the item was handed out (claimed).
            prediction = prediction or {}
        pending = PendingLabel(
            item.sample_id, class_name, self.annotator,
            # One key per key press: a label resent after a dropped connection
            # is stored once.
            client_key=uuid.uuid4().hex,
            seconds_spent=round(self.seconds_on_current(), 3), source=self.source,
            suggested=suggested, prediction=dict(prediction),
        )
        if self.outbox is None:
            row = pending.send(self.workspace)
        else:
            # The server may be away: the label waits in the outbox (row None)
            # and the annotator goes on.
            row = self.outbox.submit(self.workspace, pending)
        self._advance()
        return row

    def suggestion(self) -> dict | None:
        """The latest model's prediction for the current sample, offered as a suggestion.

        What it returns is remembered: :meth:`accept_suggestion` accepts that
        and nothing else.
        """
        item = self.current
        found = None if item is None else prediction_for(self.workspace, item.sample_id)
        self._offered = (item.sample_id, found) if item is not None and found else None
        return found

    def accept_suggestion(self) -> int | None:
        """Label the current sample with the suggestion offered for it (the Enter key).

        None, and nothing written, when no suggestion was offered for the
        sample now current (never a prediction the annotator did not see).
        """
        item = self.current
        if item is None or self._offered is None or self._offered[0] != item.sample_id:
            return None
        offered = self._offered[1]
        return self.label(offered["predicted_class"], suggested=True, prediction=offered)

    def skip(self) -> RankedSample | None:
        self._advance()
        return self.current

    def _advance(self) -> None:
        # Past the end the session has no current sample: "queue done".
        self.position += 1
        self._restart_clock()
        self._claim_ahead()

    def label_selected(self, sample_ids: list[int], class_name: str) -> str | None:
        """Label every sample of ``sample_ids`` with one key press: one batch, one undo step.

        The time on screen is not split among them (no ``seconds_spent``):
        the annotator looked at thumbnails, not at each sample.  The session
        then moves to the first queued sample after the last one labeled.
        Returns the batch key, or None when ``sample_ids`` is empty or the
        batch waits in the outbox (team projects while the server is away).
        A sample the annotator's role may not relabel stops the whole batch.
        """
        if not sample_ids:
            return None
        try:
            self._check_may_label_all(sample_ids)
            predictions = self._predictions_of(sample_ids)
        except StoreUnavailable:
            if self.outbox is None:
                raise
            # Offline: kept without the model's predictions; roles were
            # checked when the items were handed out (claimed).
            predictions = {}
        if self.outbox is None:
            batch = self.workspace.label_many(sample_ids, class_name, self.annotator,
                                              source=self.source, predictions=predictions)
        else:
            batch = uuid.uuid4().hex  # one key per key press: a resent batch is stored once
            pending = PendingBatch(list(sample_ids), class_name, self.annotator, batch,
                                   source=self.source,
                                   predictions={str(k): v for k, v in predictions.items()})
            if self.outbox.submit(self.workspace, pending) is None:
                batch = None
        labeled = set(sample_ids)
        positions = [i for i, item in enumerate(self.queue) if item.sample_id in labeled]
        if positions and self.position in positions:
            self.position = max(positions) + 1
        self._restart_clock()
        return batch

    def _check_may_label_all(self, sample_ids: list[int]) -> None:
        refusal = relabel_guard(self.workspace, self.annotator)
        if refusal is None:
            return
        for sid in sample_ids:
            if (why := refusal(sid)) is not None:
                raise WorkspaceError(f"sample {sid} is {why}; nothing of the batch was written")

    def _predictions_of(self, sample_ids: list[int]) -> dict[int, dict]:
        """What the latest model said of each sample, in one look-up (Ctrl+A may select
        every sample of a queue)."""
        version = self.workspace.latest_model()
        classes, confidences = predictions_for_many(self.workspace, list(sample_ids))
        return {
            sid: {"predicted_class": name, "predicted_confidence": float(confidence),
                  "model_version_id": version.id}
            for sid, name, confidence in zip(sample_ids, classes, confidences.tolist(),
                                             strict=True) if name is not None}

    def review(self, verdict: str, sample_ids: list[int] | None = None,
               note: str | None = None) -> list[Verdict]:
        """Accept or reject the label of ``sample_ids`` (default: the current sample).

        Moves on past the last sample judged, as a label does; a rejected
        item is unlabeled again and leaves the labeled queues when rebuilt.
        """
        if sample_ids is None:
            sample_ids = [] if self.current is None else [self.current.sample_id]
        if not sample_ids:
            return []
        judged = set(sample_ids)
        positions = [i for i, item in enumerate(self.queue) if item.sample_id in judged]
        # Read before judging (a rejection unlabels), and only for what the queue shows.
        labels_before = {self.queue[i].sample_id: self.workspace.current_label(
            self.queue[i].sample_id) for i in positions}
        verdicts = judge(self.workspace, sample_ids, self.annotator, verdict, note)
        for i in positions:  # the queue now says what was decided, not "not reviewed yet"
            item = self.queue[i]
            label = labels_before.get(item.sample_id)
            labeled_by = getattr(item.reason, "annotator", None)
            self.queue[i] = replace(item, reason=JudgedReason(label, labeled_by, verdict,
                                                              self.annotator))
        if positions and self.position in positions:
            self.position = max(positions) + 1
        self._restart_clock()
        return verdicts

    def undo(self) -> list[Annotation]:
        """Undo the annotator's last step (a label, or a batch) and go back to its first sample.

        Returns the undone annotations; empty when there was nothing to undo.
        """
        undone = self.workspace.undo_last_step(self.annotator)
        ids = [item.sample_id for item in self.queue]
        for annotation in undone:
            if annotation.sample_id in ids:
                self.position = ids.index(annotation.sample_id)
                self._restart_clock()
                break
        return undone

    def mark_failure(self, failure_set: str) -> bool:
        """Put the current sample into ``failure_set``; False if it was there already."""
        item = self.current
        if item is None:
            return False
        return add_samples(self.workspace, failure_set, [item.sample_id]).added == 1


def acceptance_rate(workspace: Workspace) -> dict[str, float | int | None]:
    """How often annotators accepted the pre-selected suggestion.

    Counts labels given in suggestion mode that still stand (undone ones
    and undo rows are left out); ``rate`` is None before the first one.
    """
    rows = workspace.annotations_with_predictions()
    undone = {a.undoes_id for a, *_ in rows if a.undoes_id is not None}
    shown = accepted = 0
    for annotation, predicted, _confidence, _version in rows:
        if not annotation.suggested or annotation.id in undone or annotation.undoes_id:
            continue
        shown += 1
        accepted += int(annotation.class_name == predicted)
    return {"suggested": shown, "accepted": accepted,
            "corrected": shown - accepted, "rate": accepted / shown if shown else None}


def find_by_id_or_name(workspace: Workspace, text: str) -> Sample:
    """The sample ``text`` names: an id, a stored path, a file's path, or just a file name.

    Raises
    ------
    WorkspaceError
        Nothing matches, or a bare file name matches several samples (their
        paths are listed, so the annotator can type one of them).
    """
    text = text.strip()
    try:
        return workspace.find_sample(text)
    except WorkspaceError:
        if not text or "/" in text or os.sep in text:
            raise
    matches = workspace.samples_named(text)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise WorkspaceError(f"no sample with id, path or file name {text!r}")
    shown = ", ".join(s.path for s in matches[:5]) + (" …" if len(matches) > 5 else "")
    raise WorkspaceError(f"{len(matches)} samples are named {text!r}: {shown}; type the path")
