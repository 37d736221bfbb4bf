"""The JSON objects semsearch answers with: `ask --json`, `show --json` and `terms --json` print them,
`semsearch serve` returns them over HTTP and `semsearch mcp` from its tools. One function per object,
so that the command line, the HTTP API and MCP cannot drift apart.

Library code: it raises (QueryError for a name or source that is not there) and never prints.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ..errors import QueryError

if TYPE_CHECKING:
    from ..search import Answer, Index

__all__ = [
    "answer_object",
    "json_text",
    "merged_rows",
    "compare_object",
    "resolve_source",
    "show_entries",
    "show_object",
    "show_terms",
    "term_row",
    "term_rows",
    "terms_object",
]

# An error that names the sources lists this many, then says how many more.
SOURCES_LISTED = 20


def json_text(data: object, ascii_only: bool = False) -> str:
    """A JSON object as `--json` prints it (also what `semsearch serve` and `semsearch mcp` send)."""
    text = json.dumps(data, ensure_ascii=ascii_only)
    # json escapes C0 controls only; DEL, the C1 range (U+009B is a one-character CSI) and the bidi
    # controls are escaped too, so JSON printed to a terminal cannot carry escape sequences either.
    return re.sub(
        "[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]",
        lambda m: f"\\u{ord(m.group()):04x}",
        text,
    )


def answer_object(answer: Answer, index: Index, full: bool = False) -> dict[str, Any]:
    """What `ask --json` prints for an answer: the question, the mode used, the encoder, the
    answer's `state` ("sure", "possible", "no_match"; `confident` is true when it is "sure"), the
    estimated `probability` that the best hit is the entry asked for (None when the encoder has no
    estimate), the names within a spelling slip of the question (`did_you_mean`), and the hits
    (with `full`, each with its entry's whole `body`)."""
    hits = [h.to_dict() for h in answer.hits]
    if full:
        for hit, row in zip(answer.hits, hits, strict=True):
            row["body"] = index.term(hit).body
    return {
        "query": answer.query,
        "mode": answer.mode,
        "encoder": index.scoring.encoder_id,
        "state": answer.state,
        "confident": answer.confident,
        "probability": None if answer.probability is None else round(answer.probability, 4),
        "did_you_mean": list(answer.did_you_mean),
        "hits": hits,
    }


def compare_object(question: str, rankings: dict[str, Answer], index: Index) -> dict[str, Any]:
    """What `compare --json` prints: the hits of each mode, the mode each one really used, and
    each mode's state."""
    return {
        "query": question,
        "encoder": index.scoring.encoder_id,
        "modes": {m: [h.to_dict() for h in a.hits] for m, a in rankings.items()},
        "mode_used": {m: a.mode for m, a in rankings.items()},  # differs after a fallback
        "states": {m: a.state for m, a in rankings.items()},
    }


def term_row(
    index: Index, position: int, chunks: list[int] | None = None, paths: dict[str, str] | None = None
) -> dict[str, Any]:
    """One entry as `terms --json` and `show --json` list it (with its chunk count when given);
    `path` is its file's absolute path (None when the file is gone)."""
    term = index.terms[position]
    if paths is None or term.source not in paths:
        path = index.entries.source_path(term)
        if paths is not None:
            paths[term.source] = path
    else:
        path = paths[term.source]
    row: dict[str, Any] = {
        "id": index.entries.term_id(position),
        "term": term.name,
        "names": list(term.names),
        "source": term.source,
        "line": term.line,
        "path": path or None,
    }
    if chunks is not None:
        row["chunks"] = chunks[position]
    return row


def _listed(sources: list[str]) -> str:
    shown = ", ".join(sources[:SOURCES_LISTED])
    more = len(sources) - SOURCES_LISTED
    return f"{shown}, … ({more} more)" if more > 0 else shown


def resolve_source(index: Index, source: str) -> str:
    """The corpus file `source` names: a source as listed (`ai/llm-rag.md`), its absolute path (as
    the `path` of a tsv or JSON row), or the end of exactly one (`llm-rag.md`). Raises QueryError
    naming the files it could mean, or all the files there are."""
    from ..search import readable

    source = readable(source, "source")
    sources = sorted({t.source for t in index.terms})
    if source in sources:
        return source
    if source.startswith("/"):  # the absolute `path` a tsv or JSON row gives, fed back
        first = {t.source: t for t in reversed(index.terms)}
        by_path = [s for s in sources if index.entries.source_path(first[s]) == source]
        if len(by_path) == 1:
            return by_path[0]
    tail = source.strip("/")
    matches = [s for s in sources if tail and s.endswith("/" + tail)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise QueryError(f"{source!r} could be {_listed(matches)}; give the path")
    raise QueryError(f"no file {source!r} in the index; the files are: {_listed(sources)}")


def show_terms(index: Index, name: str, source: str | None = None) -> list[tuple[list[str], list[int]]]:
    """The terms named `name` (any of their names): for each, its names and the positions of its
    entries to show. Usually one term; several when the name is a homonym's (`正規化` names
    Regularization in one file and Normalization in another), each term once, in corpus order.

    Entries sharing a name are one term: all of them (with `source`: that file's, see
    `resolve_source`), those with a body first, the ones found by this name before the others.
    Raises QueryError, with suggestions, when no term has that name.
    """
    from ..search import readable

    name = readable(name, "name")
    if source is not None:
        try:
            source = resolve_source(index, source)
        except QueryError:
            if not index.entries.find(name):
                raise
            # No such file, but the term is there: say where (below).
    found = index.entries.find(name, source)
    elsewhere = (
        sorted({index.terms[t].source for t in index.entries.find(name)}) if source is not None and not found else []
    )
    if elsewhere:
        raise QueryError(f"no term named {name!r} in {source!r}; it is in {', '.join(map(repr, elsewhere))}")
    if not found:
        raise QueryError(f"no term named {name!r}" + _suggestions(index, name))
    terms = []
    seen: set[int] = set()
    for first in found:
        if first in seen:
            continue
        members = index.entries.same_term(first)
        seen.update(members)
        entries = [e for e in found if e in members] if source is not None else members
        entries = sorted(entries, key=lambda e: (not index.terms[e].body.strip(), e not in found))
        names = list(index.entries.term_names(entries[0])) if source is None else list(index.terms[entries[0]].names)
        terms.append((names, entries))
    return terms


def _suggestions(index: Index, name: str) -> str:
    """ "; did you mean: …" with the names within a spelling slip of `name`, else "; the closest
    entries: …" (by meaning: neighbours, not spelling fixes)."""
    slips = index.entries.near_names(name)
    if slips:
        return f"; did you mean: {', '.join(slips)}"
    closest = ", ".join(h.term for h in index.search(name, k=3))
    return f"; the closest entries: {closest}" if closest else ""


def show_entries(index: Index, name: str, source: str | None = None) -> tuple[list[str], list[int]]:
    """The (first) term named `name`: its names, and the positions of its entries to show
    (`show_terms`)."""
    return show_terms(index, name, source)[0]


def show_object(index: Index, name: str, source: str | None = None) -> dict[str, Any]:
    """What `show --json` prints: the term (its first entry, with all the term's names) and every
    entry; when the name is shared by other terms (homonyms), those terms in `homonyms`, each as
    {"term", "entries"}."""
    shown: list[dict[str, Any]] = []
    for names, entries in show_terms(index, name, source):
        rows = [{**term_row(index, e), "body": index.terms[e].body} for e in entries]
        shown.append({"term": {**rows[0], "names": names}, "entries": rows})
    return {"query": name, **shown[0], "homonyms": shown[1:]}


def term_rows(index: Index, source: str | None = None) -> list[dict[str, Any]]:
    """Every entry (or those from the file `source`, see `resolve_source`) with its chunk count."""
    if source is not None:
        source = resolve_source(index, source)
    chunks = index.scoring.chunk_counts()
    paths: dict[str, str] = {}
    return [term_row(index, i, chunks, paths) for i, t in enumerate(index.terms) if source in (None, t.source)]


def merged_rows(index: Index, source: str | None = None) -> list[dict[str, Any]]:
    """Every term as `ask` returns it: entries sharing a name are one term (`Index.entries.entry_groups`),
    listed at one entry (the first with a body, as `show` puts it first) with all the term's names
    (`Index.entries.term_names`), its `entries`, the chunks of all of them, and the other entries' places in
    `also_in` (`[{"source", "line"}]`, as a hit's). With `source`: the terms that have an entry in
    that file, each listed at that entry, `also_in` naming the term's entries elsewhere. Corpus order."""
    if source is not None:
        source = resolve_source(index, source)
    chunks = index.scoring.chunk_counts()
    paths: dict[str, str] = {}
    listed: list[tuple[int, list[int]]] = []
    for members in index.entries.entry_groups():
        here = [m for m in members if source in (None, index.terms[m].source)]
        if not here:
            continue
        shown = next((m for m in here if index.terms[m].body.strip()), here[0])
        listed.append((shown, members))
    rows = []
    for shown, members in sorted(listed):
        row = term_row(index, shown, None, paths)
        row["names"] = list(index.entries.term_names(shown))
        row["chunks"] = sum(chunks[m] for m in members)
        row["entries"] = len(members)
        row["also_in"] = [{"source": index.terms[m].source, "line": index.terms[m].line} for m in members if m != shown]
        rows.append(row)
    return rows


def terms_object(index: Index, source: str | None = None, entries: bool = False) -> dict[str, Any]:
    """What `terms --json` prints: the terms as `ask` returns them (`merged_rows`), or with
    `entries` every entry apart (`term_rows`)."""
    return {"terms": term_rows(index, source) if entries else merged_rows(index, source)}
