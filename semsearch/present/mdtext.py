"""Glossary markdown as blocks of styled text, for showing it: on a terminal (cli/render.py styles and
wraps it) and off one (the same text, plain, one line per paragraph). No raw `**bold**` reaches
either.

Covers what glossary entries use: paragraphs, bullet and numbered lists (nested by indentation),
headings, block quotes, fenced code (```` ```math ```` included), pipe tables, rules, and inline
bold, italic, strike-through, code, links, autolinks and backslash escapes. LaTeX becomes code
(`latex_as_code`): terminals cannot typeset it. Anything else stays as written.

Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Block", "Span", "blocks", "inline", "latex_as_code", "plain"]


@dataclass(frozen=True)
class Span:
    """A run of text in one style: "" (plain), or words among "bold", "italic", "strike", "code",
    "link" (with its `url`)."""

    text: str
    style: str = ""
    url: str = ""


@dataclass(frozen=True)
class Block:
    """One block of an entry. `kind`: "para", "heading", "item" (a list item: `marker` is "• " or
    "3. ", `depth` its nesting), "quote", "code" (`lines` as written), "table" (`rows` of cells of
    spans; the first row is the header), "rule", "blank" (a blank line in the source)."""

    kind: str
    spans: tuple[Span, ...] = ()
    depth: int = 0
    marker: str = ""
    lines: tuple[str, ...] = ()
    rows: tuple[tuple[tuple[Span, ...], ...], ...] = field(default=())


_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$([^$\n]+?)\$")


def latex_as_code(markdown: str) -> str:
    """LaTeX shown as code: `$$…$$` as a code block, `$…$` as inline code (terminals cannot typeset)."""
    markdown = _DISPLAY_MATH.sub(lambda m: "\n```latex\n" + m.group(1).strip() + "\n```\n", markdown)
    return _INLINE_MATH.sub(lambda m: "`" + m.group(1).strip() + "`", markdown)


# -- inline ---------------------------------------------------------------------------------------

_INLINE = re.compile(
    r"(?P<escape>\\[\\`*_{}\[\]()#+\-.!|~<>$])"
    r"|(?P<code>(?P<ticks>`+)(?P<code_text>.+?)(?P=ticks))"
    r"|(?P<image>!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]*)(?:\s+\"[^\"]*\")?\))"
    r"|(?P<link>\[(?P<label>[^\]]+)\]\((?P<href>[^)\s]*)(?:\s+\"[^\"]*\")?\))"
    r"|(?P<auto><(?P<auto_url>(?:https?|ftp|file)://[^>\s]+)>)"
    r"|(?P<br><br\s*/?>)"
    r"|(?P<strong>\*\*(?=\S)(?P<strong_text>.+?)(?<=\S)\*\*|__(?=\S)(?P<strong_text2>.+?)(?<=\S)__(?!\w))"
    r"|(?P<strike>~~(?=\S)(?P<strike_text>.+?)(?<=\S)~~)"
    r"|(?P<em>(?<![\w*])\*(?=[^\s*])(?P<em_text>[^*]+?)(?<=[^\s*])\*(?![\w*])"
    r"|(?<![\w_])_(?=[^\s_])(?P<em_text2>[^_]+?)(?<=[^\s_])_(?![\w_]))"
)


def _add(style: str, word: str) -> str:
    return f"{style} {word}".strip() if word not in style.split() else style


def _close_cut(text: str) -> str:
    """A snippet cut with "…" may have lost the end of a `**bold**` or `code`: close what is open
    (or drop a marker the cut left with nothing after it)."""
    body = text[:-1]
    if body.count("`") % 2:
        body = body[:-1] if body.endswith("`") else body + "`"
    if body.replace("`", "").count("**") % 2:
        body = body[:-2] if body.endswith("**") else body + "**"
    return body + "…"


def inline(text: str, style: str = "") -> list[Span]:
    """The spans of one paragraph's inline markdown (markers removed)."""
    if style == "" and text.endswith("…"):
        text = _close_cut(text)
    spans: list[Span] = []

    def literal(chunk: str) -> None:
        if chunk:
            if spans and spans[-1].style == style and not spans[-1].url:
                spans[-1] = Span(spans[-1].text + chunk, style)
            else:
                spans.append(Span(chunk, style))

    pos = 0
    for match in _INLINE.finditer(text):
        literal(text[pos : match.start()])
        pos = match.end()
        kind = next(k for k in _KINDS if match.group(k) is not None)
        if kind == "escape":
            literal(match.group()[1])
        elif kind == "code":
            spans.append(Span(match.group("code_text").strip() or match.group("code_text"), _add(style, "code")))
        elif kind == "image":
            alt = match.group("alt") or match.group("src")
            spans.append(Span(alt, _add(style, "link"), match.group("src")))
        elif kind == "link":
            url = match.group("href")
            for span in inline(match.group("label"), _add(style, "link")):
                spans.append(Span(span.text, span.style, url))
        elif kind == "auto":
            spans.append(Span(match.group("auto_url"), _add(style, "link"), match.group("auto_url")))
        elif kind == "br":
            literal(" ")
        elif kind == "strong":
            spans += inline(match.group("strong_text") or match.group("strong_text2"), _add(style, "bold"))
        elif kind == "strike":
            spans += inline(match.group("strike_text"), _add(style, "strike"))
        elif kind == "em":
            spans += inline(match.group("em_text") or match.group("em_text2"), _add(style, "italic"))
    literal(text[pos:])
    return spans


