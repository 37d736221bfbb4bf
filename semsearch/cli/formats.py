"""The machine and document formats of the commands that list things (`--format jsonl|tsv|markdown`),
made from the same JSON objects `--json` prints (serve/payloads.py), so that no format can say something
another does not. Text for a terminal is render.py's; one JSON object is console.py's.

- jsonl: one JSON object per line, one per listed thing (a hit, a term, an entry, a metrics row);
- tsv: a header line, then one line per listed thing; tabs, newlines and backslashes inside a field
  are written `\\t`, `\\n`, `\\\\` (so every line is one record, every tab a column);
- markdown: a document to paste into notes or an issue.

Every function returns the text to print, ending with a newline. Pure functions of dicts. As
everywhere semsearch prints, control and bidi characters are escaped (`text.safe_line`; entry bodies,
which keep their newlines, `text.safe_text`).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import QueryError
from ..request import FORMATS as _REQUEST_FORMATS
from ..text import safe_line, safe_text

__all__ = [
    "FORMATS",
    "answer_text",
    "answers_text",
    "compare_text",
    "eval_text",
    "show_text",
    "terms_text",
    "lint_text",
    "tsv_field",
]

FORMATS = _REQUEST_FORMATS  # what a request may ask for (request.py), every one printed here

Row = Mapping[str, Any]


def json_line(data: object) -> str:
    from .console import json_text  # the one JSON writer (escapes what a terminal would obey)

    return json_text(data)


def tsv_field(value: object) -> str:
    """One TSV field: lists joined with " | ", None empty; a backslash doubled, then tab, newline, CR
    and every other control or bidi character escaped (`\\t`, `\\n`, `\\x1b`, `\\u202e`)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = " | ".join(str(v) for v in value)
    if isinstance(value, float):
        value = f"{value:.4f}"
    return safe_line(str(value).replace("\\", "\\\\"))


def _tsv(columns: Sequence[str], rows: Iterable[Row], header: bool = True) -> str:
    lines = ["\t".join(columns)] if header else []
    lines += ["\t".join(tsv_field(row.get(column)) for column in columns) for row in rows]
    return "".join(line + "\n" for line in lines)


def _jsonl(rows: Iterable[object]) -> str:
    return "".join(json_line(row) + "\n" for row in rows)


def _md_escape(text: str) -> str:
    """Text placed in markdown: characters that would start markup escaped, one line."""
    text = safe_line(re.sub(r"\s*\n\s*", " ", text))
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


def _md_link(label: str, path: str | None, line: int | None = None) -> str:
    if not path:
        return f"`{safe_line(label)}`"
    target = urllib.parse.quote(Path(path).as_posix(), safe="/")
    return f"[{_md_escape(label)}](<{target}{f'#L{line}' if line else ''}>)"


def _md_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_md_escape(tsv_field(cell)) for cell in row) + " |")
    return lines


def _indented(body: str, by: str) -> list[str]:
    return [f"{by}{line}" if line.strip() else "" for line in safe_text(body).strip("\n").split("\n")]


# -- ask ------------------------------------------------------------------------------------------

HIT_COLUMNS = ("rank", "score", "term", "names", "source", "line", "path", "snippet", "state")
# What the markdown says over the hits of an answer that is not sure.
STATE_LINES = {
    "possible": "*Possible matches, none of them sure:*",
    "no_match": "*No match; the closest entries (not answers):*",
}


def _grep_line(place: Row, text: str, cwd: str | None) -> str:
    """`path:line:col:text`, the form of grep -n --column, vim's quickfix and emacs' grep-mode. The
    path is absolute for ask, compare, show and terms (the same from a thin client's server as from
    the local command); lint's are relative to where it runs."""
    return f"{safe_line(_shown_path(place, cwd))}:{place['line']}:1:{safe_line(text)}"


def _hit_grep_text(hit: Row) -> str:
    snippet = " ".join(str(hit.get("snippet") or "").split())
    return f"{hit['term']} — {snippet}" if snippet else str(hit["term"])


