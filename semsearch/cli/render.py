"""Rich renderables for the CLI: result cards, entries, tables, lists. Builds things; never prints.

Two kinds of output, decided where the text is laid out (the console says whether it writes to a
terminal), so that every command, and `semsearch serve` answering the thin client, lays out text
the same way:

- on a terminal: styles, links, box-drawn tables, and paragraphs wrapped to the terminal's width
  at the places Japanese and English allow (present/linebreak.py: no line starts with `。` or `）`, no Latin
  word or URL is split);
- anywhere else (a pipe, a file, an editor): plain lines, never wrapped, never padded with trailing
  spaces, tables as aligned columns without box drawing. Markdown is rendered as text either way:
  no raw `**bold**`.

Everything that came from a corpus file or the user passes through `safe_line` (names, file
names, questions, snippets: every control and bidi character escaped, so nothing can forge or
reorder a line) or `safe_text` (entry bodies, which keep their newlines) before it reaches the
terminal, and is wrapped in `Text` (never parsed as rich markup), so a glossary cannot inject
terminal escapes or markup.
"""

from __future__ import annotations

import itertools
import os
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from ..confidence import NO_MATCH, POSSIBLE
from ..evaluation import Evaluation, ModeResult
from ..present.linebreak import break_points, fold, wrap
from ..present.mdtext import Block, Span, blocks, inline
from ..search import NOTHING_TO_SEARCH, Answer, Hit
from ..text import match_spans, safe_line, safe_text

__all__ = [
    "Flow",
    "Grid",
    "answer_output",
    "answer_view",
    "cache_view",
    "compare_view",
    "entry_view",
    "eval_tables",
    "file_link",
    "human_size",
    "info_rows",
    "info_view",
    "misses_table",
    "score_bar",
    "terms_view",
]

BAR_WIDTH = 10
# A card's text is indented this much under its rank.
CARD_INDENT = 4


def score_bar(score: float, width: int = BAR_WIDTH) -> Text:
    """A bar for a score in [0, 1]."""
    filled = max(0, min(width, round(score * width)))
    return Text("█" * filled, style="green") + Text("░" * (width - filled), style="dim")


def file_link(path: str, line: int | None = None) -> str:
    """The target of a terminal hyperlink (OSC 8) to a file and line: `file://HOST/PATH#LINE`, the
    form ripgrep calls "kitty" and kitty's open-actions match (`fragment_matches [0-9]+`); the OSC 8
    specification asks for the host name so that a link followed on another machine is not opened
    there. Terminals that do not know the fragment open the file."""
    host = os.uname().nodename if hasattr(os, "uname") else ""
    uri = "file://" + urllib.parse.quote(host) + urllib.parse.quote(Path(path).as_posix(), safe="/")
    return f"{uri}#{line}" if line else uri


# -- layout: paragraphs, indented blocks, tables ------------------------------------------------


def name_spans(names: Sequence[str], sep: str, start: int = 0) -> list[tuple[int, int]]:
    """Where each name lies in `sep.join(names)` placed at `start`: the spans a list of names
    would rather not be broken inside."""
    spans = []
    for name in names:
        spans.append((start, start + len(name)))
        start += len(name) + len(sep)
    return spans


