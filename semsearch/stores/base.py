"""The store interface: where an index is kept, how a build commits a generation to it, and what
an engine-backed store answers for the query layer.

Two kinds of store implement `Store` (in the manner of txtai's `ann/` package: one interface, one
module per backend, one test over every backend, tests/test_stores.py), and every opened index is
scored through one interface, `EngineIndex` (each side's scores per entry; scoring.py fuses them):

    directory.py   the index directory (files.py): read into memory, scored by NumPy (arrays.py)
    qdrant.py      a Qdrant collection behind an alias: `read` gives an `EngineIndex` whose sides
                   the engine scores (vectors, sparse TF-IDF, the USE vectors, hubness priors)
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..corpus import Term
from ..errors import IndexStoreError
from ..lexical import LexicalIndex
from ..location import IndexLocation
from ..manifest import Manifest
from .files import ChunkRecord, DenseExtras, StoredIndex, UseSide

__all__ = ["Store", "Generation", "EngineIndex", "EntryVectors", "Opened"]


@dataclass(frozen=True)
class EntryVectors:
    """The stored vectors of every entry of an index, one row per entry (in the index's term order),
    L2-normalised: inner products are cosines.

    `dense`: the entry's first chunk, by the index's encoder (the vector `related` compares); zero
    for an entry without chunks. `whole` and `names`: the Universal Sentence Encoder's vectors of the
    whole entry and of its names alone (`chunking.whole_term_chunks`), None without that side.
    """

    dense: np.ndarray
    whole: np.ndarray | None = None
    names: np.ndarray | None = None


@dataclass(frozen=True)
class Generation:
    """Everything a build commits: what the index holds, before any store has laid it out."""

    terms: Sequence[Term]
    term_ids: Sequence[str]
    chunks: Sequence[ChunkRecord]
    vectors: np.ndarray  # (chunks, dim) float32, rows L2-normalised
    lexical: LexicalIndex
    dense: DenseExtras
    manifest_fields: dict[str, Any]
    use: UseSide | None = None  # the Universal Sentence Encoder's side, when the index has one


class EngineIndex(ABC):
    """An opened index as the query layer scores it: the entries are here, and the engine gives
    each side's raw score per entry; scoring.py fuses them (`scoring.fuse`, the one formula) and judges
    the answer from them, whatever the engine. Two engines: NumPy over an index directory's arrays
    (arrays.py) and Qdrant (qdrant.py)."""

    location: IndexLocation
    manifest: Manifest
    terms: list[Term]
    term_ids: list[str]

    @property
    def path(self) -> IndexLocation:
        return self.location

    @property
    def chunk_total(self) -> int:
        return int(self.manifest.counts.get("chunks", 0))

    @property
    @abstractmethod
    def has_use(self) -> bool:
        """Whether the index holds the Universal Sentence Encoder's side (`use_scores`)."""

    @abstractmethod
    def chunk_counts(self) -> list[int]:
        """How many chunks (vectors) each entry has."""

    @abstractmethod
    def dense_scores(self, vector: np.ndarray, beta: float) -> np.ndarray:
        """Per entry, its best chunk's cosine with the question's embedding `vector` (1, dim) minus
        `beta` x that chunk's hubness prior; NaN for an entry with no chunk among the candidates."""

    @abstractmethod
    def lexical_scores(self, text: str) -> np.ndarray:
        """Per entry, the TF-IDF cosine with the question as searched (0 where nothing matches)."""

    @abstractmethod
    def use_scores(self, vector: np.ndarray, beta: float) -> np.ndarray:
        """Per entry, its best piece's cosine with the question's USE embedding `vector` (dim,)
        minus `beta` x that piece's hubness prior. Only when `has_use`."""

    @abstractmethod
    def neighbours(self, position: int, n: int) -> list[int]:
        """Entry positions of the `n` chunks nearest the first chunk of the entry at `position`."""

    @abstractmethod
    def similarity(self, position: int, others: Sequence[int]) -> float:
        """The best cosine between the first chunk of the entry at `position` and any chunk of the
        entries `others` (NaN when there is none)."""

    def entry_vectors(self) -> EntryVectors | None:
        """Each entry's stored vectors (`semsearch lint`); None when they stay in the engine."""
        return None

    def close(self) -> None:  # noqa: B027 - nothing to release unless an engine says so
        """Release the engine (a local store's lock)."""


#: What `Store.read` gives: the directory's index in memory, or an engine-backed one.
Opened = StoredIndex | EngineIndex


class Store(ABC):
    """Where an index is kept. The library's build (indexer.py) and `load` go through this."""

    location: IndexLocation

    def __str__(self) -> str:
        return str(self.location)

    @abstractmethod
    def read_manifest(self) -> Manifest:
        """The committed manifest. Raises IndexStoreError (naming the fix) when there is none or it is unusable."""

    @abstractmethod
    def has_manifest(self) -> bool:
        """Whether something here claims to be an index (usable, damaged or foreign)."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether anything is at the location at all."""

    @abstractmethod
    def read(self) -> Opened:
        """The committed index, opened. Raises IndexStoreError naming the fix when it is unusable."""

    def read_from(self, manifest: Manifest) -> Opened:
        """The committed index, opened, its `manifest` just read (`read_manifest`): a command reads the
        manifest once. By default the store reads both again."""
        return self.read()

    def holds(self, manifest: Manifest) -> bool:
        """Whether `manifest`, read earlier, is still the committed one (a build asks under its lock).
        By default the manifest is read again and compared."""
        try:
            return self.read_manifest().data == manifest.data
        except IndexStoreError:
            return False

    @abstractmethod
    def prepare(self, *, force: bool = False) -> None:
        """Create the location, or check that it may be written to (never clobbers what is not an index)."""

    def prepare_over(self, manifest: Manifest | None, *, force: bool = False) -> None:
        """`prepare`, for a location whose committed `manifest` was just read (None: none usable)."""
        self.prepare(force=force)

    def lock(
        self, timeout: float = 600.0, on_wait: Callable[[], None] | None = None
    ) -> contextlib.AbstractContextManager:
        """Held by a build while it writes; waits (calling `on_wait` once) up to `timeout` seconds."""
        return contextlib.nullcontext()

    @abstractmethod
    def vectors_by_hash(self, previous: Opened) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The stored vectors for reuse in a rebuild, by content hash: (chunk vectors, pseudo-query vectors)."""

    def use_vectors_by_hash(self, previous: Opened) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """`vectors_by_hash` for the Universal Sentence Encoder's side (empty when it has none)."""
        return {}, {}

    @abstractmethod
    def commit(self, generation: Generation, previous: Opened | None, *, force: bool = False) -> Opened:
        """Write `generation` and make it the index, atomically; returns it opened. Hold `lock`."""

    def remove_leftovers(self, manifest: Manifest | None = None) -> None:  # noqa: B027 - a store may leave nothing
        """Remove what failed, killed or replaced builds left beside the committed generation. Hold `lock`."""

    def close(self) -> None:  # noqa: B027 - a store may hold nothing open
        """Release what the store holds open."""