def answer_text(data: Row, fmt: str, cwd: str | None = None, header: bool = True) -> str:
    """`ask --format jsonl|tsv|markdown|grep` from the object `ask --json` prints: jsonl and tsv
    carry the answer's state on every hit's row; grep is a `path:line:col:term — snippet` line per
    hit (paths relative to `cwd` when inside it)."""
    hits: list[Row] = [{**hit, "state": data["state"]} for hit in data["hits"]]
    if fmt == "jsonl":
        return _jsonl(hits)
    if fmt == "tsv":
        return _tsv([*HIT_COLUMNS, *(["body"] if any("body" in h for h in hits) else [])], hits, header)
    if fmt == "grep":
        return "".join(_grep_line(hit, _hit_grep_text(hit), cwd) + "\n" for hit in hits)
    lines = [f"# {_md_escape(data['query'])}", ""]
    if data["did_you_mean"]:
        lines += [f"*Did you mean: {_md_escape(', '.join(data['did_you_mean']))}?*", ""]
    if not hits:
        lines.append("*No match.*")
    elif data["state"] in STATE_LINES:
        lines += [STATE_LINES[data["state"]], ""]
    for hit in hits:
        names = " | ".join(hit["names"])
        where = _md_link(f"{hit['source']}:{hit['line']}", hit.get("path"), hit["line"])
        lines.append(f"{hit['rank']}. **{_md_escape(names)}** ({hit['score']:.3f}) — {where}")
        if "body" in hit:
            lines += _indented(hit["body"], "   ")
        elif hit["snippet"]:
            lines.append(f"   {safe_line(hit['snippet'])}")
        if hit["related"]:
            lines.append(f"   related: {_md_escape(', '.join(hit['related']))}")
    return "\n".join(lines) + "\n"


def answers_text(data: Sequence[Row], fmt: str, cwd: str | None = None, header: bool = True) -> str:
    """Several answers (`ask` with one question per line of stdin): jsonl and tsv rows carry their
    question (tsv: a first column, one header line); markdown, one section per question; grep, the
    lines of each answer in turn."""
    if fmt == "markdown":
        return "\n".join(answer_text(one, fmt) for one in data)
    if fmt == "grep":
        return "".join(answer_text(one, fmt, cwd) for one in data)
    hits: list[Row] = [{"question": one["query"], **hit, "state": one["state"]} for one in data for hit in one["hits"]]
    if fmt == "jsonl":
        return _jsonl(hits)
    body = ["body"] if any("body" in h for h in hits) else []
    return _tsv(["question", *HIT_COLUMNS, *body], hits, header)


# -- compare --------------------------------------------------------------------------------------


def compare_text(data: Row, fmt: str) -> str:
    """`compare --format jsonl|tsv|markdown|grep` from the object `compare --json` prints."""
    modes: Mapping[str, list[Row]] = data["modes"]
    rows = [{"mode": mode, **hit, "state": data["states"][mode]} for mode, hits in modes.items() for hit in hits]
    if fmt == "grep":
        return "".join(
            _grep_line(row, f"{row['mode']} {row['rank']}: {row['term']} ({row['score']:.3f})", None) + "\n"
            for row in rows
        )
    if fmt == "jsonl":
        return _jsonl(rows)
    if fmt == "tsv":
        return _tsv(["mode", *HIT_COLUMNS], rows)
    depth = max((len(hits) for hits in modes.values()), default=0)
    columns = ["#"]
    for mode in modes:
        used = data["mode_used"][mode]
        columns += [mode if used == mode else f"{mode}→{used}", "score"]
    table_rows = []
    for rank in range(depth):
        row: list[object] = [rank + 1]
        for hits in modes.values():
            row += [hits[rank]["term"], f"{hits[rank]['score']:.3f}"] if rank < len(hits) else ["", ""]
        table_rows.append(row)
    states = ", ".join(f"{mode} {state.replace('_', ' ')}" for mode, state in data["states"].items())
    lines = [f"# {_md_escape(data['query'])}", "", *_md_table(columns, table_rows), "", f"*state: {states}*"]
    return "\n".join(lines) + "\n"


# -- terms and show -------------------------------------------------------------------------------

TERM_COLUMNS = ("term", "names", "source", "line", "path", "chunks")
# The merged listing (the default): also the number of entries and the others' places ("source:line").
MERGED_COLUMNS = (*TERM_COLUMNS, "entries", "also_in")


