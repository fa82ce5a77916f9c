"""Nearest-neighbour indexes over perceptual-hash codes and embeddings (faiss).

:class:`HammingIndex` searches 64-bit codes (``[n, 8]`` uint8, as made by
:mod:`sampling.hashing`) by Hamming distance; :class:`EmbeddingIndex`
searches float vectors by cosine similarity, exactly below a size threshold
and with HNSW above it. Both can be saved next to a JSON sidecar holding a
caller-chosen ``fingerprint`` (for example a hash of the sample ids and the
model version), so that a persisted index that no longer matches its data is
detected on load instead of silently answering for the wrong samples.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
from numpy.typing import ArrayLike, NDArray

from sampling.hashing import HASH_BITS, HASH_BYTES

# Queries go to faiss in blocks of this many rows so that range-search results
# (whose size is unknown in advance) stay bounded in memory.
_QUERY_BLOCK = 16_384


class StaleIndexError(ValueError):
    """A persisted index was built from other data than the caller expects."""


def array_fingerprint(*arrays: ArrayLike) -> str:
    """sha256 over the dtype, shape and bytes of the given arrays.

    A convenient ``fingerprint`` for an index built from exactly these arrays
    (e.g. the codes, or the sample ids the rows stand for).

    Returns
    -------
    str
        64 hex characters.
    """
    digest = hashlib.sha256()
    for array in arrays:
        arr = np.ascontiguousarray(array)
        digest.update(f"{arr.dtype.str}{arr.shape};".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def _sidecar_path(path: str | PathLike[str]) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def _write_sidecar(path: str | PathLike[str], meta: dict[str, Any]) -> None:
    _sidecar_path(path).write_text(json.dumps(meta, indent=2, sort_keys=True))


def _read_sidecar(
    path: str | PathLike[str], kind: str, expected_fingerprint: str | None
) -> dict[str, Any]:
    sidecar = _sidecar_path(path)
    meta: dict[str, Any] = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    if meta.get("kind", kind) != kind:
        raise StaleIndexError(f"{path} holds a {meta['kind']} index, not a {kind}")
    found = meta.get("fingerprint")
    if expected_fingerprint is not None and found != expected_fingerprint:
        raise StaleIndexError(
            f"{path} was built for fingerprint {found!r}, expected {expected_fingerprint!r}"
        )
    return meta


def as_codes(codes: ArrayLike) -> NDArray[np.uint8]:
    """Codes as a C-contiguous ``[n, 8]`` uint8 array (faiss needs both).

    Raises
    ------
    ValueError
        If the shape is not ``[n, 8]``.
    """
    arr = np.ascontiguousarray(codes, dtype=np.uint8)
    if arr.ndim != 2 or arr.shape[1] != HASH_BYTES:
        raise ValueError(f"codes must have shape [n, {HASH_BYTES}], got {arr.shape}")
    return arr


def as_unit_vectors(vectors: ArrayLike, dim: int | None = None) -> NDArray[np.float32]:
    """C-contiguous float32 copy, L2-normalised row by row (zero rows stay zero).

    Parameters
    ----------
    vectors : array_like of float
        ``[n, d]`` vectors.
    dim : int, optional
        Required ``d``.

    Returns
    -------
    NDArray[np.float32]
        ``[n, d]`` unit (or zero) rows.
    """
    arr = np.array(vectors, dtype=np.float32, order="C", copy=True)
    if arr.ndim != 2 or (dim is not None and arr.shape[1] != dim):
        want = f"[n, {dim}]" if dim is not None else "[n, d]"
        raise ValueError(f"vectors must have shape {want}, got {arr.shape}")
    faiss.normalize_L2(arr)
    return arr


@dataclass(frozen=True)
class RangeHits:
    """Neighbours of one query within a distance, nearest first (ties by index).

    Attributes
    ----------
    indices : NDArray[np.int64]
        ``[h]`` row numbers in the index.
    distances : NDArray[np.int32]
        ``[h]`` Hamming distances.
    """

    indices: NDArray[np.int64]
    distances: NDArray[np.int32]


class HammingIndex:
    """Exact Hamming-distance search over 64-bit codes (faiss ``IndexBinaryFlat``).

    Parameters
    ----------
    codes : array_like of uint8, optional
        ``[n, 8]`` codes; row ``i`` is answered as index ``i``.
    fingerprint : str
        Identifies the data the index was built from; stored by :meth:`save`
        and checked by :meth:`load`.
    """

    def __init__(self, codes: ArrayLike | None = None, *, fingerprint: str = "") -> None:
        self.fingerprint = fingerprint
        self._index = faiss.IndexBinaryFlat(HASH_BITS)
        if codes is not None:
            self.add(codes)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, codes: ArrayLike) -> None:
        """Append ``[n, 8]`` codes; they get the next consecutive indices."""
        arr = as_codes(codes)
        if len(arr):
            self._index.add(arr)

    def search(self, queries: ArrayLike, k: int) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
        """The ``k`` nearest codes of each query.

        Parameters
        ----------
        queries : array_like of uint8
            ``[m, 8]`` codes.
        k : int
            Neighbours wanted; clipped to the number of indexed codes.

        Returns
        -------
        distances : NDArray[np.int32]
            ``[m, k']`` Hamming distances, ascending along each row.
        indices : NDArray[np.int64]
            ``[m, k']`` row numbers, ``k' = min(k, len(self))``.
        """
        q = as_codes(queries)
        k = min(int(k), len(self))
        if k <= 0 or len(q) == 0:
            return np.zeros((len(q), max(k, 0)), np.int32), np.zeros((len(q), max(k, 0)), np.int64)
        distances, indices = self._index.search(q, k)
        return distances.astype(np.int32, copy=False), indices.astype(np.int64, copy=False)

    def range_search_pairs(
        self, queries: ArrayLike, max_distance: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int32]]:
        """All (query, code) pairs within ``max_distance``, as flat arrays.

        The output grows with the number of pairs: a ``max_distance`` near 32
        on random codes matches a large share of the index.

        Returns
        -------
        query_rows, indices : NDArray[np.int64]
            ``[p]`` query row and matching index row of each pair.
        distances : NDArray[np.int32]
            ``[p]`` Hamming distance of each pair (``<= max_distance``).
        """
        q = as_codes(queries)
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32))
        if max_distance < 0 or len(q) == 0 or len(self) == 0:
            return empty
        parts = []
        for start in range(0, len(q), _QUERY_BLOCK):
            # faiss keeps distances strictly below the radius, so ask for one more.
            lims, dist, idx = self._index.range_search(
                q[start : start + _QUERY_BLOCK], int(max_distance) + 1
            )
            counts = np.diff(lims).astype(np.int64)
            rows = start + np.repeat(np.arange(len(counts), dtype=np.int64), counts)
            parts.append((rows, idx.astype(np.int64), dist.astype(np.int32)))
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))  # type: ignore[return-value]

    def range_search(self, queries: ArrayLike, max_distance: int) -> list[RangeHits]:
        """Every indexed code within ``max_distance`` of each query (inclusive).

        Parameters
        ----------
        queries : array_like of uint8
            ``[m, 8]`` codes.
        max_distance : int
            Largest Hamming distance kept.

        Returns
        -------
        list of RangeHits
            ``m`` entries; each sorted by distance, then index.
        """
        q = as_codes(queries)
        rows, idx, dist = self.range_search_pairs(q, max_distance)
        order = np.lexsort((idx, dist, rows))
        rows, idx, dist = rows[order], idx[order], dist[order]
        bounds = np.searchsorted(rows, np.arange(len(q) + 1))
        return [
            RangeHits(idx[bounds[i] : bounds[i + 1]], dist[bounds[i] : bounds[i + 1]])
            for i in range(len(q))
        ]

    def save(self, path: str | PathLike[str]) -> None:
        """Write the index to ``path`` and its fingerprint to ``path + ".json"``."""
        faiss.write_index_binary(self._index, str(path))
        _write_sidecar(
            path, {"kind": "HammingIndex", "fingerprint": self.fingerprint, "ntotal": len(self)}
        )

    @classmethod
    def load(
        cls, path: str | PathLike[str], *, expected_fingerprint: str | None = None
    ) -> HammingIndex:
        """Read an index written by :meth:`save`.

        Raises
        ------
        StaleIndexError
            If ``expected_fingerprint`` is given and differs from the stored one
            (a missing sidecar counts as a mismatch).
        """
        meta = _read_sidecar(path, "HammingIndex", expected_fingerprint)
        index = cls(fingerprint=meta.get("fingerprint", ""))
        index._index = faiss.read_index_binary(str(path))
        return index


class EmbeddingIndex:
    """Cosine-similarity search over vectors, exact or HNSW by size.

    Vectors and queries are L2-normalised copies, so the inner product faiss
    ranks by is the cosine. Up to ``hnsw_threshold`` vectors the search is
    exact (``IndexFlatIP``); above it an ``IndexHNSWFlat`` with the
    inner-product metric answers approximately but much faster.

    Parameters
    ----------
    vectors : array_like of float
        ``[n, d]`` vectors (any scale; they are normalised).
    hnsw_threshold : int
        Largest ``n`` searched exactly.
    hnsw_m : int
        HNSW graph degree (faiss ``M``).
    ef_construction : int
        HNSW build-time beam width. It bounds the graph's quality: on
        1M x 128 clustered data, 40 (faiss's default) left recall@100 at 0.94
        however large ``ef_search``; 80 reached 0.98 to 0.995.
    ef_search : int
        HNSW search-time beam width; faiss never uses less than ``k``. The
        default gave recall@100 = 0.995 on that data, about 60x faster than
        the exact search (tests/bench/test_bench_similarity.py).
    fingerprint : str
        Identifies the data; stored by :meth:`save`, checked by :meth:`load`.
    """

    def __init__(
        self,
        vectors: ArrayLike,
        *,
        hnsw_threshold: int = 200_000,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 256,
        fingerprint: str = "",
    ) -> None:
        data = as_unit_vectors(vectors)
        self.dim = int(data.shape[1])
        self.fingerprint = fingerprint
        self._index: faiss.Index
        if len(data) > hnsw_threshold:
            index = faiss.IndexHNSWFlat(self.dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
            self._index = index
        else:
            self._index = faiss.IndexFlatIP(self.dim)
        if len(data):
            self._index.add(data)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def is_hnsw(self) -> bool:
        """Whether searches are approximate (HNSW) rather than exact."""
        return isinstance(self._index, faiss.IndexHNSW)

    @property
    def ef_search(self) -> int | None:
        """HNSW search beam width, or None for an exact index."""
        return int(self._index.hnsw.efSearch) if self.is_hnsw else None

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        if not self.is_hnsw:
            raise ValueError("ef_search applies to HNSW indexes only")
        self._index.hnsw.efSearch = int(value)

    def search(self, queries: ArrayLike, k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """The ``k`` most cosine-similar vectors of each query.

        Parameters
        ----------
        queries : array_like of float
            ``[m, d]`` vectors (normalised here).
        k : int
            Neighbours wanted; clipped to the number of indexed vectors.

        Returns
        -------
        cosine : NDArray[np.float32]
            ``[m, k']`` cosine similarities, descending along each row.
        indices : NDArray[np.int64]
            ``[m, k']`` row numbers, ``k' = min(k, len(self))``. An HNSW search
            that reaches fewer than ``k'`` vectors pads with ``-1`` (cosine
            ``-inf``); an exact one never does.
        """
        q = as_unit_vectors(queries, self.dim)
        k = min(int(k), len(self))
        if k <= 0 or len(q) == 0:
            return np.zeros((len(q), max(k, 0)), np.float32), np.zeros(
                (len(q), max(k, 0)), np.int64
            )
        cosine, indices = self._index.search(q, k)
        cosine[indices < 0] = -np.inf
        return cosine, indices.astype(np.int64, copy=False)

    def save(self, path: str | PathLike[str]) -> None:
        """Write the index to ``path`` and its fingerprint to ``path + ".json"``."""
        faiss.write_index(self._index, str(path))
        _write_sidecar(
            path,
            {
                "kind": "EmbeddingIndex",
                "fingerprint": self.fingerprint,
                "ntotal": len(self),
                "dim": self.dim,
                "hnsw": self.is_hnsw,
            },
        )

    @classmethod
    def load(
        cls, path: str | PathLike[str], *, expected_fingerprint: str | None = None
    ) -> EmbeddingIndex:
        """Read an index written by :meth:`save` (HNSW settings included).

        Raises
        ------
        StaleIndexError
            If ``expected_fingerprint`` is given and differs from the stored one
            (a missing sidecar counts as a mismatch).
        """
        meta = _read_sidecar(path, "EmbeddingIndex", expected_fingerprint)
        faiss_index = faiss.read_index(str(path))
        index = cls.__new__(cls)
        index.dim = int(faiss_index.d)
        index.fingerprint = meta.get("fingerprint", "")
        index._index = faiss_index  # read_index already returns the concrete class
        return index


def near_duplicate_groups(codes: ArrayLike, max_hamming: int) -> list[list[int]]:
    """Groups of codes linked by chains of pairs within ``max_hamming``.

    Pairs come from a faiss range search (never an ``n x n`` matrix); groups
    are the connected components of the resulting sparse graph (scipy's
    ``connected_components``, i.e. a union-find over the pairs). Because
    linking is transitive, two members of a group can be further apart than
    ``max_hamming`` when a chain of close codes joins them.

    The exact search compares every pair, ``n**2 / 2`` popcounts: about a
    second for 50,000 codes on one core, minutes past 500,000.

    Parameters
    ----------
    codes : array_like of uint8
        ``[n, 8]`` codes.
    max_hamming : int
        Largest Hamming distance that links two codes. Near-duplicate
        thresholds are small (phash: about 4 to 10 of 64 bits); the pair list,
        and so the memory used, grows quickly with larger values.

    Returns
    -------
    list of list of int
        Groups of size >= 2, each sorted ascending, ordered by first index.
    """
    arr = as_codes(codes)
    n = len(arr)
    rows, cols, _ = HammingIndex(arr).range_search_pairs(arr, max_hamming)
    keep = rows < cols  # each pair once; a code always matches itself
    rows, cols = rows[keep], cols[keep]
    if len(rows) == 0:
        return []
    graph = scipy.sparse.coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, labels = scipy.sparse.csgraph.connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    members = np.flatnonzero(sizes[labels] >= 2)  # ascending indices
    groups: dict[int, list[int]] = {}
    for i in members.tolist():
        groups.setdefault(int(labels[i]), []).append(i)
    return sorted(groups.values(), key=lambda group: group[0])
