"""Which frames of a video are worth labeling: pure functions over timestamps and pixels.

A video import keeps far fewer frames than the video holds.  Two rules pick
them, applied in presentation order:

* :func:`interval_candidates`: at most one *candidate* per interval of
  ``every`` seconds, the first frame whose presentation time falls in it.
  Times come from the container's timestamps, never from ``index / fps``,
  so a variable-frame-rate video is cut correctly.
* A candidate is dropped as a near-duplicate when its perceptual hash lies
  within ``max_hamming`` bits of the last frame *kept* from the same video
  (the import applies that rule; :func:`sampling.hashing.hamming_distance`).

:func:`is_scene_cut` serves the optional third rule: the first frame after a
cut is kept whatever the interval says.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Two consecutive frames whose small grey versions differ by more than this
#: mean absolute difference (0..255) are taken to be either side of a cut.
#: A dissolve or a camera pan changes a 64-pixel-wide thumbnail by a few
#: levels per frame; a hard cut between unrelated shots by tens.
SCENE_CUT_MEAN_DIFFERENCE = 30.0

# Timestamps are rationals turned into floats; a frame at exactly 2.0 s must
# fall in the interval starting at 2.0 s, not in the one before it.
_EPSILON = 1e-9


def interval_candidates(times: ArrayLike, every: float) -> NDArray[np.int64]:
    """Indices of the first frame of each ``every``-second interval.

    Parameters
    ----------
    times : array_like of float, shape [n]
        Presentation times in seconds from the start of the video, ascending.
    every : float
        Interval length in seconds, > 0.

    Returns
    -------
    NDArray[int64], shape [k]
        Ascending indices into ``times``; ``k`` is the number of intervals
        holding at least one frame (an interval with no frame, a gap in a
        variable-frame-rate video, gives none).
    """
    if not every > 0:
        raise ValueError(f"the interval must be > 0 seconds, not {every!r}")
    t = np.asarray(times, dtype=np.float64)
    if t.size == 0:
        return np.zeros(0, dtype=np.int64)
    buckets = np.floor(t / every + _EPSILON).astype(np.int64)
    first = np.ones(t.size, dtype=bool)
    first[1:] = buckets[1:] != buckets[:-1]
    return np.flatnonzero(first).astype(np.int64)


def is_scene_cut(previous: NDArray[np.uint8] | None, current: NDArray[np.uint8],
                 threshold: float = SCENE_CUT_MEAN_DIFFERENCE) -> bool:
    """Whether ``current`` starts a new shot after ``previous``.

    Parameters
    ----------
    previous, current : NDArray[uint8], shape [h, w]
        Small grey versions of consecutive frames (same shape); ``previous``
        None for the first frame, which is no cut.
    threshold : float
        Mean absolute difference (0..255) above which the frames are cut apart.
    """
    if previous is None:
        return False
    difference = np.abs(current.astype(np.int16) - previous.astype(np.int16))
    return float(difference.mean()) > threshold