def _places(places: Sequence[Row]) -> list[str]:
    return [f"{p['source']}:{p['line']}" for p in places]


def _also(term: Row) -> str:
    """ " (also in a.md:3, b.md:7)" after a merged term's names, "" for a term in one place."""
    return f" (also in {', '.join(_places(term['also_in']))})" if term.get("also_in") else ""


def terms_text(data: Row, fmt: str, cwd: str | None = None, header: bool = True) -> str:
    """`terms --format jsonl|tsv|markdown|grep` from the object `terms --json` prints: a row per
    term (its other places in `also_in`; tsv: `source:line`s joined with " | "), or with --entries
    per entry."""
    terms: list[Row] = data["terms"]
    merged = any("also_in" in term for term in terms)
    if fmt == "jsonl":
        return _jsonl(terms)
    if fmt == "tsv":
        if merged:
            return _tsv(MERGED_COLUMNS, [{**term, "also_in": _places(term["also_in"])} for term in terms], header)
        return _tsv(TERM_COLUMNS, terms, header)
    if fmt == "grep":
        return "".join(_grep_line(term, " | ".join(term["names"]) + _also(term), cwd) + "\n" for term in terms)
    lines: list[str] = []
    source = None
    for term in terms:
        if term["source"] != source:
            source = term["source"]
            lines += [*([""] if lines else []), f"## {_md_link(source, term.get('path'))}", ""]
        also = f"; also in {_md_escape(', '.join(_places(term['also_in'])))}" if term.get("also_in") else ""
        lines.append(f"- {_md_escape(' | '.join(term['names']))} (line {term['line']}{also})")
    return "\n".join(lines) + "\n"


SHOW_COLUMNS = ("term", "names", "source", "line", "path", "body")


def show_text(data: Row, fmt: str) -> str:
    """`show --format jsonl|tsv|markdown` from the object `show --json` prints. The markdown is
    each entry as the glossary writes it: its heading, then its body. A homonym's terms follow
    one another."""
    entries: list[Row] = [entry for term in [data, *data.get("homonyms", ())] for entry in term["entries"]]
    if fmt == "jsonl":
        return _jsonl(entries)
    if fmt == "tsv":
        return _tsv(SHOW_COLUMNS, entries)
    if fmt == "grep":
        return "".join(_grep_line(entry, " | ".join(entry["names"]), None) + "\n" for entry in entries)
    parts = []
    for entry in entries:
        # An HTML comment ends at the first "--" ("-->"): a file name cannot close it early.
        where = safe_line(f"{entry['source']}:{entry['line']}").replace("--", "- -")
        heading = f"## {safe_line(' | '.join(entry['names']))}\n<!-- {where} -->"
        body = safe_text(entry["body"]).strip("\n")
        parts.append(heading + ("\n" + body if body.strip() else ""))
    return "\n\n".join(parts) + "\n"


# -- eval -----------------------------------------------------------------------------------------

METRIC_COLUMNS = ("n", "recall@1", "recall@5", "mrr@10", "ndcg@10")
# How the answers' states fell, on each mode's "all" row (evaluation.StateCounts).
STATE_COLUMNS = ("sure", "sure_right", "no_match", "offtopic", "offtopic_no_match", "offtopic_sure")
MISS_COLUMNS = ("mode", "id", "kind", "q", "gold", "rank", "state", "got")


def _metric_rows(data: Row) -> list[dict[str, Any]]:
    rows = []
    for mode, entry in data["modes"].items():
        on, off = entry["states"]["ontopic"], entry["states"]["offtopic"]
        states = {**{c: on[c] for c in ("sure", "sure_right", "no_match")}, "offtopic": off["n"]}
        states.update(offtopic_no_match=off["no_match"], offtopic_sure=off["sure"])
        rows.append({"mode": mode, "slice": "all", **{c: entry[c] for c in METRIC_COLUMNS}, **states})
        for prefix in ("lang", "kind"):
            for name, metrics in entry[f"by_{prefix}"].items():
                rows.append({"mode": mode, "slice": f"{prefix}={name}", **{c: metrics[c] for c in METRIC_COLUMNS}})
    return rows


