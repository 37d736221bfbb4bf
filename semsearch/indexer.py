"""Building an index: corpus -> chunks -> vectors -> index directory, incrementally.

A rebuild embeds only chunks whose content hash the previous index does not hold (for the same
encoder) and reuses the stored vectors of the rest; `force` embeds everything.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .ann import build_ann
from .chunking import ChunkSettings, chunk_terms, term_ids
from .corpus import Corpus, read_corpus, resolved_roots
from .encoders import Encoder, default_encoder, encoder_for, load_encoder
from .errors import EncoderError, IndexMismatchError, IndexStoreError, IndexVersionError
from .hubness import chunk_priors, pseudo_queries
from .lexical import LexicalIndex, lexical_spec, term_document
from .search import Index
from .store import (
    FIX,
    FORMAT_VERSION,
    MANIFEST,
    ChunkRecord,
    DenseExtras,
    StoredIndex,
    build_lock,
    built_from_other_corpus,
    file_fingerprints,
    prepare_index_dir,
    read_index,
    read_manifest,
    remove_leftovers,
    stale_reason,
    vectors_by_hash,
    write_index,
)

__all__ = ["BuildReport", "build", "open_index", "recorded_corpus"]

log = logging.getLogger(__name__)

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
Progress = Callable[[int, int], None]


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
    replaced: tuple[str, ...] = ()  # the corpus of the index this build replaced, when it was another one


def _roots(corpus: Paths) -> list[str | os.PathLike[str]]:
    return [corpus] if isinstance(corpus, (str, os.PathLike)) else list(corpus)


def _reason(error: IndexStoreError) -> str:
    """The error without its "run `semsearch build --force`" advice, for messages that say what is done."""
    text = str(error)
    for advice in (f"; {FIX}", f"; upgrade semsearch or {FIX}"):
        text = text.removesuffix(advice)
    return text


def _previous(index_dir: Path, roots: Sequence[str | os.PathLike[str]]) -> StoredIndex | None:
    try:
        return read_index(index_dir)
    except IndexStoreError as error:
        if (index_dir / MANIFEST).exists():
            log.warning(
                "index at %s is unusable (%s); rebuilding it from %s",
                index_dir,
                _reason(error),
                ", ".join(map(str, roots)),
            )
        return None


def _recorded_encoder(index_dir: Path, previous: StoredIndex | None) -> Encoder | None:
    if previous is not None:
        return load_encoder(previous.manifest.encoder)
    try:
        return load_encoder(read_manifest(index_dir).encoder)
    except IndexStoreError:
        return None


def _settings_for(encoder: Encoder, settings: ChunkSettings | None = None) -> ChunkSettings:
    """The chunking settings a build uses: as given (or the defaults), within the encoder's window."""
    base = settings or ChunkSettings()
    return ChunkSettings(**{**base.to_dict(), "max_tokens": min(base.max_tokens, encoder.max_tokens)})


def _recorded_settings(chunking: dict[str, Any]) -> ChunkSettings | None:
    """The settings an index was built with, under this version's rules (None: the defaults)."""
    try:
        return ChunkSettings(**{**chunking, "version": ChunkSettings().version})
    except TypeError:
        return None


def _up_to_date(
    previous: StoredIndex, roots: Sequence[str | os.PathLike[str]], encoder: Encoder, settings: ChunkSettings
) -> bool:
    manifest = previous.manifest
    return (
        manifest.format_version == FORMAT_VERSION
        and manifest.encoder == encoder.spec()
        and manifest.chunking == settings.to_dict()
        and manifest.lexical == lexical_spec()
        and stale_reason(manifest, roots) is None
    )


