"""The search page `semsearch serve` shows a person: HTML rendered on the server, from the same objects
the JSON API sends (payloads.py), so that the page works without JavaScript and says what /ask and
/show say. static/page.js only makes it live: it fetches these same pages and swaps their <main>.

    GET /?q=QUESTION             the search box and the answer's cards
    GET /term/NAME?source=FILE   a term in full: every entry's body, its places, related terms
    GET /static/FILE?v=HASH      page.css, page.js, icon.svg (cached for a year under their hash)

Every text from the glossary is escaped (`html.escape`); entries are rendered from a safe subset of
markdown (present/mdtext.py's blocks), never as raw HTML; only http(s) and relative links become
links (a cross-reference to a heading, to that term's page). Standard library only (plus the engine's own modules).
"""

from __future__ import annotations

import hashlib
import html
import itertools
import re
import urllib.parse
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..corpus import ref_names
from ..present.mdtext import Block, Span, blocks, inline
from ..text import match_spans

if TYPE_CHECKING:
    from ..search import Index
    from .resident import Resident

__all__ = [
    "HEADERS",
    "PAGE_PARAMS",
    "Static",
    "markdown_html",
    "page_html",
    "render",
    "results_html",
    "safe_href",
    "static_file",
    "term_html",
    "term_url",
]

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: The files under /static/ and their types; nothing else there is served.
STATIC_TYPES = {
    "page.css": "text/css; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
#: Sent with every page and static file: no inline script or style, nothing from elsewhere, no
#: framing, no referrer leaking a question to a linked site.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
STATE_LABELS = {"sure": "sure", "possible": "possible", "no_match": "no match"}


@dataclass(frozen=True)
class Static:
    """A static file as served: its bytes, type and version (a hash of its bytes)."""

    body: bytes
    content_type: str
    version: str


@cache
def static_file(name: str) -> Static | None:
    """The static file `name` (one of STATIC_TYPES), or None."""
    if name not in STATIC_TYPES:
        return None
    body = (STATIC_DIR / name).read_bytes()
    return Static(body, STATIC_TYPES[name], hashlib.sha256(body).hexdigest()[:12])


def _static_url(name: str) -> str:
    found = static_file(name)
    return f"/static/{name}?v={found.version}" if found else f"/static/{name}"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def term_url(name: str, source: str | None = None) -> str:
    """The page of the term `name` (of the file `source`)."""
    url = "/term/" + urllib.parse.quote(name, safe="")
    return url + ("?" + urllib.parse.urlencode({"source": source}) if source else "")


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


def safe_href(url: str) -> str | None:
    """`url` when following it is safe (http, https, or relative), else None (javascript:, data:,
    vbscript:, file: …). Browsers drop tabs, newlines and leading spaces inside a URL
    ("java\\tscript:"), so the scheme is read after removing them."""
    squeezed = re.sub(r"[\x00-\x20\x7f]", "", url)
    scheme = _SCHEME.match(squeezed)
    if scheme:
        return url.strip() if scheme[1].lower() in ("http", "https") else None
    if not squeezed or squeezed.startswith(("//", "\\", "/\\")):  # another host, scheme unknown: refuse
        return None
    return url.strip()


# -- markdown as HTML ------------------------------------------------------------------------------

_TAGS = {"bold": "strong", "italic": "em", "strike": "s", "code": "code"}


def _styled(span: Span, text: str) -> str:
    """`text` (HTML, escaped already) in the span's styles; a link only when safe_href allows it."""
    for word in span.style.split():
        if word in _TAGS:
            text = f"<{_TAGS[word]}>{text}</{_TAGS[word]}>"
    if "link" in span.style.split():
        href = _link_href(span.url)
        if href is None:
            return f'<span class="link-off" title="{_e(span.url)}">{text}</span>'
        return f'<a href="{_e(href)}" rel="noopener noreferrer nofollow">{text}</a>'
    return text


def _link_href(url: str) -> str | None:
    """Where a link in an entry goes on the page: a cross-reference to a heading (`#name`,
    `file.md#base64 of the heading`, corpus.ref_names) to that term's page; http(s) and this site's
    paths (`/…`) as they are; anything else nowhere (javascript:, …, and a glossary's own files, an
    image, which the server does not serve: relative to /term/ they would be a term not found)."""
    href = safe_href(url)
    if href is None or _SCHEME.match(href) or href.startswith("/"):
        return href
    names = ref_names(href)
    return term_url(names[0]) if names else None


def spans_html(spans: list[Span] | tuple[Span, ...], query: str = "") -> str:
    """Inline spans as HTML; with `query`, the parts that match it (text.match_spans, as the terminal
    marks them) in <mark>."""
    plain = "".join(span.text for span in spans)
    marks = match_spans(plain, query) if query else []
    out: list[str] = []
    pos = 0
    for span in spans:
        start, end = pos, pos + len(span.text)
        pos = end
        cuts = sorted({start, end, *(p for m in marks for p in m if start < p < end)})
        pieces = []
        for a, b in itertools.pairwise(cuts):
            piece = html.escape(plain[a:b], quote=True)
            if any(m0 <= a and b <= m1 for m0, m1 in marks):
                piece = f"<mark>{piece}</mark>"
            pieces.append(piece)
        out.append(_styled(span, "".join(pieces)))
    return "".join(out)


def markdown_html(markdown: str) -> str:
    """An entry's body as HTML: paragraphs, nested lists, headings, quotes, code (math as code),
    tables, rules; every text escaped, raw HTML shown as text."""
    out: list[str] = []
    lists: list[tuple[str, int]] = []  # the open lists: (tag, depth)

    def close_lists(depth: int = -1) -> None:
        while lists and lists[-1][1] > depth:
            out.append(f"</li></{lists.pop()[0]}>")

    for block in blocks(markdown):
        if block.kind == "item":
            tag = "ol" if block.marker[0].isdigit() else "ul"
            close_lists(block.depth)
            if lists and lists[-1][1] == block.depth:
                if lists[-1][0] != tag:
                    out.append(f"</li></{lists.pop()[0]}>")
                else:
                    out.append("</li>")
            if not lists or lists[-1][1] < block.depth:
                start = block.marker[:-2] if tag == "ol" and block.marker[:-2] != "1" else ""
                out.append(f'<{tag} start="{_e(start)}">' if start else f"<{tag}>")
                lists.append((tag, block.depth))
            out.append(f"<li>{spans_html(block.spans)}")
            continue
        if block.kind == "blank":
            continue
        close_lists()
        out.append(_block_html(block))
    close_lists()
    return "\n".join(out)


def _block_html(block: Block) -> str:
    if block.kind == "heading":
        level = min(block.depth + 2, 6)  # the term's names are the page's h1/h2
        return f"<h{level}>{spans_html(block.spans)}</h{level}>"
    if block.kind == "quote":
        return f"<blockquote><p>{spans_html(block.spans)}</p></blockquote>"
    if block.kind == "code":
        return f"<pre><code>{_e(chr(10).join(block.lines))}</code></pre>"
    if block.kind == "rule":
        return "<hr>"
    if block.kind == "table":
        head, *rows = block.rows
        cells = "".join(f"<th>{spans_html(cell)}</th>" for cell in head)
        body = "".join("<tr>" + "".join(f"<td>{spans_html(cell)}</td>" for cell in row) + "</tr>" for row in rows)
        return f'<div class="table"><table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table></div>'
    return f"<p>{spans_html(block.spans)}</p>"


# -- the page --------------------------------------------------------------------------------------


def page_html(main: str, question: str = "", title: str = "", index_name: str = "") -> str:
    """A whole page: the search form (a GET, so it works without JavaScript) and `main`."""
    heading = f"{title} — semsearch" if title else "semsearch"
    return f"""<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{_e(heading)}</title>
<link rel="icon" href="{_static_url("icon.svg")}" type="image/svg+xml">
<link rel="stylesheet" href="{_static_url("page.css")}">
<script src="{_static_url("page.js")}" defer></script>
</head>
<body>
<header>
<form id="search" action="/" method="get" role="search">
<a class="home" href="/" title="semsearch">semsearch</a>
<input id="q" type="search" name="q" value="{_e(question)}" placeholder="用語を検索 / search the glossary"
 aria-label="question" autocomplete="off" spellcheck="false" enterkeyhint="search">
<button type="submit">Search</button>
</form>
</header>
<main id="main" aria-live="polite">
{main}
</main>
<footer><kbd>/</kbd> search · <kbd>↑</kbd><kbd>↓</kbd> move · <kbd>Enter</kbd> open · <kbd>Esc</kbd> back{
        " · " + _e(index_name) if index_name else ""
    }</footer>
</body>
</html>
"""


_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _name_html(name: str) -> str:
    """A name, escaped; isolated in <bdi> when it holds a bidi control (a right-to-left override would
    otherwise run on past it, showing the rest of its line backwards)."""
    return f"<bdi>{_e(name)}</bdi>" if _BIDI_CONTROLS.search(name) else _e(name)


def _names_html(names: list[str]) -> str:
    return ' <span class="sep">|</span> '.join(_name_html(name) for name in names)


def _related_html(related: list[str]) -> str:
    if not related:
        return ""
    return f'<p class="related"><span class="label">related:</span> {_names_links(related)}</p>'


def _names_links(names: list[str]) -> str:
    return ", ".join(f'<a href="{_e(term_url(name))}">{_name_html(name)}</a>' for name in names)


def _state_html(data: dict[str, Any]) -> str:
    state, question = data["state"], data["query"]
    hits = data["hits"]
    badge = f'<span class="badge {_e(state)}">{_e(STATE_LABELS.get(state, state))}</span>'
    if state == "no_match" or not hits:
        line = f"No match for “{_e(question)}”."
        if data["did_you_mean"]:
            line += f" Did you mean {_names_links(data['did_you_mean'])}?"
        if hits:
            line += f" Closest entries: {_names_links([h['term'] for h in hits[:3]])}."
        return f'<p class="state" data-state="{_e(state)}">{badge} {line}</p>'
    if state == "possible":
        line = f"Possible matches for “{_e(question)}” (none of them sure)"
        if data["did_you_mean"]:
            line += f"; did you mean {_names_links(data['did_you_mean'])}?"
        return f'<p class="state" data-state="{_e(state)}">{badge} {line}</p>'
    probability = data.get("probability")
    sure = f" ({probability:.0%})" if isinstance(probability, float) else ""
    return f'<p class="state" data-state="{_e(state)}">{badge} “{_e(question)}”{_e(sure)}</p>'


def _card_html(hit: dict[str, Any], cleaned: str) -> str:
    score = float(hit["score"])
    named = ' <span class="named">name match</span>' if hit.get("named") else ""
    also = ""
    if hit.get("also_in"):
        places = ", ".join(f"{p['source']}:{p['line']}" for p in hit["also_in"])
        also = f'<p class="also">also in: {_e(places)}</p>'
    snippet = f'<p class="snippet">{spans_html(inline(hit["snippet"]), cleaned)}</p>' if hit.get("snippet") else ""
    return (
        f'<li class="card">\n<div class="head"><span class="rank">{int(hit["rank"])}</span> '
        f'<a class="names" href="{_e(term_url(hit["term"], hit["source"]))}">{_names_html(hit["names"])}</a> '
        f'<span class="score"><meter min="0" max="1" value="{score:.3f}"></meter> {score:.3f}</span>{named}</div>\n'
        f'<p class="where">{_e(hit["source"])}:{int(hit["line"])}</p>{also}\n{snippet}\n{_related_html(hit["related"])}'
        "\n</li>"
    )


def results_html(data: dict[str, Any], cleaned: str) -> str:
    """The answer `data` (the object GET /ask sends) as the page's <main>: its state, then a card per
    hit (names, score bar, file:line, the snippet with the question's words marked, related terms).
    `cleaned` is the question as the engine read it (what the terminal marks matches of)."""
    hits = data["hits"]
    cards = "\n".join(_card_html(hit, cleaned) for hit in hits) if data["state"] != "no_match" else ""
    listed = f'\n<ol class="hits">\n{cards}\n</ol>' if cards else ""
    return f'<section class="answer" data-state="{_e(data["state"])}">\n{_state_html(data)}{listed}\n</section>'


def term_html(data: dict[str, Any], related: list[str]) -> str:
    """The term `data` (the object GET /show sends) as the page's <main>: its names, each entry's
    place and body, the terms that share a name with it, and related terms."""
    term = data["term"]
    parts = [f'<article class="term">\n<h1>{_names_html(term["names"])}</h1>']
    for entry in data["entries"]:
        parts.append(f'<p class="where">{_e(entry["source"])}:{int(entry["line"])}</p>')
        body = entry["body"].strip()
        parts.append(f'<div class="body">{markdown_html(body)}</div>' if body else '<p class="empty">(no body)</p>')
    if data.get("homonyms"):
        others = ", ".join(
            f'<a href="{_e(term_url(h["term"]["term"], h["term"]["source"]))}">{_names_html(h["term"]["names"])}</a>'
            for h in data["homonyms"]
        )
        parts.append(f'<p class="homonyms">also named so: {others}</p>')
    parts.append(_related_html(related))
    parts.append("</article>")
    return "\n".join(p for p in parts if p)


def term_related(index: Index, name: str, source: str | None) -> list[str]:
    """The related terms of the term `name` (of its first entry), as a hit lists them."""
    from .payloads import show_entries

    return list(index.entries.related(show_entries(index, name, source)[1][0]))


def message_html(kind: str, message: str) -> str:
    """An error or a notice as the page's <main>."""
    return f'<section class="message {_e(kind)}"><p>{_e(message)}</p></section>'


def intro_html(terms: int) -> str:
    """The page before any question."""
    return (
        f'<section class="intro"><p>Ask the glossary ({terms} terms) in Japanese or English: '
        "a name, a description, a question.</p></section>"
    )


# -- routes ----------------------------------------------------------------------------------------

#: The parameters each page route takes (any other is a 400, as the API refuses them).
PAGE_PARAMS = {"/": ("q",), "/term": ("source",), "/static": ("v",)}


def render(resident: Resident, route: str, path: str, params: dict[str, list[str]]) -> tuple[str, str, str]:
    """The page at `route` ("/" or "/term"; `path` decoded): (title, question in the box, <main>).
    Raises QueryError for a term that is not there (a 404 page saying so)."""
    from ..errors import QueryError
    from ..request import Request
    from .payloads import answer_object, show_object

    if route == "/term":
        name = path.removeprefix("/term/")
        if not name.strip():  # blank: it would be looked up as a search, and some term answer
            raise QueryError("the term's name is empty")
        source = params["source"][0] if "source" in params else None
        index = resident.index
        with resident.guard(index):  # a name not found is answered with suggestions (a search)
            data = show_object(index, name, source)
            related = term_related(index, name, source)
        return " | ".join(data["term"]["names"]), "", term_html(data, related)
    question = params["q"][0] if "q" in params else ""
    if not question.strip():
        return "", "", intro_html(len(resident.index))
    index, answer = resident.ask(Request(question))
    return question, question, results_html(answer_object(answer, index), answer.cleaned)
