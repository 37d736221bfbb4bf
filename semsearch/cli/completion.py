"""Shell completion of what the index holds: `semsearch show <TAB>` completes term names,
`--source <TAB>` the corpus files as `terms` lists them (`semsearch --install-completion`).

The shell runs the command for every Tab, so this reads two small files of the index already on disk
(the manifest and the generation's terms.jsonl) with the standard library only: no encoder, no numpy
(stores/files.py, which validates an index for a search, imports numpy), never a build. It uses the
index the command would use (`--index`, `--corpus` already typed, else the defaults: paths.py), and
any failure (no index yet, a Qdrant store, a damaged file, a symbolic link) completes nothing,
silently: a completion never prints an error into the user's command line.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer

__all__ = ["complete_names", "complete_sources"]

# A terms file larger than this is not read for a completion (it would make Tab slow).
TERMS_MAX_BYTES = 64 * 1024 * 1024


def _read_small(path: Path, limit: int) -> bytes | None:
    """The bytes of a regular file no larger than `limit`, never through a symbolic link."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))  # a link: OSError
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return handle.read(limit)


def _index_rows(ctx: typer.Context) -> list[dict[str, Any]]:
    """The term rows of the index the command being completed would open ([] when there is none)."""
    from .options import _locations

    params = ctx.params
    corpus = params.get("corpus") or None
    index = params.get("index") or None
    location = _locations([Path(p) for p in corpus] if corpus else None, str(index) if index else None).index
    if not isinstance(location, Path):  # a Qdrant store: nothing to read without its client
        return []
    manifest = json.loads(_read_small(location / "manifest.json", 16 * 1024 * 1024) or b"{}")
    data, entry = manifest.get("data"), manifest.get("data_files", {}).get("terms", {})
    relative = Path(str(data), str(entry.get("path")))
    if not isinstance(data, str) or relative.is_absolute() or ".." in relative.parts:
        return []
    raw = _read_small(location / relative, TERMS_MAX_BYTES)
    if raw is None:
        return []
    rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    return [row for row in rows if isinstance(row, dict)]


def _matching(words: Iterable[str], typed: str) -> list[str]:
    # As written: typer keeps only the completions that start with what is typed, exactly.
    found = {word for word in words if isinstance(word, str) and word.startswith(typed)}
    return sorted(found, key=str.casefold)


def complete_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """The term names that start with what is typed, as written (`semsearch show Mach<TAB>`,
    `show 過<TAB>`). A name of several
    words typed in part (`show Machine Le<TAB>`, the earlier words already arguments) completes
    its current word."""
    try:
        before = [str(w) for w in ctx.params.get("name") or () if str(w) != "-"]
        typed = " ".join([*before, incomplete])
        names = (name for row in _index_rows(ctx) for name in row.get("names", ()))
        skip = len(" ".join(before)) + 1 if before else 0
        return [name[skip:] for name in _matching(names, typed) if name[skip:]]
    except Exception:  # a completion says nothing: Tab just does not complete
        return []


def complete_sources(ctx: typer.Context, incomplete: str) -> list[str]:
    """The corpus files, as `terms` lists them, that start with what is typed (`--source ai/<TAB>`)."""
    try:
        return _matching({row.get("source") for row in _index_rows(ctx)}, incomplete)  # type: ignore[misc]
    except Exception:  # as above
        return []
