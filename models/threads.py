"""The one owner of torch's intra-op thread count inside models/ and its callers.

``torch.set_num_threads`` is process-wide state: a training run, a scoring
pass or a simulation that sets it and forgets leaves every later torch call
in the process (the GUI's, a test's) on that count. So nothing here calls
it bare; :func:`torch_threads` sets the count for a block and puts the
caller's count back, whether the block returns or raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads, then restore the caller's.

    Parameters
    ----------
    count : int or None
        Threads inside the block; ``None`` (or 0) keeps the current count.
        Either way the count found on entry is set again on exit, so a block
        that changed it itself leaves nothing behind either.

    Notes
    -----
    Only the intra-op pool: torch's inter-op count can be set once per
    process, before any parallel work, so it cannot be scoped. BLAS pools of
    numpy are left alone; torch's CPU kernels run on its own OpenMP pool.
    """
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
