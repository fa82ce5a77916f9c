"""Image files under folders, walked lazily in a stable order.

Shared by ``import`` and ``hash`` so that both take the same files from a
folder: image suffixes only, hidden entries skipped, names sorted, symbolic
links listed but never followed into folders (a link loop cannot hang the
walk).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Iterator

from app.files.image_io import IMAGE_SUFFIXES


def walk_image_files(top: str, skip_dirs: Iterable[str] = (),
                     suffixes: Collection[str] = IMAGE_SUFFIXES,
                     sniff: Callable[[str], bool] | None = None) -> Iterator[str]:
    """Image files under the folder ``top``, recursively, sorted folder by folder.

    Parameters
    ----------
    top : str
        The folder; paths are yielded joined onto it.
    skip_dirs : iterable of str
        Absolute folder paths not to enter.
    suffixes : collection of str
        Lower-case suffixes taken (the import adds video suffixes).
    sniff : callable, optional
        Asked of every other (non-hidden) file whether its content is wanted
        all the same: the import takes a video by its first bytes whatever
        its name (:func:`app.files.video_probe.looks_like_video`).
    """
    skip = set(skip_dirs)
    for folder, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(".") and os.path.join(folder, d) not in skip
        )
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            if os.path.splitext(name)[1].lower() in suffixes or \
                    (sniff is not None and sniff(path)):
                yield path


def expand_paths(items: Iterable[str]) -> Iterator[str]:
    """Each item as given, a folder replaced by :func:`walk_image_files` of it.

    A path that is not a folder (a file, a missing path, a FIFO) is passed
    on untouched, for the reader to accept or to name with its reason; so is
    a folder holding no image file, so that it is named too rather than
    silently giving nothing.
    """
    for item in items:
        if not os.path.isdir(item):
            yield item
            continue
        found = False
        for path in walk_image_files(item):
            found = True
            yield path
        if not found:
            yield item


def read_path_list(stream: Iterable[str]) -> Iterator[str]:
    """Paths from a list, one per line (blank lines skipped, the line end removed)."""
    for line in stream:
        path = line.rstrip("\r\n")
        if path:
            yield path
