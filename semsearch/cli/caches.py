"""The indexes semsearch keeps for a user: the per-user cache (`$XDG_CACHE_HOME/semsearch/indexes/`,
where an index goes when no --index is given and the corpus is not ./corpus), and the indexes the
user built elsewhere with `semsearch build CORPUS --index DIR`, remembered so that a later
`ask --corpus CORPUS` uses that index instead of building a second copy in the cache.

- `cached_indexes` lists the cache: each index's corpus, size, and when it was last used (the
  modification time of its `.used` file, which a command touches when it opens a cached index:
  `mark_used`; else when it was built);
- `remove` deletes one, under its build lock (never while a build writes it; a link is unlinked,
  never followed);
- `remember` and `remembered` keep the indexes built elsewhere in
  `$XDG_STATE_HOME/semsearch/indexes.json` (beside the shell's history), at most REMEMBERED of them;
- `shared_weights` lists the converted model weights every index of the user shares
  (`$XDG_CACHE_HOME/semsearch/models/`, encoders/weights.py), each with the indexes semsearch knows
  of that name it in their manifest: those in the cache and those `build --index` made elsewhere.
  An index semsearch does not know of (a `./index`, one the library built) may use weights no
  index listed here names: `remove_weights` of them only costs that index a conversion (seconds)
  the next time it is used. The installed encoder's own weights are always kept.

Library code: raises (IndexStoreError, IndexLockedError) and never prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..corpus import resolved_roots
from ..encoders import weights
from ..errors import IndexStoreError
from ..manifest import MANIFEST
from ..stores.files import DATA_PREFIX, LOCK, USED, build_lock, read_manifest
from ..userdirs import cache_base, user_dir, weights_base

__all__ = [
    "CachedIndex",
    "SharedWeights",
    "cached_indexes",
    "mark_used",
    "remember",
    "remembered",
    "remove",
    "shared_weights",
    "remove_weights",
]

#: How many indexes built elsewhere are remembered (the most recent).
REMEMBERED = 100
REGISTRY = "indexes.json"


@dataclass(frozen=True)
class CachedIndex:
    """An index directory in the per-user cache."""

    name: str  # its folder's name, `<corpus folder>-<hash of the corpus paths>`
    path: Path
    corpus: tuple[str, ...]  # the folders it was built from; () when its manifest cannot say
    size: int  # bytes on disk
    last_used: float  # seconds since the epoch: when a command last opened it (or it was built)
    problem: str | None = None  # why it is not a usable index (None when its manifest reads)

    @property
    def corpus_missing(self) -> bool:
        """Whether its corpus is gone (or unknown): it can never be refreshed, only removed."""
        return not self.corpus or not all(Path(root).is_dir() for root in self.corpus)

    def to_dict(self) -> dict[str, Any]:
        """As `semsearch cache --json` lists it."""
        return {
            "name": self.name,
            "path": str(self.path),
            "corpus": list(self.corpus),
            "corpus_missing": self.corpus_missing,
            "bytes": self.size,
            "last_used": datetime.fromtimestamp(self.last_used, timezone.utc).isoformat(timespec="seconds"),
            "problem": self.problem,
        }


_size = weights.folder_size


def _describe(path: Path) -> CachedIndex:
    times = []
    for name in (USED, MANIFEST):
        with contextlib.suppress(OSError):
            times.append(os.stat(path / name, follow_symlinks=False).st_mtime)
    last_used = max(times) if times else os.lstat(path).st_mtime
    try:
        corpus, problem = read_manifest(path).roots, None
    except IndexStoreError as error:
        corpus, problem = (), str(error)
    return CachedIndex(path.name, path, tuple(corpus), _size(path), last_used, problem)


def _is_index(entry: Path) -> bool:
    """A folder semsearch made: a manifest, a build lock, a `.used` mark or a generation in it.
    Anything else a user keeps in the cache folder is neither listed nor ever removed."""
    if entry.is_symlink() or not entry.is_dir():
        return False
    with contextlib.suppress(OSError):
        return any(
            child.name in (MANIFEST, LOCK, USED) or child.name.startswith(DATA_PREFIX) for child in entry.iterdir()
        )
    return False


def cached_indexes(env: Mapping[str, str] = os.environ) -> tuple[Path | None, list[CachedIndex]]:
    """The cache folder (None without a usable one) and the indexes in it, least recently used first."""
    base = cache_base(env)
    if base is None or not base.is_dir():
        return base, []
    found = [_describe(entry) for entry in sorted(base.iterdir()) if _is_index(entry)]
    return base, sorted(found, key=lambda entry: (entry.last_used, entry.name))


def mark_used(index_dir: Path) -> None:
    """Note that a command opened the cached index at `index_dir`: its `.used` file is touched
    (created empty, never through a link; nothing when the folder cannot be written)."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    with contextlib.suppress(OSError, NotImplementedError):
        fd = os.open(index_dir / USED, flags, 0o644)
        try:
            os.utime(fd if os.utime in os.supports_fd else index_dir / USED)
        finally:
            os.close(fd)


