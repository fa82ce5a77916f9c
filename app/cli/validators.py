"""Argument types that check every number and size before any work starts.

Each factory returns a callable for ``add_argument(type=...)``. A bad value
raises ``argparse.ArgumentTypeError`` with a message such as
``must be an integer >= 1, got '0'``, which :class:`OneLineParser` prints as
``labelloop rank: error: --top must be an integer >= 1, got '0'``: one line,
exit status 2, no traceback.

The bounds here are limits of sense, not of taste: a value outside them
would crash later, run for ever or grow a process until the kernel kills it
(``train --input-size 100000`` once grew a job to 24 GB).
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from datetime import date
from typing import NoReturn

from app.files.safe_files import DEFAULT_MAX_FILE_BYTES, MAX_FILE_SIZE_ENV, format_size, parse_size

#: Seeds go to numpy and scikit-learn, which take 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1
#: Square input side accepted by ``train`` and ``simulate``; the lower bound
#: depends on the architecture (checked with the arch, see
#: :data:`MIN_INPUT_SIZE`). 512 px is over twice ResNet's ImageNet size; a
#: batch of 32 at 512 px already takes gigabytes in a small CNN.
MAX_INPUT_SIZE = 512
#: Smallest input side each architecture can take (models.networks.build_network
#: says the same; repeated so that parsing does not import torch, a test keeps
#: them equal).
MIN_INPUT_SIZE = {"small_cnn": 16, "resnet18": 32}
#: MC-dropout passes: each adds a [samples, classes] float32 slice to the cache.
MAX_MC_SAMPLES = 200
MAX_EPOCHS = 100_000
MAX_STEPS = 10_000_000
#: A perceptual hash has 64 bits.
HASH_BITS = 64


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An integer type accepting ``low <= value <= high`` (no upper bound when None)."""
    wanted = f">= {low}" if high is None else f"from {low} to {high}"

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be an integer {wanted}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be an integer {wanted}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(
    low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """A finite float type within ``[low, high]``; either end may be open."""
    lower = f"{'>' if low_open else '>='} {low:g}"
    upper = "" if high is None else f" and {'<' if high_open else '<='} {high:g}"
    wanted = f"a finite number {lower}{upper}"

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        too_low = value <= low if low_open else value < low
        too_high = high is not None and (value >= high if high_open else value > high)
        if not math.isfinite(value) or too_low or too_high:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def calendar_day(text: str) -> date:
    """A calendar day written ``YYYY-MM-DD``."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a date written YYYY-MM-DD, got {text!r}") from None


calendar_day.__name__ = "date"


def file_size(text: str) -> int:
    """A size such as ``256M`` or ``1G`` (binary units), in bytes."""
    try:
        return parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a size such as 64M, 256M or 1G, got {text!r}") from None


seed = int_range(0, MAX_SEED)
count = int_range(1)              # --top, --window, --batch-size ...
epochs = int_range(1, MAX_EPOCHS)
steps = int_range(0, MAX_STEPS)
mc_samples = int_range(1, MAX_MC_SAMPLES)
input_size = int_range(min(MIN_INPUT_SIZE.values()), MAX_INPUT_SIZE)
hamming = int_range(0, HASH_BITS)
version_id = int_range(1)
seconds = float_range(0.0)


def add_max_file_size_option(parser: argparse.ArgumentParser) -> None:
    """``--max-file-size SIZE``: the cap of :mod:`app.files.safe_files` for this command."""
    parser.add_argument(
        "--max-file-size", type=file_size, metavar="SIZE",
        help=f"refuse files larger than SIZE (e.g. 64M, 1G) without reading them "
             f"(default: ${MAX_FILE_SIZE_ENV}, else {format_size(DEFAULT_MAX_FILE_BYTES)}); "
             "FIFOs and devices are never read")


def add_semi_supervised_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--semi-supervised``, ``--no-semi-supervised`` and ``--semi-supervised-auto``.

    They store ``"on"``, ``"off"`` or ``"auto"`` in ``args.semi_supervised``
    (None when none is given), which
    :func:`models.train_config.semi_supervised_setting` reads. Three flags
    rather than one with an optional value, which would swallow a project
    path written after it.
    """
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--semi-supervised", action="store_const", const="on", help=help_text)
    group.add_argument("--no-semi-supervised", dest="semi_supervised", action="store_const",
                       const="off", help="train on the labels alone")
    group.add_argument("--semi-supervised-auto", dest="semi_supervised", action="store_const",
                       const="auto", help="the phase only while the labels are few (the default)")


def check_input_size(arch: str, size: int | None) -> None:
    """Refuse an input side the architecture cannot take (argparse checks each option alone)."""
    # Imported here: the parser of a light command (hash) must not load the store.
    from app.project.workspace import WorkspaceError

    if size is not None and size < MIN_INPUT_SIZE[arch]:
        raise WorkspaceError(
            f"--input-size for {arch} must be from {MIN_INPUT_SIZE[arch]} to "
            f"{MAX_INPUT_SIZE}, got {size}")


_ARGUMENT_PREFIX = re.compile(r"^argument (\S+): (must .*)$", re.DOTALL)


class OneLineParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line on stderr, exit status 2.

    ``argument --top: must be ...`` is worded ``--top must be ...``; the full
    usage stays one ``--help`` away.
    """

    def error(self, message: str) -> NoReturn:
        message = _ARGUMENT_PREFIX.sub(r"\1 \2", message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")



def ray_address(text: str) -> str:
    """``--ray``: ``host:port`` of a running Ray cluster's head, or ``local``."""
    from app.learning.ray_cluster import ClusterError, check_address

    try:
        return check_address(text)
    except ClusterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
