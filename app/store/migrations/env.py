"""Alembic's environment for a Labelloop project database.

Labelloop runs the migrations itself when it opens a project
(:func:`app.store.migrate.upgrade`), on the connection it already holds and
inside the write transaction it already began, so the whole upgrade commits
or rolls back as one.  That connection arrives through
``config.attributes["connection"]``; there is no alembic.ini and no URL here.
"""

from __future__ import annotations

from alembic import context

from app.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Labelloop migrations run from app.store.migrate with an open connection")

context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
