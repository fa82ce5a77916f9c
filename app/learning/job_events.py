"""The events a job process prints, one JSON object per line: one schema for both readers.

The worker (:mod:`app.learning.job_worker`) emits these; ``labelloop train``
and the window read them back through :func:`parse_event_line`. On the wire
each is ``{"event": NAME, field: value, ...}``, exactly what ``train --json``
prints:

========== ==================================================================
``plan``     a training job's plan, before its first epoch (:class:`TrainingPlan`)
``progress`` one epoch of training (:class:`EpochProgress`), a share of the
             pool scored (:class:`ScoringProgress`) or one epoch of
             pretraining (:class:`PretrainProgress`)
``done``     the outcome (:class:`TrainingDone`, :class:`ScoringDone`,
             :class:`PretrainDone`)
``error``    the job failed (:class:`JobFailed`)
``cancelled`` the job was cancelled (:class:`JobCancelled`)
========== ==================================================================

Readers never crash on a line: text that is not JSON (a library printing to
stdout) comes back as :class:`JobOutput`, and JSON this schema does not know
(a newer worker, a damaged line) as :class:`UnreadableEvent` naming the
problem, for the reader to report. Extra fields are ignored, so a worker may
add some without breaking older readers.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


class EventFormatError(ValueError):
    """Fields that do not make the named event."""


@dataclass(frozen=True)
class _Event:
    name: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """``{"event": name, **fields}``; optional fields left at None are omitted."""
        out: dict[str, Any] = {"event": self.name}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value is None and item.default is None:
                continue
            out[item.name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_line(self) -> str:
        """The event as one line of JSON (no newline)."""
        return json.dumps(self.to_json())

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> typing.Self:
        """Build the event from decoded JSON fields (``"event"`` and extra keys ignored).

        Raises
        ------
        EventFormatError
            A required field is missing or a value has the wrong type.
        """
        hints = typing.get_type_hints(cls)
        values = {}
        for item in dataclasses.fields(cls):
            if item.name not in fields:
                if item.default is dataclasses.MISSING:
                    raise EventFormatError(f"{cls.name} event without {item.name!r}")
                continue
            values[item.name] = _checked(cls.name, item.name, fields[item.name], hints[item.name])
        return cls(**values)


def _checked(event: str, name: str, value: Any, hint: Any) -> Any:
    """``value`` if it is a JSON value of type ``hint`` (tuples arrive as lists)."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        origin = typing.get_origin(option)
        if option is type(None) and value is None:
            return None
        if origin is tuple and isinstance(value, list) \
                and all(isinstance(v, str) for v in value):
            return tuple(value)
        if origin is dict and isinstance(value, dict):
            return value
        if option is bool and isinstance(value, bool):
            return value
        if option in (int, float) and isinstance(value, int | float) \
                and not isinstance(value, bool) and (option is float or isinstance(value, int)):
            return option(value)
        if option is str and isinstance(value, str):
            return value
    raise EventFormatError(f"{event} event: {name}={value!r} is not {hint}")


@dataclass(frozen=True)
class TrainingPlan(_Event):
    """What a training run will really do (raised epochs, early stopping), said up front."""

    name: ClassVar[str] = "plan"
    epochs: int
    total_steps: int
    n_train: int
    n_val: int
    early_stopping: bool
    min_steps_epoch: int
    plan: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EpochProgress(_Event):
    """One finished training epoch (``val_*`` None without a validation split)."""

    name: ClassVar[str] = "progress"
    epoch: int
    epochs: int
    loss: float
    val_loss: float | None
    val_accuracy: float | None
    fraction_done: float
    seconds: float


@dataclass(frozen=True)
class ScoringProgress(_Event):
    """``done`` of ``total`` pool samples scored."""

    name: ClassVar[str] = "progress"
    done: int
    total: int
    fraction_done: float