def _miss_rows(data: Row) -> list[dict[str, Any]]:
    return [{"mode": mode, **miss} for mode, entry in data["modes"].items() for miss in entry.get("misses", ())]


def eval_text(data: Row, fmt: str, misses: bool = False) -> str:
    """`eval --format jsonl|tsv|markdown` from the object `eval --json` prints. jsonl: a line per
    mode and slice ("all", "lang=ja", "kind=name"), then with --misses a line per miss
    (`"miss": true`); tsv: the metrics, or with --misses the misses."""
    if fmt == "grep":
        raise QueryError("eval lists measurements, not places: --format grep is for ask, compare, show and terms")
    metrics = _metric_rows(data)
    if fmt == "jsonl":
        return _jsonl(metrics) + _jsonl({"miss": True, **row} for row in _miss_rows(data))
    if fmt == "tsv":
        columns = ("mode", "slice", *METRIC_COLUMNS, *STATE_COLUMNS)
        return _tsv(MISS_COLUMNS, _miss_rows(data)) if misses else _tsv(columns, metrics)
    from ..evaluation import StateCounts

    shown = ("mode", "slice", *METRIC_COLUMNS)
    lines = _md_table(shown, [[row[c] for c in shown] for row in metrics])
    for mode, entry in data["modes"].items():
        lines += ["", f"{mode}: {StateCounts.from_dict(entry['states']).describe()}"]
    if misses:
        lines += ["", *_md_table(MISS_COLUMNS, [[row[c] for c in MISS_COLUMNS] for row in _miss_rows(data)])]
    return "\n".join(lines) + "\n"


# -- lint -----------------------------------------------------------------------------------------

LINT_FORMATS = ("text", "json", "jsonl", "tsv", "grep")
FINDING_COLUMNS = ("rule", "severity", "source", "line", "col", "path", "message", "also")


def _shown_path(place: Row, cwd: str | None) -> str:
    """A place's file as an editor or CI wants it: relative to `cwd` when inside it, else absolute
    (the glossary's own label when the path is unknown)."""
    path = place.get("path") or ""
    if not path:
        return str(place["source"])
    if cwd:
        try:
            relative = Path(path).relative_to(cwd)
        except ValueError:
            return path
        return relative.as_posix()
    return path


def lint_text(data: Row, fmt: str, cwd: str | None = None) -> str:
    """`lint --format text|jsonl|tsv|grep` from the object `lint --json` prints.

    text: a line per finding (`source:line  rule  message`), then, for a finding with several
    places, each place and what is there, indented. grep: `path:line:col: rule: message`, a line per
    place of each finding (what vim's quickfix, emacs' compilation mode and CI problem matchers
    read); the path relative to `cwd` when inside it. jsonl: a finding per line. tsv: a finding per
    line, its other places in `also`.
    """
    findings: list[Row] = data["findings"]
    if fmt == "jsonl":
        return _jsonl(findings)
    if fmt == "tsv":
        rows = []
        for finding in findings:
            first, *others = finding["places"]
            also = [f"{p['source']}:{p['line']}" for p in others]
            rows.append({**finding, **{k: first[k] for k in ("source", "line", "col", "path")}, "also": also})
        return _tsv(FINDING_COLUMNS, rows)
    lines = []
    for finding in findings:
        rule, message = finding["rule"], safe_line(finding["message"])
        places = finding["places"]
        if fmt == "grep":
            lines += [f"{safe_line(_shown_path(p, cwd))}:{p['line']}:{p['col']}: {rule}: {message}" for p in places]
            continue
        first = places[0]
        lines.append(f"{safe_line(first['source'])}:{first['line']}  {rule}  {message}")
        if len(places) > 1:
            lines += [f"    {safe_line(p['source'])}:{p['line']}  {safe_line(p['note'])}".rstrip() for p in places]
    return "".join(line + "\n" for line in lines)


WRITERS: dict[str, Callable[..., str]] = {
    "ask": answer_text,
    "compare": compare_text,
    "terms": terms_text,
    "show": show_text,
    "eval": eval_text,
    "lint": lint_text,
}
