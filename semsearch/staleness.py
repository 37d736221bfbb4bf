"""Whether an index still matches its corpus: what the manifest records of each corpus file, and why
the files under the corpus folders no longer match it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .corpus import Corpus, discover_files
from .manifest import Manifest

__all__ = ["stale_reason", "file_fingerprints"]


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


def stale_reason(manifest: Manifest, roots: Sequence[str | os.PathLike[str]]) -> str | None:
    """Why the index no longer matches the corpus under `roots`, or None when it does.

    Size and mtime decide when they match; otherwise the content hash does, so touching a file
    without changing it does not make the index stale.
    """
    resolved = tuple(str(Path(r).resolve()) for r in roots)
    if resolved != tuple(manifest.roots):
        return "the corpus folders differ from the ones it was built from"
    try:
        found, _ = discover_files(roots)
    except Exception as error:
        return f"the corpus cannot be read ({error})"
    current = {source for source, _ in found}
    for label, names in (("added", current - set(manifest.files)), ("removed", set(manifest.files) - current)):
        if names:
            first, more = sorted(names)[0], len(names) - 1
            return f"{first} was {label}" + (f" (and {more} more)" if more else "")
    for source, path in found:
        entry = manifest.files[source]
        was_skipped = entry.get("sha256") is None
        try:
            stat = path.stat()
        except OSError:
            if was_skipped and entry.get("size") is None:
                continue  # a broken link when built, a broken link now
            return f"{source} cannot be read"
        same = stat.st_size == entry.get("size") and stat.st_mtime_ns == entry.get("mtime_ns")
        if was_skipped:
            if same and stat.st_ctime_ns == entry.get("ctime_ns", stat.st_ctime_ns):
                continue
            return f"{source} changed"
        if same:
            continue
        try:
            if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
                return f"{source} changed"
        except OSError:
            return f"{source} cannot be read"
    return None
