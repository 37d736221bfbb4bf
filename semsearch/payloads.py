"""The JSON objects semsearch answers with: `ask --json`, `show --json` and `terms --json` print them,
`semsearch serve` returns them over HTTP and `semsearch mcp` from its tools. One function per object,
so that the command line, the HTTP API and MCP cannot drift apart.

Library code: it raises (QueryError for a name or source that is not there) and never prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import QueryError

if TYPE_CHECKING:
    from .search import Answer, Index

__all__ = ["answer_object", "term_row", "show_entries", "show_object", "term_rows", "terms_object"]


def answer_object(answer: Answer, index: Index) -> dict[str, Any]:
    """What `ask --json` prints for an answer: the question, the mode used, the encoder, whether the
    best hit is a confident answer, and the hits."""
    return {
        "query": answer.query,
        "mode": answer.mode,
        "encoder": index.encoder_id,
        "confident": answer.confident,
        "hits": [h.to_dict() for h in answer.hits],
    }


def term_row(index: Index, position: int, chunks: list[int] | None = None) -> dict[str, Any]:
    """One entry as `terms --json` and `show --json` list it (with its chunk count when given)."""
    term = index.terms[position]
    row: dict[str, Any] = {
        "id": index.term_id(position),
        "term": term.name,
        "names": list(term.names),
        "source": term.source,
        "line": term.line,
    }
    if chunks is not None:
        row["chunks"] = chunks[position]
    return row


def show_entries(index: Index, name: str, source: str | None = None) -> tuple[list[str], list[int]]:
    """The term named `name` (any of its names): its names, and the positions of its entries to show.

    Entries sharing a name are one term: all of them (with `source`: that file's), those with a body
    first, the ones found by this name before the others. Raises QueryError, with suggestions, when
    no term has that name.
    """
    found = index.find(name, source)
    elsewhere = sorted({index.terms[t].source for t in index.find(name)}) if source is not None and not found else []
    if elsewhere:
        raise QueryError(f"no term named {name!r} in {source!r}; it is in {', '.join(map(repr, elsewhere))}")
    if not found:
        suggestions = ", ".join(h.term for h in index.search(name, k=3))
        raise QueryError(f"no term named {name!r}" + (f"; did you mean: {suggestions}" if suggestions else ""))
    entries = found if source is not None else index.same_term(found[0])
    entries = sorted(entries, key=lambda e: (not index.terms[e].body.strip(), e not in found))
    names = list(index.term_names(entries[0])) if source is None else list(index.terms[entries[0]].names)
    return names, entries


def show_object(index: Index, name: str, source: str | None = None) -> dict[str, Any]:
    """What `show --json` prints: the term (its first entry, with all the term's names) and every entry."""
    names, entries = show_entries(index, name, source)
    rows = [{**term_row(index, e), "body": index.terms[e].body} for e in entries]
    return {"query": name, "term": {**rows[0], "names": names}, "entries": rows}


def term_rows(index: Index, source: str | None = None) -> list[dict[str, Any]]:
    """Every entry (or those from the file `source`) with its chunk count. Raises QueryError when no
    entry comes from `source`, naming the sources there are."""
    chunks = index.chunk_counts()
    rows = [term_row(index, i, chunks) for i, t in enumerate(index.terms) if source in (None, t.source)]
    if source is not None and not rows:
        sources = sorted({t.source for t in index.terms})
        raise QueryError(f"no terms from {source!r}; sources are: {', '.join(sources[:10])}")
    return rows


def terms_object(index: Index, source: str | None = None) -> dict[str, Any]:
    """What `terms --json` prints."""
    return {"terms": term_rows(index, source)}
