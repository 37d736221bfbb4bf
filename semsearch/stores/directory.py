"""The index directory as a `Store`: files.py's generations, unchanged (the default store)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..ann import build_ann
from ..manifest import MANIFEST, Manifest
from . import files
from .base import Generation, Opened, Store
from .files import StoredIndex

__all__ = ["DirectoryStore"]


class DirectoryStore(Store):
    """An index directory (see files.py for its layout and how a generation is committed)."""

    location: Path

    def __init__(self, path: Path) -> None:
        self.location = Path(path)
        self._seen: tuple[Manifest, tuple[int, ...] | None] | None = None  # the manifest last read, and its stamp

    def _stamp(self) -> tuple[int, ...] | None:
        """What changes when a build commits: the manifest is replaced (a new file), never rewritten."""
        try:
            stat = (self.path / MANIFEST).stat()
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)

    @property
    def path(self) -> Path:
        return self.location

    def read_manifest(self) -> Manifest:
        stamp = self._stamp()  # before reading: a commit in between makes `holds` read it again
        manifest = files.read_manifest(self.path)
        self._seen = (manifest, stamp)
        return manifest

    def holds(self, manifest: Manifest) -> bool:
        if self._seen is not None and self._seen[0] is manifest and self._seen[1] is not None:
            return self._stamp() == self._seen[1]  # the file it was read from is still the manifest
        return super().holds(manifest)

    def has_manifest(self) -> bool:
        return (self.path / MANIFEST).exists()

    def exists(self) -> bool:
        return self.path.is_dir()

    def read(self) -> StoredIndex:
        return files.read_index(self.path)

    def read_from(self, manifest: Manifest) -> StoredIndex:
        return files.read_index(self.path, manifest)

    def prepare(self, *, force: bool = False) -> None:
        files.prepare_index_dir(self.path, force=force)

    def prepare_over(self, manifest: Manifest | None, *, force: bool = False) -> None:
        if manifest is not None and self.holds(manifest):
            return  # a usable manifest of ours: prepare_index_dir would read it and find nothing to do
        self.prepare(force=force)

    def lock(
        self, timeout: float = 600.0, on_wait: Callable[[], None] | None = None
    ) -> contextlib.AbstractContextManager:
        return files.build_lock(self.path, timeout=timeout, on_wait=on_wait)

    def vectors_by_hash(self, previous: Opened) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        assert isinstance(previous, StoredIndex)
        return files.vectors_by_hash(previous)

    def use_vectors_by_hash(self, previous: Opened) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        assert isinstance(previous, StoredIndex)
        return files.use_vectors_by_hash(previous)

    def commit(self, generation: Generation, previous: Opened | None, *, force: bool = False) -> StoredIndex:
        ann = build_ann(generation.vectors)
        manifest = files.write_index(
            self.path,
            terms=generation.terms,
            term_ids=generation.term_ids,
            chunks=generation.chunks,
            ann=ann,
            lexical=generation.lexical,
            dense=generation.dense,
            use=generation.use,
            manifest_fields=generation.manifest_fields,
        )
        return StoredIndex(
            self.path,
            manifest,
            list(generation.terms),
            list(generation.term_ids),
            list(generation.chunks),
            ann,
            generation.lexical,
            generation.dense,
            generation.use,
        )

    def remove_leftovers(self, manifest: Manifest | None = None) -> None:
        files.remove_leftovers(self.path, manifest)
