"""Persistence: the SQL backend, its schema and migrations.  Nothing outside this package touches SQL.

``repository``     the typed interface (a Protocol) the workspace implements
``backend``        ``SqlStore``: every query, in SQLAlchemy Core
``tables``         the tables, declared once
``migrate``        where a file stands in its schema history; upgrading it
``migrations/``    the Alembic revisions 0001.. (revision 000N = schema version N)
``sqlite_engine``  everything specific to SQLite: durability settings, BEGIN IMMEDIATE
``driver_sql``     hot statements compiled once and run on the driver's cursor
``errors``         ``StoreError`` and the wording of database failures
"""
