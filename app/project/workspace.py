"""The project on disk: one object that the CLI, the GUI and the tests all use.

A project is a folder::

    PROJECT/
        labelloop.sqlite   every sample, label, model version and job
                           (or database.json: the PostgreSQL database holding them)
        local.json         this desktop's own settings (the media root)
        cache/             thumbnails, scores, similarity indexes
        models/            checkpoints (state_dicts)
        exports/           default home for exported datasets
        failures/          copies of failure images from outside the pool
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from app.domain.class_keys import CLASS_KEYS
from app.domain.class_names import class_name_problem
from app.domain.dataset_version import dataset_version
from app.domain.errors import WorkspaceError
from app.domain.records import Annotation, ClassInfo, ModelVersion, Sample
from app.project.class_styles import SETTING as STYLES_SETTING
from app.project.class_styles import ClassStyle, check_colour, dump_styles, parse_styles
from app.project.project_files import (
    DATABASE_POINTER,
    read_database_url,
    read_local_settings,
    write_database_url,
    write_local_setting,
)
from app.project.records import WorkspaceRecords
from app.store.backend import SqlStore, open_store, sqlite_url
from app.store.errors import MissingReference, StoreError
from app.store.postgres_engine import url_without_password

DB_NAME = "labelloop.sqlite"
# A database setting: the checkpoint folder, relative to the media root, that
# every member of a team project shares.
MODELS_LOCATION = "models_location"
SUBFOLDERS = ("cache", "models", "exports", "failures")


def check_class_name(name: str) -> str:
    """``name`` if it may be a class name (see :mod:`app.domain.class_names`), else WorkspaceError."""
    problem = class_name_problem(name)
    if problem is not None:
        shown = name if len(name) <= 40 else name[:40] + "..."
        raise WorkspaceError(f"class name {shown!r} {problem}")
    return name


def parse_class_names(text: str) -> list[str]:
    """Split ``"a,b,c"`` into class names, rejecting empty, invalid and repeated ones."""
    names = [part.strip() for part in text.split(",")]
    if not names or any(not n for n in names):
        raise WorkspaceError(f"class list {text!r} has an empty name")
    for name in names:
        check_class_name(name)
    repeated = sorted(n for n, c in Counter(names).items() if c > 1)
    if repeated:
        raise WorkspaceError(f"class list repeats: {', '.join(repeated)}")
    return names


def _os_reason(exc: OSError) -> str:
    if exc.filename and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc)


def _remove_created(paths: list[Path]) -> None:
    """Undo a failed :meth:`Workspace.init`: remove what it made, newest first."""
    for path in reversed(paths):
        if path.name == DATABASE_POINTER:
            path.unlink(missing_ok=True)
            continue
        if path.name == DB_NAME:
            for suffix in ("", "-wal", "-shm", "-journal"):
                try:
                    path.with_name(path.name + suffix).unlink(missing_ok=True)
                except OSError:
                    pass
            continue
        try:
            path.rmdir()  # only if still empty: never a user's file
        except OSError:
            pass


class Workspace(WorkspaceRecords):
    """An open Labelloop project.  Use :meth:`init` or :meth:`open`, then close it.

    It implements :class:`app.store.repository.ProjectRepository` over its
    backend ``store``, the one object below it that speaks SQL.
    """

    def __init__(self, root: Path, store: SqlStore) -> None:
        self.root = root
        self.store = store
        self._media_root: Path | None = None

    # -- lifecycle --------------------------------------------------------

    @classmethod
    def init(cls, root: str | os.PathLike[str], classes: Iterable[str], *,
             database: str | None = None) -> Workspace:
        """Create a project folder with its database and the given classes.

        ``database`` is a ``postgresql://USER@HOST:PORT/DB`` URL of an empty
        database for a team's project; by default the records live in
        ``labelloop.sqlite`` in the folder.  A PostgreSQL project keeps its
        checkpoints in the shared ``models/`` under the media root, named in
        the database.

        If any step fails (no permission, a full disk, ``/proc``), what this
        call created is removed again, so no half project is left behind.
        """
        root = Path(root).resolve()
        class_list = [check_class_name(name) for name in classes]
        if not class_list:
            raise WorkspaceError("a project needs at least one class")
        if (root / DB_NAME).exists() or (root / DATABASE_POINTER).exists():
            raise WorkspaceError(f"{root}: a Labelloop project already exists here")
        if root.exists() and not root.is_dir():
            raise WorkspaceError(f"{root}: exists and is not a folder")
        created: list[Path] = []
        try:
            for folder in (root, *(root / name for name in SUBFOLDERS)):
                if not folder.exists():
                    folder.mkdir(parents=folder == root)
                    created.append(folder)
                elif not folder.is_dir():
                    raise WorkspaceError(f"{folder}: exists and is not a folder")
            if database is None:
                created.append(root / DB_NAME)
                store = open_store(sqlite_url(root / DB_NAME), create=True)
            else:
                store = open_store(database, create=True)
            try:
                store.add_classes(class_list)
                if database is not None:
                    store.set_setting(MODELS_LOCATION, "models")
                    created.append(root / DATABASE_POINTER)
                    write_database_url(root, url_without_password(database))
            except BaseException:
                store.close()
                raise
        except BaseException as exc:
            _remove_created(created)
            if isinstance(exc, StoreError):
                raise WorkspaceError(str(exc)) from exc
            if isinstance(exc, OSError):
                raise WorkspaceError(f"cannot create a project at {root}: {_os_reason(exc)}") \
                    from exc
            raise
        return cls(root, store)

    @classmethod
    def open(cls, root: str | os.PathLike[str], *, read_only: bool | None = None) -> Workspace:
        """Open an existing project (migrating its schema forward if it is older).

        Parameters
        ----------
        root : path
            The project folder.
        read_only : bool, optional
            Open the database with SQLite's ``mode=ro``.  By default a project
            whose folder or database cannot be written (read-only media,
            permissions) is opened read-only, so reading commands still work
            there and writing ones fail with a clear message.
        """
        root = Path(root).resolve()
        db = root / DB_NAME
        url = None if db.is_file() else read_database_url(root)
        if url is not None:
            try:
                return cls(root, open_store(url, read_only=bool(read_only)))
            except StoreError as exc:
                raise WorkspaceError(str(exc)) from exc
        if not db.is_file():
            raise WorkspaceError(
                f"{root}: not a Labelloop project (no {DB_NAME}); create one with "
                "`labelloop init`"
            )
        if read_only is None:
            read_only = not (os.access(root, os.W_OK) and os.access(db, os.W_OK))
        if not read_only:
            try:
                for name in SUBFOLDERS:
                    (root / name).mkdir(exist_ok=True)
            except OSError as exc:
                raise WorkspaceError(f"{root}: cannot open the project: {_os_reason(exc)}") \
                    from exc
        try:
            return cls(root, open_store(sqlite_url(db), read_only=read_only))
        except StoreError as exc:
            raise WorkspaceError(str(exc)) from exc

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- folders and paths ------------------------------------------------

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def models_dir(self) -> Path:
        """Where checkpoints go: the shared folder the database names (under the
        media root), else the project's own ``models/``."""
        shared = self.setting(MODELS_LOCATION)
        return self.media_root / shared if shared else self.root / "models"

    @property
    def media_root(self) -> Path:
        """Where this desktop sees the project's files; stored paths are relative to it.

        Set per desktop (``labelloop config PROJECT --media-root DIR``), so a
        team on a shared drive mounted at different places shares one set of
        paths.  Without one it is the project folder, as it always was.
        """
        if self._media_root is None:
            # Read once: resolve() runs for every file of an export or a scoring pass.
            configured = read_local_settings(self.root).get("media_root")
            self._media_root = Path(configured) if configured else self.root
        return self._media_root

    def set_media_root(self, folder: str | os.PathLike[str] | None) -> Path:
        """Map the media root to ``folder`` on this desktop (None: the project folder)."""
        if folder is not None:
            resolved = Path(folder).resolve()
            if not resolved.is_dir():
                raise WorkspaceError(f"{resolved}: media root is not a folder")
        write_local_setting(self.root, "media_root",
                            None if folder is None else str(resolved))
        self._media_root = None
        return self.media_root

    def set_reconnect_window(self, seconds: float) -> None:
        """How long a lost database server is retried before a request fails."""
        self.store.reconnect_window_s = seconds

    @property
    def database_kind(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.store.dialect

    @property
    def database_location(self) -> str:
        """Where the records are: the SQLite file, or the server's URL (no password)."""
        return self.store.location

    def copy_records_to(self, url: str) -> tuple[dict[str, int], str]:
        """Copy every record into the empty database ``url`` (ids kept, counts checked).

        Returns the rows copied per table and the dataset version the copy
        reports, read back from the target.  See :mod:`app.project.move_to_server`.
        """
        from app.store.transfer import copy_records

        try:
            target = open_store(url, create=True)
        except StoreError as exc:
            raise WorkspaceError(str(exc)) from exc
        try:
            rows = copy_records(self.store, target)
            return rows, Workspace(self.root, target).dataset_version()
        except StoreError as exc:
            raise WorkspaceError(str(exc)) from exc
        finally:
            target.close()

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def failures_dir(self) -> Path:
        return self.root / "failures"

    def stored_path(self, path: str | os.PathLike[str]) -> str:
        """How a file is recorded: relative to the media root when inside it, else absolute."""
        absolute = Path(os.path.abspath(path))
        try:
            return absolute.relative_to(self.media_root).as_posix()
        except ValueError:
            return str(absolute)

    def resolve(self, stored: str) -> Path:
        """The file a stored path refers to (relative paths: from the media root)."""
        path = Path(stored)
        return path if path.is_absolute() else self.media_root / path

    # -- classes ----------------------------------------------------------

    def classes(self) -> list[str]:
        return [c.name for c in self.store.list_classes()]

    def class_infos(self) -> list[ClassInfo]:
        return self.store.list_classes()

    def add_classes(self, names: Iterable[str]) -> None:
        self._store_call(self.store.add_classes, [check_class_name(n) for n in names])

    def rename_class(self, old: str, new: str) -> None:
        self._store_call(self.store.rename_class, old, check_class_name(new))

    def remove_class(self, name: str) -> None:
        self._store_call(self.store.remove_class, name)
        self._forget_style_of_removed()

    def move_class(self, name: str, position: int) -> None:
        """Put class ``name`` at ``position`` (0 = first; clipped to the ends)."""
        names = self.classes()
        if name not in names:
            raise WorkspaceError(f"no class named {name!r}")
        names.remove(name)
        names.insert(max(0, min(position, len(names))), name)
        self._store_call(self.store.set_class_order, names)

    def class_styles(self) -> dict[str, ClassStyle]:
        """``{class name: ClassStyle}`` for every active class (unstyled ones included)."""
        stored = parse_styles(self.setting(STYLES_SETTING))
        return {c.name: stored.get(c.id, ClassStyle()) for c in self.store.list_classes()}

    def set_class_colour(self, name: str, colour: str | None) -> None:
        """Give class ``name`` a colour (``#rrggbb``), or take it away (None)."""
        self._set_style(name, colour=None if colour is None else check_colour(colour))

    def set_class_key(self, name: str, key: str | None) -> None:
        """Make ``key`` label class ``name`` (None: the next free key).

        Refused for a key no class may have (those of skip, undo, the view)
        and for a key another class has chosen.
        """
        if key is not None:
            key = key.strip().lower()
            if key not in CLASS_KEYS:
                raise WorkspaceError(f"{key!r} cannot label a class; keys a class may have: "
                                     f"{' '.join(CLASS_KEYS)}")
            taken = {other: style.key for other, style in self.class_styles().items()
                     if other != name and style.key == key}
            if taken:
                raise WorkspaceError(f"key {key!r} already labels class {next(iter(taken))!r}")
        self._set_style(name, key=key)

    def _set_style(self, name: str, **change: str | None) -> None:
        class_id = self._class_id(name)
        stored = parse_styles(self.setting(STYLES_SETTING))
        current = stored.get(class_id, ClassStyle())
        stored[class_id] = replace(current, **change)
        self.set_setting(STYLES_SETTING, dump_styles(stored))

    def _forget_style_of_removed(self) -> None:
        stored = parse_styles(self.setting(STYLES_SETTING))
        active = {c.id for c in self.store.list_classes()}
        if set(stored) - active:
            self.set_setting(STYLES_SETTING, dump_styles(
                {cid: style for cid, style in stored.items() if cid in active}))

    def _class_id(self, name: str) -> int:
        info = self.store.class_by_name(name)
        if info is None:
            raise WorkspaceError(
                f"unknown class {name!r}; the project's classes are: {', '.join(self.classes())}"
            )
        return info.id

    # -- samples ----------------------------------------------------------

    def sample_count(self) -> int:
        return self.store.count_samples()

    def samples(self, ids: list[int] | None = None) -> list[Sample]:
        return self.store.list_samples(ids)

    def sample(self, sample_id: int) -> Sample:
        found = self.store.get_sample(sample_id)
        if found is None:
            raise WorkspaceError(f"no sample with id {sample_id}")
        return found

    def find_sample(self, id_or_path: str) -> Sample:
        """A sample by id, stored path, or a path to the file itself."""
        if id_or_path.isdigit():
            return self.sample(int(id_or_path))
        for candidate in (id_or_path, self.stored_path(id_or_path)):
            found = self.store.sample_by_path(candidate)
            if found is not None:
                return found
        raise WorkspaceError(f"no sample with id or path {id_or_path!r} in {self.root}")

    # -- labels -----------------------------------------------------------

    def label(
        self,
        sample_id: int,
        class_name: str | None,
        annotator: str,
        *,
        seconds_spent: float | None = None,
        source: str = "manual",
        predicted_class: str | None = None,
        predicted_confidence: float | None = None,
        model_version_id: int | None = None,
        suggested: bool = False,
        client_key: str | None = None,
    ) -> int:
        """Record one label (``None`` = unlabeled again), committed before returning.

        ``predicted_*`` is what the current model said before the annotator
        answered (for live accuracy); ``suggested`` marks a label given while
        that prediction was shown pre-selected.  ``client_key`` (one per key
        press, e.g. a uuid4) makes the label idempotent: sent again after a
        lost connection, it is stored once (see ``SqlStore.add_annotation``).
        """
        try:
            return self.store.add_named_annotation(
                sample_id, class_name, annotator, seconds_spent, source,
                predicted_class=predicted_class, predicted_confidence=predicted_confidence,
                model_version_id=model_version_id, suggested=suggested, client_key=client_key,
            )
        except MissingReference as exc:
            if exc.kind == "sample":
                raise WorkspaceError(f"no sample with id {sample_id}") from None
            raise WorkspaceError(
                f"unknown class {exc.value!r}; the project's classes are: "
                f"{', '.join(self.classes())}") from None

    def label_many(
        self,
        sample_ids: list[int],
        class_name: str | None,
        annotator: str,
        *,
        source: str = "manual",
        predictions: dict[int, dict[str, Any]] | None = None,
        batch_key: str | None = None,
    ) -> str:
        """Label several samples with one class (None: unlabel) in one transaction.

        The rows share a batch key (returned), so :meth:`undo_last_step`
        takes the whole batch back at once.  ``predictions``: ``{sample_id: {"predicted_class",
        "predicted_confidence", "model_version_id"}}`` as :meth:`label` takes them.
        ``batch_key`` (one per key press) makes the batch idempotent, as
        ``client_key`` does a single label: sent again, it is stored once.
        """
        if not sample_ids:
            raise WorkspaceError("no samples to label")
        class_id = None if class_name is None else self._class_id(class_name)
        known = {s.id for s in self.samples(list(sample_ids))}
        missing = [sid for sid in sample_ids if sid not in known]
        if missing:
            raise WorkspaceError(f"no sample with id {missing[0]}")
        rows = []
        for sid in dict.fromkeys(sample_ids):  # each sample once, in the order given
            found = (predictions or {}).get(sid) or {}
            predicted = found.get("predicted_class")
            rows.append({
                "sample_id": sid, "class_id": class_id,
                "predicted_class_id": None if predicted is None else self._class_id(predicted),
                "predicted_confidence": found.get("predicted_confidence"),
                "model_version_id": found.get("model_version_id"),
            })
        batch = batch_key or uuid.uuid4().hex
        self.store.add_label_batch(rows, annotator, source, batch, keyed=batch_key is not None)
        return batch

    def undo_last(self, annotator: str) -> Annotation | None:
        """Undo the annotator's newest label by appending a row that restores the old one.

        Returns the annotation that was undone, or ``None`` if there is nothing
        left to undo.  History stays append-only: repeated undos walk back
        through the annotator's labels one by one.
        """
        last = self.store.last_undoable_annotation(annotator)
        if last is None:
            return None
        self.store.add_annotation(
            last.sample_id, self._restored_class_id(last), annotator, None, "undo",
            undoes_id=last.id,
        )
        return last

    def undo_last_step(self, annotator: str) -> list[Annotation]:
        """Undo the annotator's last step: one label, or every label of a batch given at once.

        Returns the undone annotations (empty when there is nothing to undo);
        a batch's undo rows are written in one transaction.
        """
        last = self.store.last_undoable_annotation(annotator)
        if last is None:
            return []
        if last.label_batch is None:
            undone = self.undo_last(annotator)
            return [] if undone is None else [undone]
        labels = self.store.undoable_batch(annotator, last.label_batch)
        rows = [{"sample_id": a.sample_id, "class_id": self._restored_class_id(a),
                 "undoes_id": a.id} for a in labels]
        self.store.add_label_batch(rows, annotator, "undo", last.label_batch)
        return labels

    def _restored_class_id(self, last: Annotation) -> int | None:
        """The class an undo of ``last`` leaves its sample with."""
        history = self.store.annotation_history(last.sample_id)
        undone = {a.undoes_id for a in history if a.undoes_id is not None}
        # Labels given after ours and still standing (neither undos nor undone).
        standing_after = [
            a for a in history if a.id > last.id and a.undoes_id is None and a.id not in undone
        ]
        if not standing_after:
            return self.store.previous_class_id(last.sample_id, last.id)
        # Someone labeled the sample since: keep their label, only mark ours undone.
        return self.store.current_labels().get(last.sample_id)

    def current_labels(self) -> dict[int, str]:
        """``{sample_id: class name}`` of every labeled sample."""
        names = {c.id: c.name for c in self.store.list_classes()}
        return {
            sid: names[cid] for sid, cid in self.store.current_labels().items() if cid in names
        }

    def current_label(self, sample_id: int) -> str | None:
        """The sample's class now (None: unlabeled), from its own history only.

        For one sample on screen: :meth:`current_labels` reads every label.
        """
        rows = self.history(sample_id)
        return rows[-1].class_name if rows else None

    def history(self, sample_id: int) -> list[Annotation]:
        return self.store.annotation_history(sample_id)

    def labeled_samples(self) -> list[tuple[Sample, str]]:
        """Every labeled sample with its class, in sample-id order."""
        labels = self.current_labels()
        return [(s, labels[s.id]) for s in self.store.list_samples(sorted(labels))]

    def dataset_version(self) -> str:
        return dataset_version((s.sha256, label) for s, label in self.labeled_samples())

    # -- models -----------------------------------------------------------

    def model_versions(self, *, include_deleted: bool = False) -> list[ModelVersion]:
        return self.store.list_model_versions(include_deleted=include_deleted)

    def latest_model(self) -> ModelVersion | None:
        """The newest version not deleted (one row: the GUI asks on every key press)."""
        return self.store.latest_model_version()

    def model_version(self, version_id: int) -> ModelVersion:
        found = self.store.get_model_version(version_id)
        if found is None or found.deleted_at is not None:
            raise WorkspaceError(f"no model version {version_id} in {self.root}")
        return found

    # -- summary ----------------------------------------------------------

    def status(self, sample_count: int | None = None) -> dict[str, Any]:
        """Counts for ``labelloop status`` and the GUI's status bar.

        ``sample_count``: the pool's size when the caller knows it (a key
        press changes labels, not the pool; counting a million rows cost the
        window 7 ms a press).
        """
        labels = self.current_labels()
        per_class = {name: 0 for name in self.classes()}
        for name in labels.values():
            per_class[name] = per_class.get(name, 0) + 1
        total = self.sample_count() if sample_count is None else sample_count
        latest = self.latest_model()
        return {
            "samples": total,
            "labeled": len(labels),
            "unlabeled": total - len(labels),
            "per_class": per_class,
            "latest_model": latest.id if latest else None,
            "per_annotator": self.labeled_per_annotator(),
        }

    # -- settings ---------------------------------------------------------

    def setting(self, key: str, default: str | None = None) -> str | None:
        value = self.store.get_setting(key)
        return default if value is None else value

    def set_setting(self, key: str, value: str) -> None:
        self.store.set_setting(key, value)

    @staticmethod
    def _store_call(func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except StoreError as exc:
            raise WorkspaceError(str(exc)) from exc