class Flow:
    """A paragraph: on a terminal wrapped to the width at the places Japanese and English allow
    (present/linebreak.py), continuation lines indented by `indent` cells (default: the prefix's width);
    elsewhere one line, never wrapped. `keep`: (start, end) spans of `text` never broken; `prefer`:
    spans broken only when wider than a line (term names in a list). `fold`: a piece wider than its
    line (a path, a long name) is cut at the width and goes on on the next line, so that a table's
    cell shows all of it instead of being cropped."""

    def __init__(
        self,
        text: Text,
        prefix: Text | str = "",
        indent: int | None = None,
        keep: Sequence[tuple[int, int]] = (),
        prefer: Sequence[tuple[int, int]] = (),
        fold: bool = False,
    ) -> None:
        self.text = text
        self.prefix = prefix if isinstance(prefix, Text) else Text(prefix)
        self.indent = cell_len(self.prefix.plain) if indent is None else indent
        self.keep = keep
        self.prefer = prefer
        self.fold = fold

    def _pieces(self, width: int | None) -> list[tuple[Text, Text]]:
        """(lead, line) pairs: the prefix or the indent, and the text of each line."""
        if width is None:
            return [(self.prefix, self.text)]
        plain = self.text.plain
        first = max(1, width - cell_len(self.prefix.plain))
        rest = max(1, width - self.indent)
        spans = wrap(plain, rest, first_width=first, measure=cell_len, keep=self.keep, prefer=self.prefer)
        if self.fold:
            spans = fold(plain, spans, first, rest, measure=cell_len)
        pieces = []
        for number, (start, end) in enumerate(spans):
            lead = self.prefix if number == 0 else Text(" " * self.indent)
            pieces.append((lead, self.text[start:end]))
        return pieces

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width if options.is_terminal else None
        for lead, line in self._pieces(width):
            body = lead + line
            if body.plain:
                yield from body.render(console)
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        plain = self.text.plain
        bounds = [0, *break_points(plain, self.keep), len(plain)]
        widest = max((cell_len(plain[a:b].rstrip()) for a, b in itertools.pairwise(bounds)), default=0)
        lead = cell_len(self.prefix.plain)
        return Measurement(lead + widest, lead + cell_len(plain))


def _render_lines(console: Console, renderable: RenderableType, options: ConsoleOptions) -> list[list[Segment]]:
    """A renderable's lines, never cropped (a URL wider than the terminal stays whole)."""
    return list(Segment.split_lines(console.render(renderable, options)))


class Indented:
    """Renderables indented as a block: long lines wrap under themselves, not under the rank,
    and no line is padded with trailing spaces (plain output stays clean for pipes)."""

    def __init__(self, renderables: Sequence[RenderableType], indent: int = CARD_INDENT) -> None:
        self.renderables = renderables
        self.indent = indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        inner = options.update(width=max(10, options.max_width - self.indent))
        for renderable in self.renderables:
            for line in _render_lines(console, renderable, inner):
                if any(segment.text for segment in line):
                    yield Segment(" " * self.indent)
                    yield from line
                yield Segment.line()


Cell = str | Text | RenderableType


def _cell_text(cell: Cell) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, Flow):
        return cell.prefix.plain + cell.text.plain
    return str(cell)


