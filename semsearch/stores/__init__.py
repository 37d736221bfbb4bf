"""Where an index is kept: one interface (`Store`, base.py), two kinds of store.

    directory.py     an index directory on disk (files.py's generations): the default
    qdrant.py        a Qdrant collection behind an alias, in local mode, Qdrant Edge, or a server
                     or cluster (its engines: qdrant_engines.py)

`open_store` picks the kind from the location (location.py). The Qdrant modules, and the engine
clients they import, load only for a Qdrant location: `semsearch ask` on a directory never pays them.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..location import IndexLocation, QdrantLocation, parse_location
from .base import EngineIndex, EntryVectors, Generation, Opened, Store

__all__ = ["Store", "Generation", "EngineIndex", "EntryVectors", "Opened", "open_store"]


def open_store(
    location: str | os.PathLike[str] | IndexLocation,
    *,
    timeout: float = 600.0,
    on_wait: Callable[[], None] | None = None,
) -> Store:
    """The store at `location` (a path or a URI, see location.py). Nothing is read or created yet.

    `timeout` and `on_wait`: how long to wait for a store that one process at a time may open (a
    local Qdrant store another process has open), and what to call once when waiting.
    Raises QueryError for a URI semsearch cannot use, IndexStoreError when its engine is not installed.
    """
    parsed = parse_location(location)
    if isinstance(parsed, QdrantLocation):
        from .qdrant import QdrantStore

        return QdrantStore(parsed, timeout=timeout, on_wait=on_wait)
    from .directory import DirectoryStore

    return DirectoryStore(parsed)