@dataclass(frozen=True)
class PretrainProgress(_Event):
    """One epoch of self-supervised pretraining (``steps`` of ``total_steps`` taken)."""

    name: ClassVar[str] = "progress"
    epoch: int
    epochs: int
    loss: float
    steps: int
    total_steps: int
    fraction_done: float
    seconds: float


@dataclass(frozen=True)
class TrainingDone(_Event):
    """A training job registered model version ``model_version``."""

    name: ClassVar[str] = "done"
    model_version: int
    metrics: dict[str, Any]
    notes: tuple[str, ...]
    epochs_run: int
    stopped_early: bool


@dataclass(frozen=True)
class ScoringDone(_Event):
    """A scoring job cached the scores of ``scored`` samples for ``model_version``."""

    name: ClassVar[str] = "done"
    model_version: int
    scored: int


@dataclass(frozen=True)
class PretrainDone(_Event):
    """A pretraining job registered backbone ``backbone``."""

    name: ClassVar[str] = "done"
    backbone: int
    n_images: int
    steps_run: int
    epochs_run: int
    duration_s: float
    device: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobFailed(_Event):
    """The job failed; ``message`` says why (the full story is in the job's log)."""

    name: ClassVar[str] = "error"
    message: str


@dataclass(frozen=True)
class JobCancelled(_Event):
    """The job was cancelled (or was no longer queued when its process started)."""

    name: ClassVar[str] = "cancelled"
    message: str | None = None


@dataclass(frozen=True)
class JobOutput(_Event):
    """A line of the job's stdout that is not an event (a library printing)."""

    name: ClassVar[str] = "log"
    message: str


@dataclass(frozen=True)
class UnreadableEvent:
    """A JSON line this schema cannot read: reported by readers, never acted on."""

    line: str
    problem: str


JobEvent = (TrainingPlan | EpochProgress | ScoringProgress | PretrainProgress | TrainingDone
            | ScoringDone | PretrainDone | JobFailed | JobCancelled | JobOutput)
FinalEvent = TrainingDone | ScoringDone | PretrainDone | JobFailed | JobCancelled

# Event name -> the types that share it, tried in order: each is told apart by
# its required fields ("val_loss" vs "done" vs "steps"; "metrics" vs "scored"
# vs "backbone").
EVENT_TYPES: Mapping[str, tuple[type[_Event], ...]] = types.MappingProxyType({
    "plan": (TrainingPlan,),
    "progress": (EpochProgress, ScoringProgress, PretrainProgress),
    "done": (TrainingDone, ScoringDone, PretrainDone),
    "error": (JobFailed,),
    "cancelled": (JobCancelled,),
    "log": (JobOutput,),
})


def event_from_fields(fields: Mapping[str, Any]) -> JobEvent:
    """The typed event for decoded JSON ``fields`` (with their ``"event"`` name).

    Raises
    ------
    EventFormatError
        An unknown event name, or fields that fit none of the name's types.
    """
    name = fields.get("event")
    candidates = EVENT_TYPES.get(name) if isinstance(name, str) else None
    if not candidates:
        raise EventFormatError(f"unknown event {name!r}; known: {', '.join(EVENT_TYPES)}")
    problems = []
    for kind in candidates:
        try:
            return kind.from_fields(fields)  # type: ignore[return-value]
        except EventFormatError as exc:
            problems.append(str(exc))
    raise EventFormatError("; ".join(problems))


def parse_event_line(line: str) -> JobEvent | UnreadableEvent | None:
    """Read one line of a job's stdout; never raises.

    Returns
    -------
    JobEvent, UnreadableEvent or None
        None for a blank line; :class:`JobOutput` for text that is not JSON;
        :class:`UnreadableEvent` for JSON that is no known event.
    """
    text = line.strip()
    if not text:
        return None
    try:
        fields = json.loads(text)
    except ValueError:
        return JobOutput(text)
    if not isinstance(fields, dict):
        return UnreadableEvent(text, "not a JSON object")
    try:
        return event_from_fields(fields)
    except EventFormatError as exc:
        return UnreadableEvent(text, str(exc))