class Grid:
    """A table: box-drawn on a terminal (its cells wrapped to fit), aligned columns elsewhere (two
    spaces apart, no box drawing, no trailing spaces, never wrapped). `justify`: "left" or "right"
    per column; `title` and `caption` are lines before and after."""

    def __init__(
        self,
        headers: Sequence[str],
        rows: Iterable[Sequence[Cell]],
        justify: Sequence[str] | None = None,
        title: str = "",
        caption: str = "",
        show_header: bool = True,
        boxed: bool = True,
        records_when_narrow: bool = False,
    ) -> None:
        self.headers = list(headers)
        self.rows = [list(row) for row in rows]
        self.justify = list(justify or ["left"] * len(self.headers))
        self.title = title
        self.caption = caption
        self.show_header = show_header
        self.boxed = boxed
        self.records_when_narrow = records_when_narrow

    def table(self) -> Table:
        table = Table(
            title=self.title or None,
            show_header=self.show_header,
            box=box.HEAVY_HEAD if self.boxed else None,
            pad_edge=self.boxed,
        )
        for header, justify in zip(self.headers, self.justify, strict=True):
            table.add_column(header, justify=justify)  # type: ignore[arg-type]
        for row in self.rows:
            table.add_row(*row)
        return table

    def boxed_width(self) -> int:
        """The cells a terminal needs to show this table boxed with no cell cut or wrapped."""
        texts = [[_cell_text(cell) for cell in row] for row in self.rows]
        if self.show_header:
            texts.insert(0, list(self.headers))
        widths = [max((cell_len(row[i]) for row in texts), default=0) for i in range(len(self.headers))]
        return sum(widths) + 3 * len(widths) + 1  # a space either side of each cell, a border between

    def plain_lines(self) -> list[str]:
        texts = [[_cell_text(cell) for cell in row] for row in self.rows]
        if self.show_header:
            texts.insert(0, list(self.headers))
        widths = [max((cell_len(row[i]) for row in texts), default=0) for i in range(len(self.headers))]
        lines = [self.title] if self.title else []
        for row in texts:
            cells = []
            for i, text in enumerate(row):
                pad = " " * (widths[i] - cell_len(text))
                last = i == len(row) - 1
                cells.append(pad + text if self.justify[i] == "right" else text + ("" if last else pad))
            lines.append("  ".join(cells).rstrip())
        if self.caption:
            lines.append(self.caption)
        return lines

    def records(self) -> list[RenderableType]:
        """The rows one after another: the first cell on a line of its own (whole: it is what a user
        copies), then each other cell under it as "header: value", wrapped."""
        views: list[RenderableType] = [Text(self.title)] if self.title else []
        for row in self.rows:
            views.append(Flow(Text(_cell_text(row[0]), style="bold"), fold=True))
            for header, cell in zip(self.headers[1:], row[1:], strict=True):
                views.append(Flow(Text(_cell_text(cell)), prefix=f"  {header}: ", fold=True))
        if self.caption:
            views.append(Flow(Text(self.caption)))
        return views

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.is_terminal and self.records_when_narrow and self.boxed_width() > options.max_width:
            yield from self.records()
            return
        if options.is_terminal:
            yield self.table()
            if self.caption:  # wrapped to the terminal (rich would leave a long caption one line)
                yield Flow(Text(self.caption))
            return
        for line in self.plain_lines():
            if line:
                yield Segment(line)
            yield Segment.line()


# -- markdown -------------------------------------------------------------------------------------

_SPAN_STYLES = {"bold": "bold", "italic": "italic", "strike": "strike", "code": "cyan", "link": "underline"}


def _styled(spans: Iterable[Span]) -> Text:
    """Inline markdown spans as rich Text; links are terminal hyperlinks."""
    text = Text()
    for span in spans:
        style = Style.combine([Style(), *(Style.parse(_SPAN_STYLES[word]) for word in span.style.split())])
        if span.url and urllib.parse.urlsplit(span.url).scheme in ("http", "https", "ftp", "file", "mailto"):
            style += Style(link=span.url)
        text.append(safe_line(span.text), style)
    return text


def _block_views(block: Block, width_hint: int = 40) -> list[RenderableType]:
    if block.kind == "blank":
        return [Text("")]
    if block.kind == "rule":
        return [_Rule()]
    if block.kind == "code":
        return [Flow(Text(safe_line(line), style="cyan"), prefix="    ") for line in block.lines] or [Text("")]
    if block.kind == "table":
        return [_table_view(block)]
    text = _styled(block.spans)
    if block.kind == "heading":
        text.stylize("bold")
        return [Flow(text)]
    if block.kind == "quote":
        return [Flow(text, prefix=Text("▌ ", style="dim"))]
    if block.kind == "item":
        return [Flow(text, prefix=" " + "  " * block.depth + block.marker)]
    return [Flow(text)]


