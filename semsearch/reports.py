"""What an index says about itself: the report of the build that made it (`BuildReport`, what
`semsearch build` prints) and its description (`IndexDescription`, what `semsearch info` prints).
Records with `to_dict()`, so the CLI prints them without reaching into the store or the encoders.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .encoders import engine_name
from .errors import IndexStoreError
from .location import IndexLocation, location_text
from .manifest import Manifest
from .staleness import stale_reason
from .stores import open_store

__all__ = ["BuildReport", "IndexDescription", "describe"]


@dataclass(frozen=True)
class BuildReport:
    """What a build did."""

    index_dir: str
    files: int
    terms: int
    chunks: int
    embedded: int
    reused: int
    skipped: tuple[str, ...]
    seconds: float
    written: bool  # False when the index was already up to date
    encoder: str
    skipped_files: int = 0  # files (or folders) left out whole
    skipped_terms: int = 0  # headings left out (no names)
    query_prompt: str = ""
    passage_prompt: str = ""
    replaced: tuple[str, ...] = ()  # the corpus of the index this build replaced, when it was another one
    use_encoder: str = ""  # the id of the USE encoder whose side the index has ("": none)
    use_embedded: int = 0  # texts the USE encoder embedded (the rest of its side was reused)
    # Its warnings (files skipped, entries cut short), and those of them not said again because the
    # build before it said them (a rebuild repeats nothing it has not changed).
    warnings: tuple[str, ...] = ()
    repeated: tuple[str, ...] = ()
    store: dict[str, Any] = field(default_factory=dict)  # what an engine-backed store wrote ({} for a directory)

    def to_dict(self) -> dict[str, Any]:
        """The report as `semsearch build --json` prints it."""
        return {
            "index": self.index_dir,
            "files": self.files,
            "terms": self.terms,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "reused": self.reused,
            "seconds": self.seconds,
            "written": self.written,
            "encoder": self.encoder,
            "skipped": list(self.skipped),
            "skipped_files": self.skipped_files,
            "skipped_terms": self.skipped_terms,
            "replaced": list(self.replaced),
            "warnings": list(self.warnings),
            "prompts": {"query": self.query_prompt, "passage": self.passage_prompt},
            "second": {"encoder": self.use_encoder, "embedded": self.use_embedded} if self.use_encoder else None,
            **({"store": self.store} if self.store else {}),
        }


@dataclass(frozen=True)
class IndexDescription:
    """What an index is, from its manifest (`semsearch info`): it describes an index whose data files
    are damaged too, and says so (`damage`: why `ask` would refuse it, None when sound)."""

    path: IndexLocation  # its directory, or the Qdrant store
    corpus: tuple[str, ...]  # the folders it was built from
    encoder: dict[str, Any]  # the encoder's spec
    engine: str | None  # for the embedded encoder, the C engine that embeds questions here
    chunking: dict[str, Any]
    ann: dict[str, Any]
    counts: dict[str, int]
    built_at: str
    build_seconds: float
    format_version: int
    stale_reason: str | None  # why a command would rebuild it (staleness.py), None when fresh
    damage: str | None = None  # why its data files cannot be loaded (with the fix), None when sound
    use: dict[str, Any] = field(default_factory=dict)  # the USE encoder's spec (manifest "second"; {}: none)
    use_weights: str | None = None  # where the USE encoder's weights load from (encoders/use.py)
    # Its converted weights, shared by every index of the user (`use.weights_status`): key, path,
    # bytes, state; None without the side.
    shared_weights: dict[str, Any] | None = None
    size: int | None = None  # bytes the index directory takes on disk (None for a Qdrant store)

    @classmethod
    def of(
        cls,
        path: IndexLocation,
        manifest: Manifest,
        corpus: Sequence[str | os.PathLike[str]] | None = None,
        damage: str | None = None,
    ) -> IndexDescription:
        roots = list(corpus) if corpus is not None else list(manifest.roots)
        shared = _shared_weights(path, manifest)
        return cls(
            path,
            manifest.roots,
            manifest.encoder,
            engine_name(manifest.encoder),
            manifest.chunking,
            manifest.ann,
            manifest.counts,
            manifest.built_at,
            manifest.build_seconds,
            manifest.format_version,
            stale_reason(manifest, roots),
            damage,
            manifest.second,
            shared["note"] if shared is not None else None,
            shared,
            _size(path),
        )

    def to_dict(self) -> dict[str, Any]:
        """The description as `semsearch info --json` prints it."""
        return {
            "index": location_text(self.path),
            "corpus": list(self.corpus),
            "encoder": self.encoder,
            "engine": self.engine,
            "chunking": self.chunking,
            "ann": self.ann,
            "counts": self.counts,
            "built_at": self.built_at,
            "build_seconds": self.build_seconds,
            "format_version": self.format_version,
            "stale": self.stale_reason is not None,
            "stale_reason": self.stale_reason,
            "damaged": self.damage is not None,
            "damage": self.damage,
            "second_encoder": self.use or None,
            "second_weights": self.use_weights,
            "shared_weights": self.shared_weights,
            "bytes": self.size,
        }


def _shared_weights(path: IndexLocation, manifest: Manifest) -> dict[str, Any] | None:
    if not manifest.second:  # no USE side (a directory or a Qdrant store may have one)
        return None
    from .encoders.use import weights_status

    return weights_status()


def _size(path: IndexLocation) -> int | None:
    """Bytes the index directory takes (links not followed), shared weights not counted."""
    if not isinstance(path, Path):
        return None
    from .encoders.weights import folder_size

    return folder_size(path)


def describe(
    index_dir: str | os.PathLike[str] | IndexLocation = "index",
    corpus: Sequence[str | os.PathLike[str]] | None = None,
) -> IndexDescription:
    """Describe an index (a directory or a Qdrant store) from its manifest, its data checked as `ask`
    checks it (`Index.describe` describes an open one). Raises IndexStoreError when there is no usable
    manifest."""
    store = open_store(index_dir)
    manifest = store.read_manifest()
    try:
        store.read()
        damage = None
    except IndexStoreError as error:
        damage = str(error)
    return IndexDescription.of(store.location, manifest, corpus, damage)
