"""Persistence: the SQL backend, its schema and migrations.  Nothing outside this package touches SQL."""
