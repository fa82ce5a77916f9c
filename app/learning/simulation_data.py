"""The pool and test folders of a simulation, read once, with the pool's labels hidden.

An ImageFolder-style folder has one subfolder per class. Both folders are
decoded once into ``uint8`` tensors (the digits are tiny; every round reuses
them), and the pool's labels go into an :class:`Oracle`, the only object
that holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from torch import Tensor

from app.learning.evaluation import fingerprint_of_test_set, read_labeled_folder
from app.project.workspace import WorkspaceError
from models.data import ImageReadError, decode_images, read_image_size
from models.networks import default_input_size


class Oracle:
    """Stands in for the annotator: knows the pool's labels, tells only what is asked.

    The labels live only here; the strategies never receive this object.
    """

    def __init__(self, labels: Sequence[int]) -> None:
        self._labels = np.asarray(labels, dtype=np.int64)
        self.answered = 0

    def __len__(self) -> int:
        return int(self._labels.shape[0])

    def reveal(self, positions: Sequence[int]) -> list[int]:
        """The labels of the pool samples at ``positions``, as an annotator would give them."""
        self.answered += len(positions)
        return self._labels[np.asarray(positions, dtype=np.int64)].tolist()


@dataclass(frozen=True)
class SimulationData:
    """A pool and a test set decoded once for the whole simulation.

    Attributes
    ----------
    classes : tuple of str
        Class subfolder names, sorted (index ``i`` is class ``i``).
    pool_paths : list of str
        Pool files; a position in this list is how the simulation names a
        sample internally.
    pool_images, test_images : Tensor
        ``uint8 [n, 3, s, s]``.
    test_labels : NDArray[int64]
        Test labels (evaluation only; never shown to a strategy).
    oracle : Oracle
        The pool's hidden labels.
    input_size : int
    fingerprints : dict of str to str
        Names and sizes of the pool and test files, hashed.
    """

    classes: tuple[str, ...]
    pool_paths: list[str]
    pool_images: Tensor = field(repr=False)
    test_images: Tensor = field(repr=False)
    test_labels: NDArray[np.int64] = field(repr=False)
    oracle: Oracle = field(repr=False)
    input_size: int
    fingerprints: dict[str, str]


def class_folders(folder: Path) -> list[str]:
    """Sorted names of the class subfolders of an ImageFolder-style ``folder``."""
    if not folder.is_dir():
        raise WorkspaceError(f"{folder}: not a folder")
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def matching_classes(pool: Path, test: Path) -> list[str]:
    """The class names shared by ``pool`` and ``test``, which must have the same subfolders.

    Raises
    ------
    WorkspaceError
        Naming the folders and the subfolders found in only one of them.
    """
    pool_classes, test_classes = class_folders(pool), class_folders(test)
    if pool_classes != test_classes:
        only_pool = sorted(set(pool_classes) - set(test_classes))
        only_test = sorted(set(test_classes) - set(pool_classes))
        raise WorkspaceError(
            f"class folders differ between pool {pool} and test {test}: "
            f"only in pool: {', '.join(only_pool) or '-'}; "
            f"only in test: {', '.join(only_test) or '-'}"
        )
    if len(pool_classes) < 2:
        raise WorkspaceError(f"{pool}: needs at least 2 class subfolders, found {pool_classes}")
    return pool_classes


def load_simulation_data(pool: Path, test: Path, arch: str, input_size: int | None = None
                         ) -> SimulationData:
    """Read and decode both folders once (the images are reused every round).

    ``input_size`` defaults to the pool images' median side (as training does).
    """
    classes = matching_classes(pool, test)
    pool_paths, pool_labels = read_labeled_folder(pool, classes)
    test_paths, test_labels = read_labeled_folder(test, classes)
    try:
        # A sample of sizes is enough for the median the default size is based on.
        stride = max(1, len(pool_paths) // 256)
        input_size = input_size or default_input_size(
            (read_image_size(p) for p in pool_paths[::stride]), arch)
        pool_images = decode_images(pool_paths, input_size)
        test_images = decode_images(test_paths, input_size)
    except ImageReadError as err:
        raise WorkspaceError(str(err)) from err
    return SimulationData(
        classes=tuple(classes), pool_paths=pool_paths, pool_images=pool_images,
        test_images=test_images, test_labels=np.asarray(test_labels, dtype=np.int64),
        oracle=Oracle(pool_labels), input_size=input_size,
        fingerprints={"pool": fingerprint_of_test_set(pool, pool_paths),
                      "test": fingerprint_of_test_set(test, test_paths)},
    )