class _Rule:
    """A horizontal rule: a line on a terminal, `---` elsewhere."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.is_terminal:
            yield Segment("─" * min(options.max_width, 40), Style(dim=True))
        else:
            yield Segment("---")
        yield Segment.line()


class _PipeTable:
    """A markdown table: box-drawn on a terminal, its rows as `| a | b |` lines elsewhere."""

    def __init__(self, rows: Sequence[Sequence[Text]]) -> None:
        self.rows = rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.is_terminal:
            table = Table(box=box.SQUARE, show_lines=True)
            width = max((len(row) for row in self.rows), default=0)
            for header in list(self.rows[0]) + [Text("")] * (width - len(self.rows[0])):
                table.add_column(Flow(header) if header.plain else "")
            for row in self.rows[1:]:
                table.add_row(*[Flow(cell) for cell in row])
            yield table
            return
        for row in self.rows:
            yield Segment("| " + " | ".join(cell.plain for cell in row) + " |")
            yield Segment.line()


def _table_view(block: Block) -> RenderableType:
    return _PipeTable([[_styled(cell) for cell in row] for row in block.rows])


def markdown_view(body: str) -> RenderableType:
    """An entry's body (markdown) as text: styled and wrapped on a terminal, plain elsewhere."""
    views: list[RenderableType] = []
    for block in blocks(safe_text(body)):
        views += _block_views(block)
    return Group(*views) if views else Text("(no body)", style="dim italic")


# -- cards ----------------------------------------------------------------------------------------


def highlighted(text: str, query: str) -> Text:
    """A snippet: its markdown rendered (no raw `**bold**`), the parts that match the question in
    bold (Japanese by character bigrams)."""
    styled = _styled(inline(text))
    for start, end in match_spans(styled.plain, query):
        styled.stylize("bold yellow", start, end)
    return styled


def _location(source: str, line: int, path: str) -> Text:
    label = Text(safe_line(f"{source}:{line}"), style="cyan")
    if path:
        # A clickable link where the terminal supports OSC 8; plain text elsewhere.
        label.stylize(Style(link=file_link(path, line)))
    return label


class _CardHead:
    """A card's first line: rank, names, score bar and score, "name match". On a terminal too
    narrow for it, the bar goes first, then the names wrap, the score kept with the last of them."""

    def __init__(self, hit: Hit) -> None:
        self.hit = hit

    def _flow(self, bar: bool) -> Flow:
        hit = self.hit
        shown = [safe_line(name) for name in hit.names]
        names = Text(" | ".join(shown), style="bold")
        tail = Text("  ")
        if bar:
            tail += score_bar(hit.score) + Text(" ")
        tail += Text(f"{hit.score:.3f}")
        if hit.named:
            # Why a lower score can rank first: the question names this term (the name tier).
            tail += Text("  name match", style="dim")
        # The score never starts a line of its own: it stays with the last word of the names.
        last_word = len(names.plain.rstrip()) - len(names.plain.rstrip().split(" ")[-1])
        text = names + tail
        rank = Text(f"{hit.rank:>2}  ", style="bold")
        return Flow(
            text, prefix=rank, indent=CARD_INDENT, keep=[(last_word, len(text))], prefer=name_spans(shown, " | ")
        )

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        full = self._flow(bar=True)
        fits = cell_len(full.prefix.plain + full.text.plain) <= options.max_width
        yield full if fits or not options.is_terminal else self._flow(bar=False)


def card(hit: Hit, query: str, body: str | None = None) -> RenderableType:
    """One hit: rank, names, score bar, source:line, snippet (or the whole entry), related terms."""
    details: list[RenderableType] = [Flow(_location(hit.source, hit.line, hit.path))]
    if hit.also_in:
        places = ", ".join(f"{source}:{line}" for source, line in hit.also_in)
        details.append(Flow(Text(safe_line(places), style="dim"), prefix=Text("also in: ", style="dim")))
    if body is not None:
        details.append(markdown_view(body))
    elif hit.snippet:
        details.append(Flow(highlighted(hit.snippet, query)))
    if hit.related:
        names = [safe_line(name) for name in hit.related]
        related = Text(", ".join(names), style="dim")
        details.append(Flow(related, prefix=Text("related: ", style="dim"), prefer=name_spans(names, ", ")))
    return Group(_CardHead(hit), Indented(details))


def _names_list(label: str, names: Sequence[str], end: str) -> tuple[Text, list[tuple[int, int]]]:
    """ " Label: a, b, c" + end, and the spans of the names (kept whole when wrapped)."""
    shown = [safe_line(name) for name in names]
    return Text.assemble(f" {label}: ", (", ".join(shown), "bold"), end), name_spans(shown, ", ", len(label) + 3)


