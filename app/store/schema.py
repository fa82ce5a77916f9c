"""The SQLite schema of a Labelloop project and its forward migrations.

Each entry of ``MIGRATIONS`` moves the database from version ``i`` to
``i + 1``; opening a project runs the ones it has not seen yet, inside one
transaction each, so an older project is carried forward without losing
rows.  Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first schema.
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE classes (
        id       INTEGER PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        position INTEGER NOT NULL,
        archived INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE import_batches (
        id         INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        sources    TEXT NOT NULL,
        added      INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        failed     INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE samples (
        id          INTEGER PRIMARY KEY,
        path        TEXT NOT NULL UNIQUE,
        sha256      TEXT NOT NULL UNIQUE,
        width       INTEGER NOT NULL,
        height      INTEGER NOT NULL,
        phash       INTEGER NOT NULL,
        imported_at TEXT NOT NULL,
        batch_id    INTEGER NOT NULL REFERENCES import_batches(id)
    );
    CREATE INDEX samples_batch ON samples(batch_id);
    CREATE TABLE annotations (
        id                   INTEGER PRIMARY KEY,
        sample_id            INTEGER NOT NULL REFERENCES samples(id),
        class_id             INTEGER REFERENCES classes(id),
        annotator            TEXT NOT NULL,
        created_at           TEXT NOT NULL,
        seconds_spent        REAL,
        source               TEXT NOT NULL DEFAULT 'manual',
        undoes_id            INTEGER REFERENCES annotations(id),
        predicted_class_id   INTEGER REFERENCES classes(id),
        predicted_confidence REAL,
        model_version_id     INTEGER REFERENCES model_versions(id)
    );
    CREATE INDEX annotations_sample ON annotations(sample_id, id);
    CREATE INDEX annotations_annotator ON annotations(annotator, id);
    CREATE TABLE failure_sets (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE failure_items (
        id             INTEGER PRIMARY KEY,
        failure_set_id INTEGER NOT NULL REFERENCES failure_sets(id) ON DELETE CASCADE,
        sample_id      INTEGER REFERENCES samples(id),
        path           TEXT,
        sha256         TEXT NOT NULL,
        phash          INTEGER NOT NULL,
        added_at       TEXT NOT NULL,
        UNIQUE (failure_set_id, sha256)
    );
    CREATE TABLE model_versions (
        id                  INTEGER PRIMARY KEY,
        created_at          TEXT NOT NULL,
        creator             TEXT NOT NULL,
        arch                TEXT NOT NULL,
        input_shape         TEXT NOT NULL,
        classes             TEXT NOT NULL,
        seed                INTEGER NOT NULL,
        hyperparameters     TEXT NOT NULL,
        torch_version       TEXT NOT NULL,
        torchvision_version TEXT NOT NULL,
        checkpoint_path     TEXT NOT NULL,
        checkpoint_sha256   TEXT NOT NULL,
        data_version        TEXT NOT NULL,
        n_train             INTEGER NOT NULL,
        n_labels            INTEGER NOT NULL,
        metrics             TEXT NOT NULL,
        parent_id           INTEGER REFERENCES model_versions(id),
        duration_s          REAL NOT NULL,
        deleted_at          TEXT
    );
    CREATE TABLE evaluations (
        id               INTEGER PRIMARY KEY,
        model_version_id INTEGER NOT NULL REFERENCES model_versions(id),
        test_set         TEXT NOT NULL,
        created_at       TEXT NOT NULL,
        n                INTEGER NOT NULL,
        metrics          TEXT NOT NULL
    );
    CREATE TABLE jobs (
        id               INTEGER PRIMARY KEY,
        kind             TEXT NOT NULL,
        status           TEXT NOT NULL,
        pid              INTEGER,
        created_at       TEXT NOT NULL,
        finished_at      TEXT,
        params           TEXT NOT NULL,
        progress         TEXT,
        error            TEXT,
        model_version_id INTEGER REFERENCES model_versions(id)
    );
    """,
    # 1 -> 2: labels given in suggestion mode (the model's class pre-selected,
    # Enter accepts) are marked, so the acceptance rate can be measured.
    """
    ALTER TABLE annotations ADD COLUMN suggested INTEGER NOT NULL DEFAULT 0
    """,
    # 2 -> 3: a job row names its process by PID *and* identity (boot id and
    # start time), so a PID reused after a crash or a reboot is not taken for
    # the job; without it one stale row blocked every later `train`.
    """
    ALTER TABLE jobs ADD COLUMN process_identity TEXT
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
