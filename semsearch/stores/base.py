"""The store interface: where an index is kept, how a build commits a generation to it, and what
an engine-backed store answers for the query layer.

Two kinds of store implement `Store` (in the manner of txtai's `ann/` package: one interface, one
module per backend, one test over every backend, tests/test_stores.py):

    directory.py   the index directory (files.py): an in-memory index after `read`, scored by
                   search.py itself
    qdrant.py      a Qdrant collection behind an alias: `read` gives an `EngineIndex`, which the
                   engine scores (vectors, sparse TF-IDF, hubness prior, grouping by term)
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
from .files import ChunkRecord, DenseExtras, SecondSide, StoredIndex

__all__ = ["Store", "Generation", "EngineIndex", "Relevance", "Opened"]


@dataclass(frozen=True)
class Relevance:
    """A mode's raw relevance, as an engine computes it for each chunk:

        dense x cosine(question, chunk) - prior x the chunk's hubness prior
            + lexical x TF-IDF cosine(question, the chunk's term)

    and a term scores as its best chunk. search.py makes these from the same constants its own
    `fuse` uses (`relevance_formula`); tests/test_stores.py checks that both give the same scores.
    """

    dense: float
    lexical: float
    prior: float


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
    second: SecondSide | None = None  # the second encoder's side (an index directory only)


class EngineIndex(ABC):
    """An opened index that an engine scores: the term records are here, the vectors are there."""

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

    @abstractmethod
    def chunk_counts(self) -> list[int]:
        """How many chunks (vectors) each entry has."""

    @abstractmethod
    def relevance(
        self,
        formula: Relevance,
        vector: np.ndarray | None,
        text: str,
        *,
        terms: int = 0,
        entries: Sequence[int] = (),
    ) -> dict[int, float]:
        """Raw relevance by entry position: the best entry of each of the `terms` most relevant terms
        (entries sharing a name are one term), and every entry of `entries` that is a candidate.
        `vector` is the question's embedding (None when `formula.dense` is 0), `text` the question
        as searched (its lexical features are computed here, by semsearch, not by the engine)."""

    @abstractmethod
    def neighbours(self, position: int, n: int) -> list[int]:
        """Entry positions of the `n` chunks nearest the first chunk of the entry at `position`."""

    @abstractmethod
    def similarity(self, position: int, others: Sequence[int]) -> float:
        """The best cosine between the first chunk of the entry at `position` and any chunk of the
        entries `others` (NaN when there is none)."""

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

    @abstractmethod
    def commit(self, generation: Generation, previous: Opened | None, *, force: bool = False) -> Opened:
        """Write `generation` and make it the index, atomically; returns it opened. Hold `lock`."""

    def remove_leftovers(self, manifest: Manifest | None = None) -> None:  # noqa: B027 - a store may leave nothing
        """Remove what failed, killed or replaced builds left beside the committed generation. Hold `lock`."""

    def close(self) -> None:  # noqa: B027 - a store may hold nothing open
        """Release what the store holds open."""
