"""The vectors a build writes: each chunk's, the hubness priors', the second encoder's side; stored
vectors reused by content hash, each new text embedded once (building.py calls these)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .chunking import Chunk, whole_term_chunks
from .corpus import Corpus
from .encoders import Encoder, use_encoder
from .hubness import chunk_priors, pseudo_queries
from .stores import Opened, Store
from .stores.files import DenseExtras, UseSide

if TYPE_CHECKING:
    from .ray_embed import Embeddings

__all__ = ["Progress", "chunk_vectors", "dense_extras", "use_side", "wanted_use", "reuse_or_embed"]

Progress = Callable[[int, int], None]
Vectors = dict[str, np.ndarray]


def reuse_or_embed(
    items: Sequence[tuple[str, str]],
    reuse: Vectors,
    encode: Callable[..., np.ndarray],
    dim: int,
    progress: Progress | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for (content hash, text) items: stored ones reused, each new text embedded once.

    Returns the (len(items), dim) vectors and how many texts were embedded.
    """
    missing: dict[str, str] = {}
    for digest, text in items:
        if digest not in reuse:
            missing.setdefault(digest, text)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, len(missing))

    by_hash = dict(reuse)
    if missing:
        if progress:
            progress(0, len(missing))
        fresh = encode(list(missing.values()), progress=step) if progress else encode(list(missing.values()))
        by_hash.update(zip(missing, fresh, strict=True))
    vectors = np.zeros((len(items), dim), dtype=np.float32)
    for row, (digest, _) in enumerate(items):
        vectors[row] = by_hash[digest]
    return vectors, len(missing)


def chunk_vectors(
    store: Store,
    previous: Opened | None,
    chunks: Sequence[Chunk],
    encoder: Encoder,
    *,
    force: bool = False,
    embeddings: Embeddings | None = None,
    ray: str | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, int, Vectors]:
    """The chunks' vectors: those `previous` (for the same encoder, unless `force`) or the
    `embeddings` cache holds reused, the rest embedded (as a Ray job when `ray` names where).
    Returns the vectors, how many were embedded, and the pseudo-query vectors there are to reuse."""
    if previous is not None and previous.manifest.encoder.get("id") == encoder.id and not force:
        reuse, reuse_pseudo = store.vectors_by_hash(previous)
    else:
        reuse, reuse_pseudo = {}, {}
    if embeddings is not None:  # keyed by the hash of what was embedded: chunks, and questions (pseudo)
        cached = embeddings.by_hash(encoder.id)
        reuse, reuse_pseudo = {**cached, **reuse}, {**cached, **reuse_pseudo}
    on_ray = _embed_on_ray(chunks, reuse, encoder, ray, progress) if ray is not None else {}
    vectors, embedded = reuse_or_embed(
        [(c.sha256, c.text) for c in chunks], {**reuse, **on_ray}, encoder.encode_passages, encoder.dim, progress
    )
    return vectors, embedded + len(on_ray), reuse_pseudo


def _embed_on_ray(
    chunks: Sequence[Any], reuse: Vectors, encoder: Encoder, address: str, progress: Progress | None
) -> Vectors:
    """The vectors of the chunks `reuse` does not hold, embedded as a Ray Data job (ray_embed.py)."""
    missing = {c.sha256: c.text for c in chunks if c.sha256 not in reuse}
    if not missing:
        return {}
    from .ray_embed import embed_on_ray

    return embed_on_ray(missing, encoder, address, progress=progress).by_hash(encoder.id)


def dense_extras(corpus: Corpus, encoder: Encoder, vectors: np.ndarray, reuse: Vectors) -> DenseExtras:
    """Hubness priors of the chunks, from the glossary's names embedded as queries (none, and no
    query encoding, for encoders that do not use them)."""
    if not encoder.hubness_beta:
        return DenseExtras(np.zeros(len(vectors), dtype=np.float32), [], np.zeros((0, encoder.dim), np.float32))
    texts = pseudo_queries([name for term in corpus.terms for name in term.names])
    items = [(hashlib.sha256(f"query\0{t}".encode()).hexdigest(), t) for t in texts]
    pseudo, _ = reuse_or_embed(items, reuse, encoder.encode_queries, encoder.dim)
    return DenseExtras(chunk_priors(vectors, pseudo), [digest for digest, _ in items], pseudo)


def wanted_use(encoder: Encoder, store: Store, ensemble: bool) -> Encoder | None:
    """The second encoder a build of `encoder`'s index makes a side for (None: no side), in every
    kind of store. Its converted weights live once per user (encoders/weights.py), the manifest
    names them by key."""
    if not ensemble:
        return None
    return use_encoder(encoder.spec())


def use_side(
    store: Store, previous: Opened | None, corpus: Corpus, use: Encoder | None, force: bool
) -> tuple[UseSide | None, int]:
    """The second encoder's side (None without one): each term's whole entry and its names
    (`whole_term_chunks`), with hubness priors from the glossary's names; the vectors `previous`
    holds for the same encoder reused by content hash. Returns the side and how many texts were
    embedded."""
    if use is None:
        return None, 0
    reuse: Vectors = {}
    reuse_pseudo: Vectors = {}
    same = previous is not None and previous.manifest.second.get("id") == use.id
    if same and not force and previous is not None:
        reuse, reuse_pseudo = store.use_vectors_by_hash(previous)
    pieces = whole_term_chunks(corpus.terms)
    vectors, embedded = reuse_or_embed([(c.sha256, c.text) for c in pieces], reuse, use.encode_passages, use.dim)
    extras = dense_extras(corpus, use, vectors, reuse_pseudo)
    rows = np.array([c.term_position for c in pieces], dtype=np.int64)
    return UseSide(vectors, rows, [c.sha256 for c in pieces], extras), embedded
