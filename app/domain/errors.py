"""The one error type users see for a request about a project.

It lives at the bottom of the layers so that file helpers (confined paths,
weights files) can raise it without importing the workspace above them.
"""


class WorkspaceError(Exception):
    """A user-facing error about a project (bad name, missing sample, ...)."""
