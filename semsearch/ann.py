"""FAISS over L2-normalised vectors: inner product = cosine similarity.

Exact `IndexFlatIP` below `APPROX_MIN_VECTORS` vectors; from there up an inverted-file index
(`IndexIVFFlat`): k-means splits the vectors into `nlist` lists and a query scans the `nprobe`
lists nearest to it. IVF was chosen over an HNSW graph on the benchmark's synthetic vectors
(calibrated on the real e5 vectors): recall@10 near 1 against exact search at a fraction of HNSW's
build time, which counts because semsearch rebuilds this index from stored vectors on every
incremental build (figures: docs/performance.md, "The index kind"; bench/RESULTS.md). Recall depends
on the data: on a harder stress variant HNSW held up better than IVF at the default nprobe;
`ivf_nprobe` is applied when an index is loaded, so raising IVF_NPROBE_FRACTION needs no rebuild.
HNSW indexes (kind "hnsw") still build with `kind="hnsw"`, load and search. The kind and its
parameters are recorded in the manifest (`AnnIndex.info()`). faiss is imported here only.

An exact index is searched with NumPy, not FAISS: its file is FAISS's own serialisation of an
`IndexFlatIP` (written by faiss), which is a short header and the vectors, read here without importing
faiss, whose import is a large share of a one-shot `ask`; a brute-force inner product over at most
50,000 vectors is what FAISS computes too, and as fast (docs/performance.md). A file that does not
have exactly that layout is read by faiss.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["AnnIndex", "build_ann", "APPROX_MIN_VECTORS", "APPROX_KIND", "KINDS", "ivf_nlist", "ivf_nprobe"]

#: At and above this many vectors the index is approximate (IVF); below, exact. It is one more than
#: stores.arrays.EXACT_SCORING_MAX_CHUNKS (tests/test_ann.py checks it): up to that size the query layer asks
#: for every chunk's score, which an approximate index can only give by scanning everything.
APPROX_MIN_VECTORS = 50_001
APPROX_KIND = "ivf"
KINDS = ("flat", "ivf", "hnsw")

# IVF: nlist ~ 2 sqrt(n) (rounded to a power of two: 512 lists at 100k vectors, 2048 at 1M), trained
# on 40 vectors per list (faiss warns, on stderr, below 39) for 10 k-means iterations; a query scans
# 1/32 of the lists, at least 16. (More lists gave no better recall in a trial run and built slower:
# docs/performance.md.)
IVF_LISTS_PER_SQRT_N = 2
IVF_TRAIN_PER_LIST = 40
IVF_TRAIN_ITERATIONS = 10
IVF_NPROBE_FRACTION = 1 / 32
IVF_MIN_NPROBE = 16
TRAIN_SEED = 1234

# HNSW: no longer chosen by size, kept for `kind="hnsw"` and for indexes built by earlier versions.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def ivf_nlist(n: int) -> int:
    """Number of inverted lists for `n` vectors: ~2 sqrt(n), a power of two, >= 40 vectors per list."""
    if n < IVF_TRAIN_PER_LIST:
        return 1
    target = IVF_LISTS_PER_SQRT_N * math.sqrt(n)
    nlist = 2 ** round(math.log2(target))
    return max(1, min(nlist, n // IVF_TRAIN_PER_LIST))


def ivf_nprobe(nlist: int) -> int:
    """Lists scanned per query: a fixed fraction of them, at least IVF_MIN_NPROBE (all when fewer)."""
    return min(nlist, max(IVF_MIN_NPROBE, round(nlist * IVF_NPROBE_FRACTION)))


# faiss's serialisation of an IndexFlatIP: "IxFI", d (int32), ntotal, two unused int64s, is_trained
# (uint8), metric type (int32, 0 = inner product), the number of floats (int64), then the floats.
_FLAT_HEADER = struct.Struct("<4siqqqBiq")
_FLAT_MAGIC = b"IxFI"


def _flat_vectors(data: bytes) -> np.ndarray | None:
    """The vectors of a serialised IndexFlatIP, read without faiss; None for any other layout."""
    if len(data) < _FLAT_HEADER.size or not data.startswith(_FLAT_MAGIC):
        return None
    _, dim, ntotal, _, _, trained, metric, floats = _FLAT_HEADER.unpack_from(data)
    if metric != 0 or trained != 1 or dim <= 0 or ntotal < 0 or floats != dim * ntotal:
        return None
    if len(data) != _FLAT_HEADER.size + 4 * floats:
        return None
    # Copied: the floats start at byte 45, and BLAS on unaligned rows rounds differently.
    return np.frombuffer(data, dtype="<f4", count=floats, offset=_FLAT_HEADER.size).reshape(ntotal, dim).copy()


def _exact_search(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best k by inner product, best first, ties by position (what brute force means)."""
    scores = queries @ vectors.T
    if k < len(vectors):
        candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        candidates = np.broadcast_to(np.arange(len(vectors)), scores.shape)
    picked = np.take_along_axis(scores, candidates, axis=1)
    order = np.lexsort((candidates, -picked), axis=1)
    ids = np.take_along_axis(candidates, order, axis=1).astype(np.int64)
    return np.take_along_axis(scores, ids, axis=1).astype(np.float32), ids


