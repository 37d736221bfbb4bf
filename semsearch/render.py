"""Rich renderables for the CLI: result cards, tables, entries. Builds things; never prints.

Everything that came from a corpus file or the user passes through `safe_line` (names, file
names, questions, snippets: every control and bidi character escaped, so nothing can forge or
reorder a line) or `safe_text` (entry bodies, which keep their newlines) before it reaches the
terminal, and is wrapped in `Text` (never parsed as rich markup), so a glossary cannot inject
terminal escapes or markup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from .corpus import Term
from .evaluation import Evaluation, ModeResult
from .search import NOTHING_TO_SEARCH, Answer, Hit
from .text import match_spans, safe_line, safe_text

__all__ = ["answer_view", "entry_view", "compare_table", "compare_view", "eval_tables", "score_bar", "latex_as_code"]

BAR_WIDTH = 10
# Below this width the three rankings of `compare` are listed one after another, not side by side.
COMPARE_TABLE_MIN_WIDTH = 60


def score_bar(score: float, width: int = BAR_WIDTH) -> Text:
    """A bar for a score in [0, 1]."""
    filled = max(0, min(width, round(score * width)))
    return Text("█" * filled, style="green") + Text("░" * (width - filled), style="dim")


def highlighted(text: str, query: str) -> Text:
    """`text` with the parts that match the question in bold (Japanese by character bigrams)."""
    # One line (a snippet): escaping may lengthen it, so spans are matched on the escaped text.
    text = safe_line(text)
    out = Text(text)
    for start, end in match_spans(text, query):
        out.stylize("bold yellow", start, end)
    return out


def _location(hit: Hit) -> Text:
    label = safe_line(f"{hit.source}:{hit.line}")
    if hit.path:
        # A clickable link where the terminal supports OSC 8; plain text elsewhere.
        return Text(label, style=f"cyan link {Path(hit.path).as_uri()}")
    return Text(label, style="cyan")


class Indented:
    """Renderables indented as a block: long lines wrap under themselves, not under the rank,
    and no line is padded with trailing spaces (plain output stays clean for pipes)."""

    def __init__(self, renderables: Sequence[RenderableType], indent: int = 4) -> None:
        self.renderables = renderables
        self.indent = indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        inner = options.update(width=max(10, options.max_width - self.indent))
        for renderable in self.renderables:
            for line in console.render_lines(renderable, inner, pad=False):
                yield Segment(" " * self.indent)
                yield from line
                yield Segment.line()


def card(hit: Hit, query: str, body: str | None = None) -> RenderableType:
    """One hit: rank, names, score bar, source:line, snippet (or the whole entry), related terms."""
    head = Text.assemble(
        (f"{hit.rank:>2}  ", "bold"),
        (safe_line(" | ".join(hit.names)), "bold"),
        "  ",
        score_bar(hit.score),
        f" {hit.score:.3f}",
        # Why a lower score can rank first: the question names this term (the name tier).
        ("  name match", "dim") if hit.named else "",
    )
    details: list[RenderableType] = [_location(hit)]
    if hit.also_in:
        places = ", ".join(f"{source}:{line}" for source, line in hit.also_in)
        details.append(Text("also in: ", style="dim") + Text(safe_line(places), style="dim"))
    if body is not None:
        details.append(_markdown(body))
    elif hit.snippet:
        details.append(highlighted(hit.snippet, query))
    if hit.related:
        details.append(Text("related: ", style="dim") + Text(safe_line(", ".join(hit.related)), style="dim"))
    return Group(head, Indented(details))


def answer_view(answer: Answer, bodies: Sequence[str] | None = None) -> RenderableType:
    """All hits of an answer, or the "no confident match" message with suggestions."""
    if not answer.hits:
        if NOTHING_TO_SEARCH in answer.notices:
            return Text.assemble(
                ("No confident match", "bold yellow"), f": nothing to search for in “{safe_line(answer.query)}”."
            )
        return Text("No matching entry.", style="yellow")
    if not answer.confident:
        suggestions = ", ".join(safe_line(h.term) for h in answer.hits[:3])
        return Text.assemble(
            ("No confident match", "bold yellow"),
            f" for “{safe_line(answer.query)}”. Did you mean: ",
            (suggestions, "bold"),
            "?",
        )
    cards: list[RenderableType] = []
    for i, hit in enumerate(answer.hits):
        if i:
            cards.append(Text(""))
        cards.append(card(hit, answer.cleaned, bodies[i] if bodies else None))
    return Group(*cards)


_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$([^$\n]+?)\$")


def _markdown(body: str) -> RenderableType:
    from rich.markdown import Markdown  # a heavy import (docs/performance.md): only for --full and `show`

    return Markdown(latex_as_code(safe_text(body)))


def latex_as_code(markdown: str) -> str:
    """LaTeX shown as code: `$$…$$` as a code block, `$…$` as inline code (terminals cannot typeset)."""
    markdown = _DISPLAY_MATH.sub(lambda m: "\n```latex\n" + m.group(1).strip() + "\n```\n", markdown)
    return _INLINE_MATH.sub(lambda m: "`" + m.group(1).strip() + "`", markdown)


def entry_view(names: Sequence[str], entries: Sequence[tuple[Term, str]]) -> RenderableType:
    """A term in full: its names as a heading, then each entry's source (linked to `path` when
    known) and body as Markdown."""
    parts: list[RenderableType] = [Text(safe_line(" | ".join(names)), style="bold")]
    for number, (term, path) in enumerate(entries):
        location = Text(safe_line(f"{term.source}:{term.line}"), style="cyan")
        if path:
            location.stylize(f"link {Path(path).as_uri()}")
        if number:
            parts.append(Text(""))
        parts += [location, _markdown(term.body or "*(no body)*")]
    return Group(*parts)


def compare_table(rankings: dict[str, Answer], k: int) -> Table:
    """Rank, term and score per mode, side by side."""
    table = Table(title=None, show_lines=False)
    table.add_column("#", justify="right")
    for mode, answer in rankings.items():
        table.add_column(mode if answer.mode == mode else f"{mode}→{answer.mode}")  # after a fallback
        table.add_column("score", justify="right")
    for row in range(k):
        cells: list[RenderableType] = [str(row + 1)]
        for answer in rankings.values():
            if row < len(answer.hits):
                hit = answer.hits[row]
                cells += [Text(safe_line(hit.term)), f"{hit.score:.3f}"]
            else:
                cells += ["", ""]
        table.add_row(*cells)
    return table


def compare_view(rankings: dict[str, Answer], k: int, width: int) -> RenderableType:
    """`compare`: the rankings side by side, or one after another when the terminal is too narrow
    for a table of seven columns (its cells would be blank)."""
    if width >= COMPARE_TABLE_MIN_WIDTH:
        return compare_table(rankings, k)
    parts: list[RenderableType] = []
    for mode, answer in rankings.items():
        parts.append(Text(mode if answer.mode == mode else f"{mode}→{answer.mode}", style="bold"))
        for hit in answer.hits[:k]:
            parts.append(Text.assemble(f"{hit.rank:>2}  ", safe_line(hit.term), f"  {hit.score:.3f}"))
    return Group(*parts)


def _metrics_row(label: str, m: dict[str, float | int]) -> list[str]:
    return [label, str(m["n"]), *(f"{m[key]:.3f}" for key in ("recall@1", "recall@5", "mrr@10", "ndcg@10"))]


def eval_tables(evaluation: Evaluation, title: str = "") -> list[Table]:
    """One table per mode: overall, then by language and by kind; off-topic handling last."""
    tables = []
    summary = Table(title=safe_line(title) or None)
    for column in ("mode", "n", "R@1", "R@5", "MRR@10", "nDCG@10"):
        summary.add_column(column, justify="left" if column == "mode" else "right")
    for mode, result in evaluation.modes.items():
        summary.add_row(*_metrics_row(mode, result.overall.to_dict()))
    tables.append(summary)
    for mode, result in evaluation.modes.items():
        detail = Table(title=f"{mode}: by language and kind")
        for column in ("slice", "n", "R@1", "R@5", "MRR@10", "nDCG@10"):
            detail.add_column(column, justify="left" if column == "slice" else "right")
        for prefix, groups in (("lang", result.by_lang), ("kind", result.by_kind)):
            for name, metrics in groups.items():
                detail.add_row(*_metrics_row(f"{prefix}={safe_line(name)}", metrics.to_dict()))
        rejected, offtopic = result.offtopic_rejected
        confident, ontopic = result.ontopic_confident
        if offtopic:
            detail.caption = (
                f"off-topic answered 'no confident match': {rejected}/{offtopic}; "
                f"on-topic answered confidently: {confident}/{ontopic}"
            )
        tables.append(detail)
    return tables


def misses_table(result: ModeResult) -> Table:
    """`semsearch eval --misses`: each on-topic question whose gold entry is not first."""
    table = Table(title=f"{result.mode}: {len(result.misses)} not first")
    for column in ("id", "kind", "question", "gold", "rank", "first hits"):
        table.add_column(column, justify="right" if column == "rank" else "left")
    for r in result.misses:
        miss = r.miss()
        table.add_row(
            Text(safe_line(miss["id"])),
            Text(safe_line(miss["kind"])),
            Text(safe_line(miss["q"])),
            Text(safe_line(", ".join(miss["gold"]))),
            str(miss["rank"] or "-"),
            Text(safe_line(", ".join(miss["got"]))),
        )
    return table


def terms_table(rows: Sequence[dict[str, object]]) -> Table:
    """`semsearch terms`: names, source:line, chunks."""
    table = Table()
    table.add_column("names")
    table.add_column("source")
    table.add_column("chunks", justify="right")
    for row in rows:
        names = row["names"]
        assert isinstance(names, list)
        table.add_row(
            Text(safe_line(" | ".join(names))),
            Text(safe_line(f"{row['source']}:{row['line']}")),
            str(row.get("chunks", "")),
        )
    table.caption = f"{len(rows)} terms"
    return table


def info_table(data: dict[str, object]) -> Table:
    """`semsearch info` as a two-column table."""
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    encoder = data["encoder"]
    assert isinstance(encoder, dict)
    counts = data["counts"]
    assert isinstance(counts, dict)
    corpus = data["corpus"]
    assert isinstance(corpus, list)
    stale = f"yes: {data['stale_reason']}" if data["stale"] else "no"
    rows = [
        ("index", f"{data['index']} ({data['index_origin']})"),
        ("corpus", ", ".join(map(str, corpus))),
        ("encoder", str(encoder.get("id", ""))),
        ("prompts", f"query {encoder.get('query_prompt', '')!r}, passage {encoder.get('passage_prompt', '')!r}"),
        *([("engine", str(data["engine"]))] if data.get("engine") else []),
        ("counts", ", ".join(f"{v} {k}" for k, v in counts.items())),
        ("vectors", f"{data['ann']}"),
        ("built", f"{data['built_at']} in {data['build_seconds']} s"),
        *([("damaged", f"yes: {data['damage']}")] if data.get("damaged") else []),
        ("stale", stale),
    ]
    for key, value in rows:
        table.add_row(key, Text(safe_line(value)))
    return table
