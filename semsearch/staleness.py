"""Whether an index must be rebuilt, and why: the one place that decides.

An index no longer answers for its corpus when, in this order (the first reason found is the one
a rebuild announces):

    format     it was written in an older index format
    corpus     a corpus file was added, removed or changed, or the corpus folders differ
    chunking   it was cut into chunks by another semsearch version, or under other settings
    encoder    its encoder changed (vectors re-embedded) or only its settings (vectors reused); the
               same for the second encoder, whose converted weights the manifest names by key
    TF-IDF     its TF-IDF side was built under other features (vectors reused)

`stale_reason` checks what it is given: the corpus always (listed once by the caller, or here), the
encoder and chunking settings when the caller knows what a build would use now. An index opened as
it is (its corpus gone, its encoder unavailable, or loaded by the library) rebuilds a TF-IDF side
built under other features in memory: `tfidf_current` is that part of the rule on its own.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from .chunking import ChunkSettings
from .corpus import Corpus, Listing, discover_files, resolved_roots
from .lexical import lexical_spec
from .manifest import FORMAT_VERSION, Manifest

__all__ = ["CHECKS", "stale_reason", "tfidf_current", "built_from_other_corpus", "file_fingerprints"]

#: Every check `stale_reason` makes, in the order it makes them.
CHECKS = ("format", "corpus", "chunking", "encoder", "tfidf")


def stale_reason(
    manifest: Manifest,
    roots: Sequence[str | os.PathLike[str]] | None,
    *,
    files: Listing | None = None,
    encoder: Mapping[str, Any] | None = None,
    chunking: Mapping[str, Any] | None = None,
    use: Mapping[str, Any] | None = None,
    checks: Collection[str] = CHECKS,
) -> str | None:
    """Why the index in `manifest` must be rebuilt for the corpus under `roots`, or None.

    `files`: the corpus as `corpus.discover_files(roots)` listed it (listed here when None).
    `encoder`: the spec of the encoder a build would use now (None: not compared).
    `chunking`: the chunking settings a build would use now (None: only their version is compared).
    `use`: the spec of the USE encoder (the ensemble's second) whose side a build would make now, {} for none (None:
    not compared); a missing side is built alone, the rest of the index reused.
    `checks`: which of CHECKS to make (all by default); `roots` None skips the corpus.
    """
    if "format" in checks and manifest.format_version < FORMAT_VERSION:
        return "it was written in an older index format"
    found = [
        _corpus_change(manifest, roots, files) if "corpus" in checks and roots is not None else None,
        _chunking_change(manifest, chunking) if "chunking" in checks else None,
        _encoder_change(manifest, encoder, use) if "encoder" in checks else None,
    ]
    if "tfidf" in checks and not tfidf_current(manifest):
        found.append("its TF-IDF side was built by another semsearch version")
    return next((reason for reason in found if reason), None)


def _chunking_change(manifest: Manifest, chunking: Mapping[str, Any] | None) -> str | None:
    if manifest.chunking.get("version") != ChunkSettings().version:
        return "it was chunked by another semsearch version"
    if chunking is not None and manifest.chunking != dict(chunking):
        return "its chunking settings changed"
    return None


def _encoder_change(manifest: Manifest, encoder: Mapping[str, Any] | None, use: Mapping[str, Any] | None) -> str | None:
    if encoder is not None and manifest.encoder != dict(encoder):
        if manifest.encoder.get("id") != encoder.get("id"):
            return f"its encoder changed ({manifest.encoder.get('id')} -> {encoder.get('id')})"
        return "its encoder settings changed"  # the same vectors, other ranking settings: all reused
    if use is not None and manifest.second != dict(use):
        return _use_change(manifest.second, use)
    return None


def _use_change(had_spec: Mapping[str, Any], wants_spec: Mapping[str, Any]) -> str:
    had, wants = had_spec.get("id"), wants_spec.get("id")
    if not had:
        return f"it has no side for the second encoder ({wants})"
    if not wants:
        return f"it has a side for a second encoder ({had}) that this build does not make"
    if had != wants:
        return f"its second encoder changed ({had} -> {wants})"
    if had_spec.get("weights") != wants_spec.get("weights"):
        if not had_spec.get("weights"):  # written before the weights were shared (store.MODELS)
            return "it keeps its own copy of the second encoder's weights, now kept once per user"
        return "its second encoder's weights changed"
    return "its second encoder's settings changed"


def built_from_other_corpus(manifest: Manifest, roots: Sequence[str | os.PathLike[str]]) -> bool:
    """Whether the index was built from other corpus folders than `roots`."""
    return resolved_roots(roots) != tuple(manifest.roots)


def tfidf_current(manifest: Manifest) -> bool:
    """Whether the index's TF-IDF side was built under this version's features (lexical.py)."""
    return manifest.lexical == lexical_spec()


def _corpus_change(manifest: Manifest, roots: Sequence[str | os.PathLike[str]], files: Listing | None) -> str | None:
    """Why the index no longer matches the corpus under `roots`, or None when it does.

    Size and mtime decide when they match; otherwise the content hash does, so touching a file
    without changing it does not make the index stale.
    """
    if built_from_other_corpus(manifest, roots):
        return "the corpus folders differ from the ones it was built from"
    if files is None:
        try:
            files = discover_files(roots)
        except Exception as error:
            return f"the corpus cannot be read ({error})"
    found, _ = files
    current = {source for source, _ in found}
    for label, names in (("added", current - set(manifest.files)), ("removed", set(manifest.files) - current)):
        if names:
            first, more = sorted(names)[0], len(names) - 1
            return f"{first} was {label}" + (f" (and {more} more)" if more else "")
    for source, path in found:
        reason = _file_change(source, path, manifest.files[source])
        if reason:
            return reason
    return None


def _file_change(source: str, path: Path, entry: Mapping[str, Any]) -> str | None:
    """Why the corpus file `source` is not as the index recorded it (`entry`), or None."""
    was_skipped = entry.get("sha256") is None
    try:
        stat = path.stat()
    except OSError:
        if was_skipped and entry.get("size") is None:
            return None  # a broken link when built, a broken link now
        return f"{source} cannot be read"
    same = stat.st_size == entry.get("size") and stat.st_mtime_ns == entry.get("mtime_ns")
    if was_skipped:
        if same and stat.st_ctime_ns == entry.get("ctime_ns", stat.st_ctime_ns):
            return None
        return f"{source} changed"
    if same:
        return None
    try:
        if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            return f"{source} changed"
    except OSError:
        return f"{source} cannot be read"
    return None


def file_fingerprints(corpus: Corpus) -> dict[str, dict[str, Any]]:
    """What the manifest records of each corpus file, including files skipped as unreadable
    (without a hash), so that fixing one of those also makes the index stale."""
    prints: dict[str, dict[str, Any]] = {
        f.source: {"sha256": f.sha256, "size": f.size, "mtime_ns": f.mtime_ns} for f in corpus.files
    }
    for skipped in corpus.skipped:
        if skipped.path:
            try:
                stat = os.stat(skipped.path)
            except OSError:  # a broken link or a link loop: recorded, so that it does not look "added"
                prints[skipped.source] = {"sha256": None, "size": None, "mtime_ns": None, "ctime_ns": None}
                continue
            # ctime as well: making a file readable (chmod) changes neither its size nor its mtime.
            prints[skipped.source] = {
                "sha256": None,
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "ctime_ns": stat.st_ctime_ns,
            }
    return prints
