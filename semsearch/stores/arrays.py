"""The NumPy engine: an index directory's arrays (files.py's `StoredIndex`) scored in memory, side
by side, behind the same interface as Qdrant (base.py `EngineIndex`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..lexical import LexicalIndex, term_document
from ..staleness import tfidf_current
from .base import EngineIndex, EntryVectors
from .files import StoredIndex

__all__ = ["ArrayIndex", "DENSE_CANDIDATES", "EXACT_SCORING_MAX_CHUNKS"]

# Chunks fetched from the vector index per question when the index is too big to score every chunk.
DENSE_CANDIDATES = 256
EXACT_SCORING_MAX_CHUNKS = 50_000


class ArrayIndex(EngineIndex):
    """An index directory in memory: exact (or IVF) dense search, TF-IDF and the USE side in NumPy."""

    def __init__(self, stored: StoredIndex) -> None:
        self.stored = stored
        self.location = stored.path
        self.manifest = stored.manifest
        self.terms = stored.terms
        self.term_ids = stored.term_ids
        self._lexical = stored.lexical
        if not tfidf_current(stored.manifest):
            # Built under other TF-IDF features, questions would miss the stored ones: rebuilt here,
            # in memory, until a build rewrites it (`open_index` does that when it can).
            self._lexical = LexicalIndex.build([term_document(t.names, t.body) for t in stored.terms])
        self._term_of_chunk = np.array([c.term_position for c in stored.chunks], dtype=np.int64)
        # The row of each term's first chunk (its vector stands for the term among neighbours).
        self._first_chunk = np.full(len(stored.terms), -1, dtype=np.int64)
        for row in range(len(stored.chunks) - 1, -1, -1):
            self._first_chunk[self._term_of_chunk[row]] = row

    @property
    def has_use(self) -> bool:
        return self.stored.use is not None

    def chunk_counts(self) -> list[int]:
        return np.bincount(self._term_of_chunk, minlength=len(self.terms)).tolist()

    def dense_scores(self, vector: np.ndarray, beta: float) -> np.ndarray:
        ann = self.stored.ann
        k = ann.ntotal if ann.ntotal <= EXACT_SCORING_MAX_CHUNKS else DENSE_CANDIDATES
        scores, ids = ann.search(vector, k)
        scores, ids = scores[0], ids[0]
        keep = ids >= 0
        ids = ids[keep]
        # Hubness correction: a chunk close to every question counts for less (see hubness.py).
        corrected = scores[keep] - beta * self.stored.dense.priors[ids]
        out = np.full(len(self.terms), -np.inf, dtype=np.float32)
        np.maximum.at(out, self._term_of_chunk[ids], corrected)
        out[np.isneginf(out)] = np.nan
        return out

    def lexical_scores(self, text: str) -> np.ndarray:
        return self._lexical.scores(text)

    def use_scores(self, vector: np.ndarray, beta: float) -> np.ndarray:
        side = self.stored.use
        assert side is not None
        rows = side.vectors @ vector - beta * side.extras.priors
        out = np.full(len(self.terms), -np.inf, dtype=np.float32)
        np.maximum.at(out, side.term_of_row, rows)
        return out

    def neighbours(self, position: int, n: int) -> list[int]:
        row = int(self._first_chunk[position]) if 0 <= position < len(self._first_chunk) else -1
        if row < 0:
            return []
        ann = self.stored.ann
        _, ids = ann.search(ann.vector(row)[None, :], n)
        return [int(self._term_of_chunk[chunk]) for chunk in ids[0] if chunk >= 0]

    def similarity(self, position: int, others: Sequence[int]) -> float:
        ann = self.stored.ann
        vector = ann.vector(int(self._first_chunk[position]))
        rows = np.flatnonzero(np.isin(self._term_of_chunk, list(others)))
        return max((float(ann.vector(int(row)) @ vector) for row in rows), default=float("nan"))

    def entry_vectors(self) -> EntryVectors:
        dense = self.stored.ann.vectors()
        rows = np.where(self._first_chunk >= 0, self._first_chunk, 0)
        first = np.where((self._first_chunk >= 0)[:, None], dense[rows], 0.0).astype(np.float32)
        side = self.stored.use
        if side is None:
            return EntryVectors(first)
        # whole_term_chunks writes each term's whole entry, then its names alone
        order: list[list[int]] = [[] for _ in self.terms]
        for row, position in enumerate(side.term_of_row):
            order[int(position)].append(row)
        if any(len(pieces) != 2 for pieces in order):
            return EntryVectors(first)
        return EntryVectors(first, side.vectors[[p[0] for p in order]], side.vectors[[p[1] for p in order]])