def _reuse_or_embed(
    items: Sequence[tuple[str, str]],
    reuse: dict[str, np.ndarray],
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


def _dense_extras(corpus: Corpus, encoder: Encoder, vectors: np.ndarray, reuse: dict[str, np.ndarray]) -> DenseExtras:
    """Hubness priors of the chunks, from the glossary's names embedded as queries (none, and no
    query encoding, for encoders that do not use them)."""
    if not encoder.hubness_beta:
        return DenseExtras(np.zeros(len(vectors), dtype=np.float32), [], np.zeros((0, encoder.dim), np.float32))
    texts = pseudo_queries([name for term in corpus.terms for name in term.names])
    items = [(hashlib.sha256(f"query\0{t}".encode()).hexdigest(), t) for t in texts]
    pseudo, _ = _reuse_or_embed(items, reuse, encoder.encode_queries, encoder.dim)
    return DenseExtras(chunk_priors(vectors, pseudo), [digest for digest, _ in items], pseudo)


def build(
    corpus: Paths,
    index_dir: str | os.PathLike[str] = "index",
    *,
    encoder: Encoder | None = None,
    model: str | None = None,
    force: bool = False,
    strict: bool = False,
    settings: ChunkSettings | None = None,
    progress: Progress | None = None,
    lock_timeout: float = 600.0,
    on_wait: Callable[[], None] | None = None,
) -> Index:
    """Build (or bring up to date) the index of the glossary folder(s) `corpus` in `index_dir`.

    The encoder is `encoder`, else `model` (a sentence-transformers name or folder, or "embedded"),
    else the one the existing index was built with, else the embedded multilingual-e5-small.
    Returns the opened index; `index.build_report` tells what was done. An index already up to
    date is left untouched unless `force`. Raises CorpusError, IndexStoreError, EncoderError.
    """
    if encoder is None and model is not None:
        encoder = encoder_for(model)
    started = time.perf_counter()
    roots = _roots(corpus)
    index_path = Path(index_dir)
    corpus_data = read_corpus(roots, strict=strict)
    prepare_index_dir(index_path, force=force)
    with build_lock(index_path, timeout=lock_timeout, on_wait=on_wait):
        previous = _previous(index_path, roots)
        # Without an explicit encoder, an index keeps the encoder it was built with (even when
        # its data files are damaged, as long as its manifest can still say which).
        encoder = encoder or _recorded_encoder(index_path, previous) or default_encoder()
        settings = _settings_for(encoder, settings)
        if previous is not None and not force and _up_to_date(previous, roots, encoder, settings):
            remove_leftovers(index_path, previous.manifest)  # of builds killed after their commit
            index = Index(previous, encoder)
            chunks = len(previous.chunks)
            index.build_report = _report(index_path, corpus_data, chunks, 0, chunks, started, False, encoder)
            return index
        replaced = _other_corpus(index_path, previous, corpus_data.roots)
        same_encoder = previous is not None and previous.manifest.encoder.get("id") == encoder.id
        reuse, reuse_pseudo = vectors_by_hash(previous) if same_encoder and not force else ({}, {})
        chunks = chunk_terms(corpus_data.terms, settings, encoder.count_tokens)
        vectors, embedded = _reuse_or_embed(
            [(c.sha256, c.text) for c in chunks], reuse, encoder.encode_passages, encoder.dim, progress
        )
        records = [ChunkRecord(c.id, c.term, c.part, c.sha256) for c in chunks]
        dense = _dense_extras(corpus_data, encoder, vectors, reuse_pseudo)
        ann = build_ann(vectors)
        lexical = LexicalIndex.build([term_document(t.names, t.body) for t in corpus_data.terms])
        ids = term_ids(corpus_data.terms)
        seconds = time.perf_counter() - started
        manifest = write_index(
            index_path,
            terms=corpus_data.terms,
            term_ids=ids,
            chunks=records,
            ann=ann,
            lexical=lexical,
            dense=dense,
            manifest_fields={
                "encoder": encoder.spec(),
                "chunking": settings.to_dict(),
                "lexical": lexical_spec(),
                "roots": corpus_data.roots,
                "files": file_fingerprints(corpus_data),
                "counts": {
                    "files": len(corpus_data.files),
                    "terms": len(corpus_data.terms),
                    "chunks": len(records),
                    "skipped": len(corpus_data.skipped),
                },
                "skipped": tuple(str(s) for s in corpus_data.skipped),
                "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "build_seconds": round(seconds, 3),
                "semsearch_version": __version__,
            },
        )
    stored = StoredIndex(index_path, manifest, list(corpus_data.terms), ids, records, ann, lexical, dense)
    index = Index(stored, encoder)
    index.build_report = _report(
        index_path, corpus_data, len(records), embedded, len(records) - embedded, started, True, encoder, replaced
    )
    return index


def _report(
    index_dir: Path,
    corpus: Corpus,
    chunks: int,
    embedded: int,
    reused: int,
    started: float,
    written: bool,
    encoder: Encoder,
    replaced: tuple[str, ...] = (),
) -> BuildReport:
    return BuildReport(
        str(index_dir),
        len(corpus.files),
        len(corpus.terms),
        chunks,
        embedded,
        reused,
        tuple(str(s) for s in corpus.skipped),
        time.perf_counter() - started,
        written,
        encoder.id,
        skipped_files=sum(1 for s in corpus.skipped if s.line is None),
        skipped_terms=sum(1 for s in corpus.skipped if s.line is not None),
        replaced=replaced,
    )


def _built_from(index_dir: Path) -> list[str] | None:
    """The corpus folders a damaged index was built from, when its manifest still says and they exist."""
    roots = _recorded_roots(index_dir)
    return list(roots) if roots and all(Path(r).exists() for r in roots) else None


def _other_corpus(index_dir: Path, previous: StoredIndex | None, roots: tuple[str, ...]) -> tuple[str, ...]:
    """The corpus folders of the index about to be replaced when they are not `roots` (else ())."""
    recorded = previous.manifest.roots if previous is not None else _recorded_roots(index_dir)
    return tuple(recorded) if recorded and tuple(recorded) != roots else ()


def _recorded_roots(index_dir: Path) -> tuple[str, ...] | None:
    """The corpus folders an index's manifest names (None when there is no readable manifest)."""
    try:
        return read_manifest(index_dir).roots
    except IndexStoreError:
        return None


def recorded_corpus(index_dir: str | os.PathLike[str]) -> list[str]:
    """The corpus folders the index at `index_dir` was built from, for rebuilding it from its own corpus.

    Raises IndexStoreError (with the fix) when there is no index there to say.
    """
    index_path = Path(index_dir)
    read_manifest(index_path)  # no index there: its error names the fix
    roots = _recorded_roots(index_path)
    if not roots:
        raise IndexStoreError(
            f"the index at {index_path} does not say which corpus it was built from; "
            f"name it: `semsearch build CORPUS --index {index_path} --force`"
        )
    return list(roots)


def _mismatch(index_path: Path, recorded: Sequence[str], roots: Sequence[str | os.PathLike[str]]) -> IndexMismatchError:
    named = ", ".join(map(str, roots))
    return IndexMismatchError(
        f"the index at {index_path} was built from {', '.join(recorded)}, not from {named}; "
        f"to search it as built, name the index alone (--index {index_path}); "
        f"to replace it, run `semsearch build {named} --index {index_path}`"
    )


def open_index(
    corpus: Paths | None,
    index_dir: str | os.PathLike[str],
    *,
    notice: Callable[[str], None] = log.info,
    **build_options: Any,
) -> Index:
    """The index for `ask` and the other commands: loaded when fresh, (re)built when stale or unusable.

    `corpus` None means "the corpus the index records": a missing index is then an error (nothing is
    created), and a stale or damaged one is rebuilt from the folders its manifest names. A named
    `corpus` must be the one the index was built from: an index of another corpus is never replaced
    here (IndexMismatchError; only `build` replaces it), and a missing index is built from it. An
    index from a newer semsearch is never rebuilt here. A stale index whose corpus no longer exists
    is used as it is, with a notice. Every (re)build is announced, through `notice` or a logged warning.
    """
    index_path = Path(index_dir)
    try:
        stored = read_index(index_path)
    except IndexVersionError:
        raise
    except IndexStoreError:
        recorded = _recorded_roots(index_path)
        if corpus is not None and recorded and resolved_roots(_roots(corpus)) != recorded:
            raise _mismatch(index_path, recorded, _roots(corpus)) from None
        if (index_path / MANIFEST).exists():
            source = corpus if corpus is not None else _built_from(index_path)
            if source is None:
                raise
            return build(source, index_path, **build_options)  # build warns that it replaces the index
        if corpus is None:
            raise  # nothing is created: the error names the fix
        if index_path.is_dir():
            prepare_index_dir(index_path)  # refuses a foreign directory before announcing a build
        roots = _roots(corpus)
        if all(Path(root).is_dir() for root in roots):  # else build's one-line error is all there is to say
            notice(f"no index at {index_path} yet; building it from {', '.join(map(str, roots))}")
        return build(corpus, index_path, **build_options)
    if corpus is not None and built_from_other_corpus(stored.manifest, _roots(corpus)):
        raise _mismatch(index_path, stored.manifest.roots, _roots(corpus))
    roots = list(stored.manifest.roots)
    if not all(Path(r).exists() for r in roots):
        notice(f"the corpus this index was built from is gone ({', '.join(map(str, roots))}); using the index as built")
        return Index(stored)
    reason = stale_reason(stored.manifest, roots)
    if reason is None:
        try:
            encoder = load_encoder(stored.manifest.encoder)
        except EncoderError:
            return Index(stored)  # the query layer falls back to TF-IDF and says why
        same_chunking = stored.manifest.chunking.get("version") == ChunkSettings().version
        same_lexical = stored.manifest.lexical == lexical_spec()
        if encoder.spec() == stored.manifest.encoder and same_chunking and same_lexical:
            return Index(stored, encoder)
        if not same_chunking:  # this semsearch cuts chunks differently; unchanged chunks keep their vectors
            reason = "it was chunked by another semsearch version"
            build_options.setdefault("settings", _recorded_settings(stored.manifest.chunking))
        elif encoder.id != stored.manifest.encoder.get("id"):
            reason = f"its encoder changed ({stored.manifest.encoder.get('id')} -> {encoder.id})"
        elif encoder.spec() != stored.manifest.encoder:  # same vectors, other ranking settings: all reused
            reason = "its encoder settings changed"
        else:  # every vector is reused
            reason = "its TF-IDF side was built by another semsearch version"
        build_options.setdefault("encoder", encoder)
    notice(f"index at {index_path} is stale: {reason}; rebuilding")
    return build(roots, index_path, **build_options)