def no_match_line(answer: Answer) -> Flow:
    """ "No match for “question”." with "Did you mean" (names within a spelling slip of it) and the
    closest entries, labelled as such (they are not answers)."""
    question = safe_line(answer.query)
    if not answer.hits and NOTHING_TO_SEARCH in answer.notices:
        return Flow(Text.assemble(("No match", "bold yellow"), f": nothing to search for in “{question}”."))
    line = Text.assemble(("No match", "bold yellow"), f" for “{question}”.")
    prefer: list[tuple[int, int]] = []
    for label, names, end in (
        ("Did you mean", answer.did_you_mean, "?"),
        ("Closest entries", [h.term for h in answer.hits[:3]], "."),
    ):
        if names:
            part, spans = _names_list(label, names, end)
            prefer += [(a + len(line), b + len(line)) for a, b in spans]
            line += part
    return Flow(line, prefer=prefer)


def possible_line(answer: Answer) -> Flow:
    """The line over possible matches: they are shown, but none is a sure answer."""
    line = Text.assemble(("Possible matches", "bold yellow"), f" for “{safe_line(answer.query)}” (none of them sure)")
    if answer.did_you_mean:
        part, spans = _names_list("did you mean", answer.did_you_mean, "?")
        return Flow(line + Text(";") + part, prefer=[(a + len(line) + 1, b + len(line) + 1) for a, b in spans])
    return Flow(line + Text(":"))


def answer_view(answer: Answer, bodies: Sequence[str] | None = None) -> RenderableType:
    """An answer as its state says: the cards of a sure answer; the cards of possible matches under
    a line that says they are not sure; or "No match" with the closest entries named."""
    if answer.state == NO_MATCH or not answer.hits:
        return no_match_line(answer)
    cards: list[RenderableType] = []
    if answer.state == POSSIBLE:
        cards += [possible_line(answer), Text("")]
    for i, hit in enumerate(answer.hits):
        if i:
            cards.append(Text(""))
        cards.append(card(hit, answer.cleaned, bodies[i] if bodies else None))
    return Group(*cards)


def entry_view(names: Sequence[str], entries: Sequence[tuple[str, int, str, str]]) -> RenderableType:
    """A term in full: its names as a heading, then each entry's `source:line` (linked to its file
    when known) and body. `entries`: (source, line, path, body) of each."""
    parts: list[RenderableType] = [Flow(Text(safe_line(" | ".join(names)), style="bold"))]
    for number, (source, line, path, body) in enumerate(entries):
        if number:
            parts.append(Text(""))
        parts += [Flow(_location(source, line, path)), Text(""), markdown_view(body or "*(no body)*")]
    return Group(*parts)


# -- compare, eval, terms, info -------------------------------------------------------------------


def _mode_label(mode: str, answer: Answer) -> str:
    return mode if answer.mode == mode else f"{mode}→{answer.mode}"  # after a fallback


def _states_caption(rankings: Mapping[str, Answer]) -> str:
    return "state: " + ", ".join(f"{mode} {answer.state.replace('_', ' ')}" for mode, answer in rankings.items())


def compare_grid(rankings: Mapping[str, Answer], k: int) -> Grid:
    """Rank, term and score per mode, side by side, and each mode's state under them."""
    headers = ["#"]
    for mode, answer in rankings.items():
        headers += [_mode_label(mode, answer), "score"]
    rows = []
    for row in range(k):
        cells: list[Cell] = [str(row + 1)]
        for answer in rankings.values():
            if row < len(answer.hits):
                hit = answer.hits[row]
                cells += [Text(safe_line(hit.term)), f"{hit.score:.3f}"]
            else:
                cells += ["", ""]
        if any(cells[1:]):
            rows.append(cells)
    return Grid(headers, rows, ["right", *["left", "right"] * len(rankings)], caption=_states_caption(rankings))


