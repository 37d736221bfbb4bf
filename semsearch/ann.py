"""FAISS over L2-normalised vectors: inner product = cosine similarity.

Exact `IndexFlatIP` for small corpora; from `HNSW_MIN_VECTORS` vectors up, an HNSW graph whose
recall@10 against exact search is measured by `bench/bench.py` (see bench/RESULTS.md). The kind
chosen is recorded in the manifest. faiss is imported here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["AnnIndex", "build_ann", "HNSW_MIN_VECTORS"]

#: At and above this many vectors the index is HNSW; below, exact search is both fast and exact.
HNSW_MIN_VECTORS = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


@dataclass
class AnnIndex:
    """A FAISS index plus what the manifest says about it."""

    index: Any  # faiss.Index
    kind: str  # "flat" | "hnsw"

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"kind": self.kind, "faiss": type(self.index).__name__, "ntotal": self.ntotal}
        if self.kind == "hnsw":
            info.update(m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, ef_search=int(self.index.hnsw.efSearch))
        return info

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (len(queries), k'), k' = min(k, ntotal); best first."""
        k = max(1, min(k, self.ntotal))
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def vectors(self) -> np.ndarray:
        """All stored vectors, (ntotal, dim), in insertion order (for reuse in rebuilds)."""
        if self.ntotal == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.index.reconstruct_n(0, self.ntotal)

    def to_bytes(self) -> bytes:
        import faiss

        return faiss.serialize_index(self.index).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, kind: str) -> AnnIndex:
        import faiss

        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        if kind == "hnsw":
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index, kind)


def build_ann(vectors: np.ndarray, kind: str | None = None) -> AnnIndex:
    """An index over `vectors` (float32, rows L2-normalised); `kind` None picks by size."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    kind = kind or ("hnsw" if n >= HNSW_MIN_VECTORS else "flat")
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    if n:
        index.add(vectors)
    return AnnIndex(index, kind)