def remove(entry: CachedIndex) -> None:
    """Delete a cached index, unless a build is writing it (IndexLockedError)."""
    path = entry.path
    if path.is_symlink():
        path.unlink()
        return
    with build_lock(path, timeout=0):
        shutil.rmtree(path)


# -- the indexes built elsewhere ------------------------------------------------------------------


def _registry(env: Mapping[str, str]) -> Path | None:
    base = user_dir("XDG_STATE_HOME", ".local/state", env)
    return base / "semsearch" / REGISTRY if base is not None else None


def _read_registry(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return []
    entries = data.get("indexes") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return []
    return [
        e
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("index"), str)
        and isinstance(e.get("corpus"), list)
        and all(isinstance(r, str) for r in e["corpus"])
    ]


def remember(index_dir: Path, corpus: Sequence[str], env: Mapping[str, str] = os.environ) -> None:
    """Remember that the index at `index_dir` (outside the cache) holds `corpus`. Best effort: a
    state folder that cannot be written only means nothing is remembered."""
    path = _registry(env)
    if path is None:
        return
    index = str(index_dir.resolve())
    entries = [e for e in _read_registry(path) if e["index"] != index]
    entries.append({"index": index, "corpus": list(corpus)})
    text = json.dumps({"indexes": entries[-REMEMBERED:]}, ensure_ascii=False, indent=1)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{REGISTRY}.{os.getpid()}.tmp")
        temporary.write_text(text + "\n", encoding="utf-8")
        os.replace(temporary, path)


def remembered(corpus: Sequence[str | os.PathLike[str]], env: Mapping[str, str] = os.environ) -> Path | None:
    """The index a `semsearch build --index DIR` made of exactly these corpus folders, the most recent
    one that is still there and still says so in its manifest; None when there is none."""
    path = _registry(env)
    if path is None:
        return None
    roots = list(resolved_roots(corpus))
    for entry in reversed(_read_registry(path)):
        if entry["corpus"] != roots:
            continue
        index = Path(entry["index"])
        with contextlib.suppress(IndexStoreError, OSError):
            if list(read_manifest(index).roots) == roots:
                return index
    return None


# -- the shared weights ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedWeights:
    """A folder of converted model weights that indexes share (encoders/weights.py)."""

    key: str
    path: Path
    size: int  # bytes on disk
    used_by: tuple[str, ...]  # the indexes semsearch knows of that name this key in their manifest
    installed: bool  # the installed encoder's own: what every new build uses
    problem: str | None = None  # why it cannot be used (its meta.json), None when it reads

    @property
    def unused(self) -> bool:
        """Whether no index semsearch knows of uses it, and the installed encoder would not."""
        return not self.used_by and not self.installed

    def to_dict(self) -> dict[str, Any]:
        """As `semsearch cache --json` lists it."""
        return {
            "key": self.key,
            "path": str(self.path),
            "bytes": self.size,
            "used_by": list(self.used_by),
            "installed": self.installed,
            "problem": self.problem,
        }


def _known_indexes(env: Mapping[str, str]) -> list[Path]:
    """The index directories semsearch knows of: those in the cache, those built elsewhere."""
    base = cache_base(env)
    known = (
        [entry for entry in sorted(base.iterdir()) if _is_index(entry)] if base is not None and base.is_dir() else []
    )
    registry = _registry(env)
    if registry is not None:
        known += [Path(entry["index"]) for entry in _read_registry(registry)]
    return known


def shared_weights(env: Mapping[str, str] = os.environ) -> tuple[Path | None, list[SharedWeights]]:
    """The folder of shared weights (None without a usable one) and the weights in it, by key."""
    from ..encoders.use import source_key

    root = weights_base(env)
    used: dict[str, list[str]] = {}
    for index in _known_indexes(env):
        with contextlib.suppress(IndexStoreError, OSError):
            key = read_manifest(index).second.get("weights")
            if weights.valid_key(key):
                used.setdefault(str(key), []).append(str(index))
    installed = source_key()
    found = [
        SharedWeights(e.key, e.path, e.size, tuple(used.get(e.key, ())), e.key == installed, e.problem)
        for e in weights.entries(root)
    ]
    return root, found


def remove_weights(entry: SharedWeights) -> None:
    """Delete a folder of shared weights, unless a process is converting it (IndexLockedError). A
    process that has them loaded keeps its copies; an index that names them converts them again."""
    from ..errors import IndexLockedError

    try:
        weights.remove(entry.path.parent, entry.key)
    except weights.Busy:
        raise IndexLockedError(f"another semsearch is converting {entry.key}; try again later") from None