_KINDS = ("escape", "code", "image", "link", "auto", "br", "strong", "strike", "em")


def plain(text: str) -> str:
    """One paragraph's text without its inline markdown (`**bold**` -> `bold`)."""
    return "".join(span.text for span in inline(text))


# -- blocks ---------------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_ITEM = re.compile(r"^(\s*)([-*+•]|\d{1,9}[.)])\s+(.*)$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$")


def _joined(previous: str, line: str) -> str:
    """A paragraph's next source line, joined as markdown would (a space), but without one between
    two Japanese characters, where a space would be a mistake."""
    if previous and line and ord(previous[-1]) > 0x2E7F and ord(line[0]) > 0x2E7F:
        return previous + line
    return f"{previous} {line}" if previous else line


def _cells(row: str) -> tuple[tuple[Span, ...], ...]:
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    cells = re.split(r"(?<!\\)\|", row)
    return tuple(tuple(inline(cell.strip().replace("\\|", "|"))) for cell in cells)


def blocks(markdown: str) -> list[Block]:
    """The blocks of an entry's body, in order (LaTeX already turned into code)."""
    lines = latex_as_code(markdown).expandtabs(4).split("\n")
    out: list[Block] = []
    para: list[str] = []  # the source of the paragraph or item being read
    head: Block | None = None  # its block, without spans yet

    def flush() -> None:
        nonlocal para, head
        if head is not None:
            text = ""
            for line in para:
                text = _joined(text, line.strip())
            out.append(Block(head.kind, tuple(inline(text)), head.depth, head.marker))
        para, head = [], None

    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker = fence.group(1)
            code = []
            while i < len(lines) and not lines[i].strip().startswith(marker):
                code.append(lines[i].rstrip())
                i += 1
            i += 1  # the closing fence (or the end)
            out.append(Block("code", lines=tuple(code)))
            continue
        if not line.strip():
            flush()
            if out and out[-1].kind != "blank":
                out.append(Block("blank"))
            continue
        if line.lstrip().startswith("|") and i < len(lines) and _TABLE_SEPARATOR.match(lines[i]):
            flush()
            rows = [_cells(line)]
            i += 1
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            out.append(Block("table", rows=tuple(rows)))
            continue
        if _RULE.match(line):
            flush()
            out.append(Block("rule"))
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            out.append(Block("heading", tuple(inline(heading.group(2))), depth=len(heading.group(1))))
            continue
        item = _ITEM.match(line)
        if item:
            flush()
            marker = item.group(2)
            depth = len(item.group(1).expandtabs(4)) // 2
            head = Block("item", depth=depth, marker="• " if not marker[0].isdigit() else f"{marker[:-1]}. ")
            para = [item.group(3)]
            continue
        quote = _QUOTE.match(line)
        if quote:
            if head is None or head.kind != "quote":
                flush()
                head = Block("quote")
            para.append(quote.group(1))
            continue
        if head is None:
            head = Block("para")
        para.append(line)
    flush()
    while out and out[-1].kind == "blank":
        out.pop()
    while out and out[0].kind == "blank":
        out.pop(0)
    return out
