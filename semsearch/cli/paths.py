"""Where things live when the user does not say: the corpus and the index directory.

corpus: --corpus, else $SEMSEARCH_CORPUS, else ./corpus if present, else the bundled glossary
index:  --index,  else $SEMSEARCH_INDEX,  else ./index when the corpus is ./corpus,
        else a per-user cache directory keyed by the corpus path
        (--index and $SEMSEARCH_INDEX may be a Qdrant URI: location.py)
models: converted encoder weights, once per user: $XDG_CACHE_HOME/semsearch/models (userdirs.py)
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import IndexStoreError
from ..location import IndexLocation, parse_location
from ..userdirs import cache_base

__all__ = ["Locations", "bundled_corpus", "cache_index_dir", "resolve"]

ENV_CORPUS = "SEMSEARCH_CORPUS"
ENV_INDEX = "SEMSEARCH_INDEX"


@dataclass(frozen=True)
class Locations:
    """Where the corpus and the index are, and which rule chose each."""

    corpus: tuple[Path, ...]
    index: IndexLocation  # a directory, or a Qdrant store
    corpus_origin: str  # "--corpus", "$SEMSEARCH_CORPUS", "./corpus", "bundled"
    index_origin: str  # "--index", "$SEMSEARCH_INDEX", "./index", "cache"

    @property
    def corpus_explicit(self) -> bool:
        return self.corpus_origin in ("--corpus", f"${ENV_CORPUS}")

    @property
    def index_explicit(self) -> bool:
        return self.index_origin in ("--index", f"${ENV_INDEX}")

    @property
    def index_corpus(self) -> tuple[Path, ...] | None:
        """The corpus a command uses with its index. None means the one the index records: an index
        named without a corpus is never rebuilt from ./corpus or the bundled glossary."""
        return None if self.index_explicit and not self.corpus_explicit else self.corpus


def bundled_corpus() -> Path:
    """The glossary shipped with semsearch: inside the installed package, or the checkout's corpus/."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "glossary", package.parent / "corpus"):
        if candidate.is_dir():
            return candidate
    return package / "glossary"  # reading it will say it is missing


def cache_index_dir(corpus: Sequence[Path], env: Mapping[str, str] = os.environ) -> Path:
    """A per-user index directory for a corpus, keyed by the corpus path(s). Raises IndexStoreError
    when there is no usable cache folder."""
    base = cache_base(env)
    if base is None:
        home = env.get("HOME", "")
        why = f"$HOME ({home}) is not a folder" if home else "$HOME is not set"
        raise IndexStoreError(
            f"no per-user cache folder for the index: {why}; give --index DIR, or set "
            f"${ENV_INDEX} or $XDG_CACHE_HOME to an absolute path"
        )
    resolved = "\n".join(dict.fromkeys(str(p.resolve()) for p in corpus))  # a folder named twice is one corpus
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", corpus[0].resolve().name or "corpus")[:40]
    return base / f"{slug}-{hashlib.sha256(resolved.encode()).hexdigest()[:12]}"


def resolve(
    corpus: Sequence[str | os.PathLike[str]] | None,
    index: str | os.PathLike[str] | None,
    *,
    env: Mapping[str, str] = os.environ,
    cwd: Path | None = None,
) -> Locations:
    """Apply the defaults in this module's docstring."""
    cwd = cwd or Path.cwd()
    local_corpus = cwd / "corpus"
    if corpus:
        paths, corpus_origin = tuple(Path(p) for p in corpus), "--corpus"
    elif env.get(ENV_CORPUS):
        paths, corpus_origin = tuple(Path(p) for p in env[ENV_CORPUS].split(os.pathsep) if p), f"${ENV_CORPUS}"
    elif local_corpus.is_dir():
        paths, corpus_origin = (Path("corpus"),), "./corpus"
    else:
        paths, corpus_origin = (bundled_corpus(),), "bundled"

    if index:
        return Locations(paths, parse_location(index), corpus_origin, "--index")
    if env.get(ENV_INDEX):
        return Locations(paths, parse_location(env[ENV_INDEX]), corpus_origin, f"${ENV_INDEX}")
    if len(paths) == 1 and (cwd / paths[0]).resolve() == local_corpus.resolve():
        return Locations(paths, Path("index"), corpus_origin, "./index")
    return Locations(paths, cache_index_dir(paths, env), corpus_origin, "cache")