class _CompareView:
    def __init__(self, rankings: Mapping[str, Answer], k: int) -> None:
        self.rankings = rankings
        self.k = k

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        grid = compare_grid(self.rankings, self.k)
        if not options.is_terminal or grid.boxed_width() <= options.max_width:
            yield grid
            return
        # A terminal too narrow for every term and score whole: one list per mode, one line per hit
        # (a table would cut the names and the scores).
        for mode, answer in self.rankings.items():
            yield Text(_mode_label(mode, answer), style="bold") + Text(f" ({answer.state.replace('_', ' ')})")
            for hit in answer.hits[: self.k]:
                yield Flow(Text(safe_line(hit.term)) + Text(f"  {hit.score:.3f}"), prefix=f"{hit.rank:>2}  ")


def compare_view(rankings: Mapping[str, Answer], k: int) -> RenderableType:
    """`compare`: the rankings side by side, or, on a terminal too narrow to show every term and
    score whole in a table, one after another."""
    return _CompareView(rankings, k)


def _metrics_row(label: str, m: Mapping[str, float | int]) -> list[Cell]:
    return [label, str(m["n"]), *(f"{m[key]:.3f}" for key in ("recall@1", "recall@5", "mrr@10", "ndcg@10"))]


_METRIC_HEADERS = ("n", "R@1", "R@5", "MRR@10", "nDCG@10")


def eval_tables(evaluation: Evaluation, title: str = "") -> list[RenderableType]:
    """The summary (one row per mode); per mode, a table by language and kind when the queries say
    them; and how off-topic questions were answered."""
    views: list[RenderableType] = []
    summary = [_metrics_row(mode, result.overall.to_dict()) for mode, result in evaluation.modes.items()]
    views.append(
        Grid(
            ["mode", *_METRIC_HEADERS],
            summary,
            ["left", *["right"] * 5],
            title=safe_line(title),
            records_when_narrow=True,
        )
    )
    for mode, result in evaluation.modes.items():
        slices = [
            _metrics_row(f"{prefix}={safe_line(name)}", metrics.to_dict())
            for prefix, groups in (("lang", result.by_lang), ("kind", result.by_kind))
            for name, metrics in groups.items()
        ]
        caption = result.states.describe()
        if slices:
            title = f"{mode}: by language and kind"
            justify = ["left", *["right"] * 5]
            views.append(
                Grid(
                    ["slice", *_METRIC_HEADERS], slices, justify, title=title, caption=caption, records_when_narrow=True
                )
            )
        elif caption:
            views.append(Flow(Text(f"{mode}: {caption}")))
    return views


