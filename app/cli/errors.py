"""One-line descriptions of the errors that reach the top of ``labelloop``.

The commands raise :class:`app.project.workspace.WorkspaceError` for what they
foresee (commands that never open a project, such as ``hash``, raise
:class:`CommandError` instead, so as not to import the store); the store words database failures itself (:mod:`app.store.errors`);
what the operating system raises underneath them (a full disk, a read-only
folder) is turned into one line here, naming the file and the cause, instead
of a traceback.
"""

from __future__ import annotations

from app.files.os_errors import describe_os_error

__all__ = ["CommandError", "describe_os_error"]


class CommandError(Exception):
    """A command's input cannot be used; ``str(exc)`` is the one-line reason."""