@dataclass
class AnnIndex:
    """A FAISS index plus what the manifest says about it. An exact ("flat") one holds its vectors
    and is searched with NumPy (see the module docstring); `index` is then None."""

    index: Any  # faiss.Index, or None for "flat"
    kind: str  # "flat" | "ivf" | "hnsw"
    matrix: np.ndarray | None = None  # "flat": the vectors, (ntotal, dim) float32

    @classmethod
    def exact(cls, vectors: np.ndarray) -> AnnIndex:
        return cls(None, "flat", np.ascontiguousarray(vectors, dtype=np.float32))

    @property
    def ntotal(self) -> int:
        return len(self.matrix) if self.matrix is not None else int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return self.matrix.shape[1] if self.matrix is not None else int(self.index.d)

    def info(self) -> dict[str, Any]:
        faiss_type = "IndexFlatIP" if self.matrix is not None else type(self.index).__name__
        info: dict[str, Any] = {"kind": self.kind, "faiss": faiss_type, "ntotal": self.ntotal}
        if self.kind == "ivf":
            info.update(nlist=int(self.index.nlist), nprobe=int(self.index.nprobe))
        elif self.kind == "hnsw":
            info.update(m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, ef_search=int(self.index.hnsw.efSearch))
        return info

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (len(queries), k'), k' = min(k, ntotal); best first.

        An IVF index returns fewer than k' hits (id -1, score -inf) when the lists it scans hold
        fewer vectors; asked for more than half of the index, it scans every list (exact).
        """
        k = max(1, min(k, self.ntotal))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.matrix is not None:
            return _exact_search(self.matrix, queries, k)
        if self.kind == "ivf" and k > self.ntotal // 2:
            import faiss

            params = faiss.SearchParametersIVF()
            params.nprobe = int(self.index.nlist)
            return self.index.search(queries, k, params=params)
        return self.index.search(queries, k)

    def vectors(self) -> np.ndarray:
        """All stored vectors, (ntotal, dim), in insertion order (for reuse in rebuilds)."""
        if self.matrix is not None:
            return self.matrix
        if self.ntotal == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.kind == "ivf" and self.index.direct_map.type == 0:  # 0 = NoMap: made by hand, not by build_ann
            self.index.make_direct_map()
        return self.index.reconstruct_n(0, self.ntotal)

    def vector(self, row: int) -> np.ndarray:
        """One stored vector, (dim,)."""
        return self.matrix[row] if self.matrix is not None else self.index.reconstruct(row)

    def to_bytes(self) -> bytes:
        import faiss

        index = self.index
        if self.matrix is not None:  # written by faiss itself: the file stays a FAISS index
            index = faiss.IndexFlatIP(self.dim)
            if self.ntotal:
                index.add(self.matrix)
        return faiss.serialize_index(index).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, kind: str) -> AnnIndex:
        if kind == "flat" and (vectors := _flat_vectors(data)) is not None:
            return cls(None, "flat", vectors)
        import faiss

        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        if kind == "flat":  # a layout this module does not parse: faiss reads it, NumPy searches it
            return cls.exact(index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d)))
        # faiss gives back the index's own class (IndexHNSWFlat, IndexIVFFlat) as its file says.
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        elif isinstance(index, faiss.IndexIVF):
            index.nprobe = ivf_nprobe(int(index.nlist))  # today's policy, whatever the writer used
        return cls(index, kind)


def build_ann(vectors: np.ndarray, kind: str | None = None) -> AnnIndex:
    """An index over `vectors` (float32, rows L2-normalised); `kind` None picks by size."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    kind = kind or (APPROX_KIND if n >= APPROX_MIN_VECTORS else "flat")
    if kind == "flat":
        return AnnIndex.exact(vectors)
    import faiss

    if kind == "ivf":
        if n < IVF_TRAIN_PER_LIST:
            raise ValueError(f"an IVF index needs at least {IVF_TRAIN_PER_LIST} vectors to train on, not {n}")
        index = _trained_ivf(vectors)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
    if n:
        index.add(vectors)
    return AnnIndex(index, kind)


def _trained_ivf(vectors: np.ndarray) -> Any:
    import faiss

    n, dim = vectors.shape
    nlist = ivf_nlist(n)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)  # keeps `quantizer` alive
    index.cp.niter = IVF_TRAIN_ITERATIONS
    index.cp.seed = TRAIN_SEED
    index.cp.max_points_per_centroid = IVF_TRAIN_PER_LIST  # faiss would subsample to this anyway
    # A deterministic, evenly spread sample: training on all 1M vectors costs minutes, not recall.
    sample = min(n, nlist * IVF_TRAIN_PER_LIST)
    rows = np.sort(np.random.default_rng(TRAIN_SEED).choice(n, sample, replace=False)) if sample < n else slice(None)
    index.train(np.ascontiguousarray(vectors[rows]))
    index.nprobe = ivf_nprobe(nlist)
    # For reconstruct_n, which vectors() uses in rebuilds (faiss's type stubs lack the DirectMap enum).
    index.set_direct_map_type(faiss.DirectMap.Array)  # type: ignore[attr-defined]
    return index