def misses_table(result: ModeResult) -> Grid:
    """`semsearch eval --misses`: each on-topic question whose gold entry is not first, and each
    off-topic one answered "sure", with its answer's state."""
    rows: list[list[Cell]] = []
    for r in result.misses:
        miss = r.miss()
        rows.append(
            [
                Text(safe_line(miss["id"])),
                Text(safe_line(miss["kind"])),
                Text(safe_line(miss["q"])),
                Text(safe_line(", ".join(miss["gold"]) or "(off-topic)")),
                str(miss["rank"] or "-"),
                miss["state"].replace("_", " "),
                Text(safe_line(", ".join(miss["got"]))),
            ]
        )
    return Grid(
        ["id", "kind", "question", "gold", "rank", "state", "first hits"],
        rows,
        ["left", "left", "left", "left", "right", "left", "left"],
        title=f"{result.mode}: {len(result.misses)} not first, or off-topic and sure",
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def terms_view(rows: Sequence[Mapping[str, Any]], noun: str = "term") -> RenderableType:
    """`semsearch terms`: the terms (or with --entries, the entries) grouped by file (in corpus
    order), each as its line number and its names; a term embedded as several chunks says how many,
    one with entries in other places says where ("also in")."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row["source"]), []).append(row)
    parts: list[RenderableType] = []
    for source, members in groups.items():
        header = Text(safe_line(source), style="bold cyan")
        path = members[0].get("path")
        if path:
            header.stylize(Style(link=file_link(str(path))))
        parts.append(Flow(header + Text(f"  {_plural(len(members), noun)}", style="dim")))
        digits = max(len(str(row["line"])) for row in members)
        for row in members:
            names = Text(safe_line(" | ".join(row["names"])))
            chunks = row.get("chunks")
            if isinstance(chunks, int) and chunks > row.get("entries", 1):  # a long entry, not only several
                names += Text(f"  ({chunks} chunks)", style="dim")
            if row.get("also_in"):
                places = ", ".join(f"{p['source']}:{p['line']}" for p in row["also_in"])
                names += Text(f"  also in {safe_line(places)}", style="dim")
            parts.append(Flow(names, prefix=Text(f"  {row['line']:>{digits}}  ", style="dim")))
    parts.append(Text(f"{_plural(len(rows), noun)} in {_plural(len(groups), 'file')}", style="dim"))
    return Group(*parts)


def _use_encoder_rows(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The Universal Sentence Encoder's side of the index (JSON: `second_encoder`, `second_weights`)."""
    use = data.get("second_encoder")
    if not isinstance(use, dict):
        return [("second encoder", "none (the hybrid ranking is e5 and TF-IDF)")]
    return [("second encoder", str(use.get("id", ""))), ("its weights", str(data.get("second_weights")))]


def info_view(rows: Sequence[tuple[str, str]]) -> Grid:
    """`semsearch info`: one row per fact, its name then its value."""
    return Grid(
        ["", ""],
        [[Text(key, style="bold"), Flow(Text(safe_line(value)), fold=True)] for key, value in rows],
        show_header=False,
        boxed=False,
    )


def _origin(origin: str) -> str:
    return {
        "--index": "given by --index",
        "$SEMSEARCH_INDEX": "given by $SEMSEARCH_INDEX",
        "./index": "./index, beside ./corpus",
        "cache": "the per-user cache",
    }.get(origin, origin)


def _vectors(ann: Mapping[str, Any], dim: object) -> str:
    count = ann.get("ntotal", "?")
    kind = str(ann.get("kind", ""))
    search = {"flat": "exact search", "ivf": "approximate search (IVF)", "hnsw": "approximate search (HNSW)"}
    text = f"{count} of {dim} dimensions, {search.get(kind, kind or 'unknown search')}"
    if kind == "ivf" and "nlist" in ann:
        text += f", {ann['nlist']} lists, {ann.get('nprobe', '?')} probed"
    return text


def info_rows(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`semsearch info`'s facts for people (the JSON has them all, as they are)."""
    encoder: Mapping[str, Any] = data["encoder"]
    counts: Mapping[str, int] = data["counts"]
    query, passage = str(encoder.get("query_prompt", "")), str(encoder.get("passage_prompt", ""))
    prompts = f'"{query}" for questions, "{passage}" for entries' if query or passage else "none"
    entries, distinct = counts.get("terms", 0), counts.get("distinct_terms")
    if distinct is not None and distinct != entries:  # a term written in several places, or a homonym
        held = f"{_plural(distinct, 'term')} ({_plural(entries, 'entry')}: entries that share a name are one term)"
    else:
        held = _plural(entries, "term")
    held += f" in {_plural(counts.get('files', 0), 'file')}"
    held += f", {_plural(counts.get('chunks', 0), 'chunk')}"
    if counts.get("skipped"):
        held += f", {counts['skipped']} skipped (files or headings)"
    built = str(data["built_at"]).replace("T", " ").replace("+00:00", " UTC")
    rows = [
        ("index", f"{data['index']} ({_origin(str(data['index_origin']))})"),
        ("corpus", ", ".join(map(str, data["corpus"]))),
        ("encoder", str(encoder.get("id", ""))),
        ("prompts", prompts),
        *([("engine", str(data["engine"]))] if data.get("engine") else []),
        *_use_encoder_rows(data),
        ("counts", held),
        ("vectors", _vectors(data["ann"], encoder.get("dim", "?"))),
        *([("size", _index_size(data))] if data.get("bytes") is not None else []),
        ("built", f"{built}, in {float(data['build_seconds']):.1f} s"),
        *([("damaged", f"yes: {data['damage']}")] if data.get("damaged") else []),
        ("stale", f"yes: {data['stale_reason']}" if data["stale"] else "no"),
    ]
    return rows


def _index_size(data: Mapping[str, Any]) -> str:
    text = f"{human_size(int(data['bytes']))} on disk"
    if isinstance(data.get("shared_weights"), dict):
        text += " (the second encoder's weights not counted: they are shared, see above)"
    return text


def human_size(size: int) -> str:
    """Bytes for people: 512 B, 1.2 MB (powers of 1,000), 3.4 GB."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def _ago(seconds: float) -> str:
    days = seconds / 86400
    if days >= 2:
        return f"{days:.0f} days ago"
    hours = seconds / 3600
    if hours >= 2:
        return f"{hours:.0f} hours ago"
    if seconds < 60:
        return "just now"
    return f"{seconds / 60:.0f} min ago"


def cache_view(base: Path | None, entries: Sequence[Any], now: float) -> RenderableType:
    """`semsearch cache`: where the cache is, then each index (least recently used first)."""
    if base is None:
        return Flow(Text("no per-user cache folder (no usable home folder; see `semsearch cache --help`)"))
    count = "1 cached index" if len(entries) == 1 else f"{len(entries)} cached indexes"
    head = Flow(Text(f"{safe_line(str(base))}: {count}"), fold=True)
    if not entries:
        return head
    rows: list[list[Cell]] = []
    for entry in entries:
        corpus = ", ".join(entry.corpus) if entry.corpus else "unknown"
        if entry.problem:
            corpus += " (not a usable index)"
        elif entry.corpus_missing:
            corpus += " (gone)"
        used = f"{_ago(now - entry.last_used)}"
        rows.append([Text(safe_line(entry.name)), Text(safe_line(corpus)), human_size(entry.size), used])
    total = human_size(sum(e.size for e in entries))
    # Too narrow for the table whole, each index is listed with its name on a line of its own: the
    # name is what `cache rm` takes, and a table would cut it.
    grid = Grid(
        ["name", "corpus", "size", "last used"],
        rows,
        ["left", "left", "right", "left"],
        caption=f"{total} in all",
        records_when_narrow=True,
    )
    return Group(head, grid)


def weights_view(root: Path | None, entries: Sequence[Any]) -> RenderableType:
    """`semsearch cache`, its second part: the converted weights every index shares."""
    count = "1 set of shared weights" if len(entries) == 1 else f"{len(entries)} sets of shared weights"
    head = Flow(Text(f"{safe_line(str(root))}: {count}"), fold=True)
    rows: list[list[Cell]] = []
    for entry in entries:
        users = len(entry.used_by)
        used = f"{users} index" if users == 1 else f"{users} indexes"
        if entry.installed:
            used += ", the installed encoder's"
        if entry.problem:
            used += " (damaged: converted again when used)"
        rows.append([Text(safe_line(entry.key)), human_size(entry.size), Text(used)])
    total = human_size(sum(e.size for e in entries))
    grid = Grid(
        ["weights", "size", "used by"],
        rows,
        ["left", "right", "left"],
        caption=f"{total} in all",
        records_when_narrow=True,
    )
    return Group(Text(""), head, grid)


def answer_output(answer: Answer, index: Any, fmt: str, full: bool) -> RenderableType | str:
    """What `ask` prints for an answer in format `fmt` (all but json, which is one JSON object):
    a renderable for text, the text itself for the others. Also what `semsearch serve` renders
    for the thin client, so that both print the same."""
    bodies = [index.term(h).body for h in answer.hits] if full else None
    if fmt == "text":
        return answer_view(answer, bodies)
    from ..serve.payloads import answer_object
    from .formats import answer_text

    return answer_text(answer_object(answer, index, full), fmt)
