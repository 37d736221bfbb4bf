"""The search page `semsearch serve` shows at / (semsearch/serve/page.py): the results and the term view
rendered on the server (the path without JavaScript), asked over real HTTP of an in-process server on
the fake encoder; a hostile glossary rendered as text; the page's headers (CSP, caching), its static
files, its errors as pages; and `serve --open`.
"""

from __future__ import annotations

import base64
import contextlib
import html
import http.client
import re
import threading
import urllib.parse
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import GLOSSARY, FakeEncoder
from hypothesis import given
from hypothesis import strategies as st

import semsearch
from semsearch.serve.http import make_server, serve
from semsearch.serve.page import HEADERS, markdown_html, safe_href, static_file, term_url
from semsearch.serve.resident import Resident

HOSTILE = """\
## <script>alert('name')</script> | Hostile Entry
- <script>alert('body')</script> and <img src=x onerror="alert('img')"> stay text.
- [click me](javascript:alert('link')) and [tabbed](java\tscript:alert(2)) and [data](data:text/html,<b>x</b>)
- [a safe link](https://example.com/a?b=1&c=2) and [a relative one](other.md)
- <a href="javascript:alert('raw')">raw anchor</a>

## Markdown Showcase | 見本
1. first step
   - nested **bold** point
2. second step with `inline code`
- $E = mc^2$ as text

```python
print("<b>code</b>")
```

| a | b |
|---|---|
| 1 | <i>2</i> |
"""


class Page:
    """One response: status, headers (lower-case names), body text."""

    def __init__(self, status: int, headers: dict[str, str], body: str) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def main(self) -> str:
        return self.body.partition('<main id="main"')[2].partition("</main>")[0]


class Texts(HTMLParser):
    """The text of every element with one of `classes`, and every link's href, of a page."""

    def __init__(self, classes: set[str]) -> None:
        super().__init__()
        self.classes = classes
        self.found: dict[str, list[str]] = {c: [] for c in classes}
        self.hrefs: list[str] = []
        self.open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.hrefs.append(found["href"] or "")
        if tag in ("meter", "br", "hr", "input", "meta", "link", "img"):
            return
        mine = next((c for c in (found.get("class") or "").split() if c in self.classes), None)
        if mine:
            self.found[mine].append("")
        self.open.append((tag, mine))

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, mine in self.open:
            if mine:
                self.found[mine][-1] += data


def texts(body: str, *classes: str) -> Texts:
    parser = Texts(set(classes))
    parser.feed(body)
    return parser


@contextlib.contextmanager
def serving(work: Path) -> Iterator[int]:
    """A server in this process, on a free port (yielded), over the fake glossary and a hostile file,
    its index built in `work`."""
    (work / "glossary").mkdir()
    (work / "glossary" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    (work / "glossary" / "hostile.md").write_text(HOSTILE, encoding="utf-8")
    semsearch.build(work / "glossary", work / "index", encoder=FakeEncoder())
    server = make_server("127.0.0.1", 0, Resident(semsearch.load(work / "index", encoder=FakeEncoder()), poll=0))
    thread = threading.Thread(target=serve, args=(server,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        thread.join(30)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    with serving(tmp_path_factory.mktemp("page")) as port:
        yield "127.0.0.1", port


def fetch(site: tuple[str, int], path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Page:
    connection = http.client.HTTPConnection(*site, timeout=60)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        body = response.read().decode("utf-8")
        return Page(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        connection.close()


def q(question: str) -> str:
    return "/?" + urllib.parse.urlencode({"q": question})


# -- results and term view, without JavaScript -----------------------------------------------------


def test_a_question_renders_the_answers_cards_in_the_apis_order(site) -> None:
    page = fetch(site, q("dropout"))
    assert page.status == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    names = texts(page.main, "names").found["names"]
    api = fetch(site, "/ask?q=dropout")
    import json

    hits = json.loads(api.body)["hits"]
    assert names[0] == "ドロップアウト | Dropout"
    assert names == [" | ".join(h["names"]) for h in hits]
    assert f'data-state="{json.loads(api.body)["state"]}"' in page.main
    assert 'value="dropout"' in page.body  # the question stays in the box
    assert f'<a class="names" href="/term/{urllib.parse.quote("ドロップアウト")}?source=dl.md">' in page.main


def test_the_questions_words_are_marked_in_the_snippet(site) -> None:
    page = fetch(site, q("勾配消失"))
    first = texts(page.main, "snippet").found["snippet"][0]
    assert "勾配" in first
    assert "<mark>勾配</mark>" in page.main


def test_the_term_view_renders_the_whole_entry_and_its_related_terms(site) -> None:
    page = fetch(site, "/term/" + urllib.parse.quote("勾配消失問題"))
    assert page.status == 200
    found = texts(page.main, "where", "related")
    assert "<h1>勾配消失問題 <span" in page.main
    assert found.found["where"] == ["dl.md:4"]
    assert "<li>深い層で勾配が小さくなり学習が進まなくなる現象。</li>" in page.main.replace("\n", "")
    assert found.found["related"] and found.found["related"][0].startswith("related:")
    assert "<title>勾配消失問題 | Vanishing Gradient Problem — semsearch</title>" in page.body


def test_no_question_is_the_empty_page_and_a_name_not_there_is_a_404_page(site) -> None:
    assert "Ask the glossary (" in fetch(site, "/").main
    assert "Ask the glossary (" in fetch(site, q("  ")).main
    missing = fetch(site, "/term/no-such-term")
    assert missing.status == 404 and missing.headers["content-type"].startswith("text/html")
    assert "no term named &#x27;no-such-term&#x27;" in missing.main


def test_a_bad_parameter_or_path_is_a_page_that_says_so(site) -> None:
    page = fetch(site, "/?q=x&k=3")
    assert page.status == 400 and "unknown parameter &#x27;k&#x27;; / takes q" in page.main
    assert fetch(site, "/term/%ff").status == 400


def test_a_blank_term_name_is_a_404_page_not_some_term(site) -> None:
    for path in ("/term/%20", "/term/%09", "/term/%E3%80%80"):
        page = fetch(site, path)
        assert page.status == 404 and "<h1>" not in page.main, path
        assert "the term&#x27;s name is empty" in page.main, path


def test_an_engine_error_on_the_page_is_a_page_too(site, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error of the engine other than a bad question (the index gone, the model failing) is an
    HTML page with the page's policy, not the API's JSON (page.js finds no <main> in JSON)."""
    from semsearch.errors import IndexStoreError
    from semsearch.serve import page as page_module

    def broken(*args: object) -> None:
        raise IndexStoreError("the index is gone")

    monkeypatch.setattr(page_module, "render", broken)
    page = fetch(site, q("dropout"))
    assert page.status == 500 and page.headers["content-type"].startswith("text/html")
    assert "the index is gone" in page.main
    assert page.headers["content-security-policy"] == HEADERS["Content-Security-Policy"]


def test_the_markdown_subset_renders_as_html() -> None:
    rendered = markdown_html(HOSTILE.partition("## Markdown Showcase | 見本\n")[2])
    flat = rendered.replace("\n", "")
    assert "<ol><li>first step<ul><li>nested <strong>bold</strong> point</li></ul></li>" in flat
    assert "<li>second step with <code>inline code</code></li></ol>" in flat
    assert "<ul><li><code>E = mc^2</code> as text</li></ul>" in flat  # math as text
    assert "<pre><code>print(&quot;&lt;b&gt;code&lt;/b&gt;&quot;)</code></pre>" in flat
    assert "<td>&lt;i&gt;2&lt;/i&gt;</td>" in flat


# -- a hostile glossary ------------------------------------------------------------------------------


def test_a_hostile_entry_is_text_and_its_dangerous_links_are_not_links(site) -> None:
    page = fetch(site, "/term/Hostile%20Entry")
    assert page.status == 200
    body = page.body
    for raw in ("<script>alert", "<img", '<a href="javascript', "<b>x</b>", "<i>2"):
        assert raw not in page.main, raw
    assert not re.search(r"<[^>]*\son[a-z]+=", page.main)  # no handler in any tag
    assert "&lt;img src=x onerror=&quot;alert(&#x27;img&#x27;)&quot;&gt; stay text." in page.main
    assert "&lt;script&gt;alert(&#x27;body&#x27;)&lt;/script&gt;" in page.main
    hrefs = texts(body, "x").hrefs
    assert not [h for h in hrefs if re.sub(r"\s", "", h).lower().startswith(("javascript:", "data:"))]
    assert "https://example.com/a?b=1&c=2" in hrefs and "other.md" not in hrefs  # no file is served
    assert '<span class="link-off" title="javascript:alert(&#x27;link&#x27;">click me</span>' in page.main
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">' in page.main
    assert "<li>raw anchor" in page.main  # the corpus reader keeps an HTML anchor's text only


def test_a_hostile_name_in_a_card_is_text(site) -> None:
    page = fetch(site, q("Hostile Entry"))
    assert "<script>" not in page.main
    assert '&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt; <span class="sep">|</span> Hostile Entry' in page.main


def test_a_relative_link_opens_the_term_it_names_or_is_text() -> None:
    """The server serves no glossary file: a relative link to one (an image, another file) would be a
    /term/… 404 from a term's page; a cross-reference to a heading (#name, file.md#base64) opens that term."""
    fragment = base64.urlsafe_b64encode("過学習 | Overfitting".encode()).decode().rstrip("=")
    out = markdown_html(f"[a](#Dropout) [b](other.md#{fragment}) ![c](./llm.md.RNN_0.png) [d](other.md) [e](/?q=x)")
    assert '<a href="/term/Dropout" rel="noopener noreferrer nofollow">a</a>' in out
    assert f'<a href="{term_url("過学習")}" rel="noopener noreferrer nofollow">b</a>' in out
    assert '<span class="link-off" title="./llm.md.RNN_0.png">c</span>' in out
    assert '<span class="link-off" title="other.md">d</span>' in out
    assert '<a href="/?q=x" rel="noopener noreferrer nofollow">e</a>' in out


def test_a_name_with_bidi_controls_cannot_reorder_the_rest_of_its_line() -> None:
    """A right-to-left override in a name (U+202E) would run on to the end of its line, the score and
    the other names shown backwards: such a name is isolated in <bdi>."""
    from semsearch.serve.page import term_html

    data = {"term": {"names": ["\u202eevil", "plain"]}, "entries": []}
    assert '<h1><bdi>\u202eevil</bdi> <span class="sep">|</span> plain</h1>' in term_html(data, ["\u2067x"])
    isolate = "\u2067x"
    assert f'<a href="{term_url(isolate)}"><bdi>{isolate}</bdi></a>' in term_html(data, [isolate])


# Every tag markdown_html may write, with attributes holding no '<' or '>' (their values are escaped).
OWN_TAG = re.compile(
    r"</?(p|ul|ol|li|strong|em|s|code|pre|h[2-6]|blockquote|hr|div|table|thead|tbody|tr|th|td|a|span)"
    r"(\s[^<>]*)?>"
)
MARKDOWNISH = st.text(alphabet=st.sampled_from(list("<>&\"'`*_~[]()#-|:/\\ \t\nabjsvcript=!$012. 1")), max_size=160)


@given(MARKDOWNISH)
def test_any_markdown_renders_only_the_pages_own_tags_and_safe_links(text: str) -> None:
    out = markdown_html(text)
    assert "<" not in OWN_TAG.sub("", out) and ">" not in OWN_TAG.sub("", out)
    assert not re.search(r"<[^>]*\son[a-z]+=", out)
    for href in re.findall(r'<a href="([^"]*)"', out):
        assert safe_href(html.unescape(href)) is not None, href


@pytest.mark.parametrize(
    ("url", "live"),
    [
        ("https://example.com", True),
        ("HTTP://example.com", True),
        ("other.md#x", True),
        ("/term/x", True),
        ("#anchor", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("\x01javascript:alert(1)", False),
        ("vbscript:x", False),
        ("data:text/html,x", False),
        ("file:///etc/passwd", False),
        ("//evil.example/x", False),
        ("\\\\evil.example/x", False),
        ("", False),
    ],
)
def test_only_http_and_relative_links_are_followed(url: str, live: bool) -> None:
    assert (safe_href(url) is not None) is live


# -- headers, static files, methods, the Host check ---------------------------------------------------


def test_the_page_is_sent_with_a_strict_policy_and_no_cache(site) -> None:
    page = fetch(site, q("dropout"))
    for name, value in HEADERS.items():
        assert page.headers[name.lower()] == value
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-cache"
    # Nothing inline for the policy to refuse: no script body, no style element or attribute, no handler.
    assert not re.search(r"<script[^>]*>[^<]", page.body)
    assert not re.search(r"<style|<[^>]*\s(style|on[a-z]+)=", page.body)


def test_static_files_are_cached_under_their_version(site) -> None:
    page = fetch(site, "/")
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.body)
    assert {u.partition("?")[0] for u in urls} == {"/static/page.js", "/static/page.css", "/static/icon.svg"}
    for url in urls:
        name = url.partition("?")[0].removeprefix("/static/")
        found = static_file(name)
        assert found is not None
        response = fetch(site, url)
        assert response.status == 200 and response.headers["content-type"] == found.content_type
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.body.encode("utf-8") == found.body
        again = fetch(site, url, headers={"If-None-Match": response.headers["etag"]})
        assert again.status == 304 and again.body == ""
    unversioned = fetch(site, "/static/page.js")
    assert unversioned.headers["cache-control"] == "no-cache" and unversioned.headers["etag"]


def test_a_304_sends_no_length_and_every_answer_says_nosniff(site) -> None:
    etag = fetch(site, "/static/page.js").headers["etag"]
    again = fetch(site, "/static/page.js", headers={"If-None-Match": etag})
    assert again.status == 304 and "content-length" not in again.headers  # not the file's length: 0
    for response in (
        fetch(site, q("x"), headers={"Host": "evil.example"}),
        fetch(site, "/", method="POST"),
        fetch(site, "/ask?q=dropout"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/static/nope.js", "/static/../pyproject.toml", "/static/%2e%2e/page.py"])
def test_nothing_but_the_pages_files_is_served_as_static(site, path: str) -> None:
    assert fetch(site, path).status == 404


def test_head_works_for_the_page_and_other_methods_are_refused(site) -> None:
    head = fetch(site, q("dropout"), method="HEAD")
    assert head.status == 200 and head.body == "" and int(head.headers["content-length"]) > 0
    post = fetch(site, "/", method="POST")
    assert post.status == 405 and post.headers["allow"] == "GET, HEAD"
    assert fetch(site, "/ask?q=x", method="HEAD").status == 405  # the API answers GET only, as before


def test_the_page_is_behind_the_host_check(site) -> None:
    refused = fetch(site, q("dropout"), headers={"Host": "evil.example"})
    assert refused.status == 403 and "Dropout" not in refused.body
    assert fetch(site, "/static/page.js", headers={"Host": "evil.example"}).status == 403
    assert fetch(site, q("dropout"), headers={"Host": f"localhost:{site[1]}"}).status == 200


# -- serve --open --------------------------------------------------------------------------------


@pytest.mark.slow  # a server process
def test_serve_open_opens_the_page_in_the_browser(tmp_path: Path) -> None:
    from test_server import start_server

    (tmp_path / "glossary").mkdir()
    (tmp_path / "glossary" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    semsearch.build(tmp_path / "glossary", tmp_path / "index", encoder=FakeEncoder())
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {opened}\n', encoding="utf-8")
    browser.chmod(0o755)
    served = start_server(
        ["--index", str(tmp_path / "index"), "--poll", "0", "--open"], tmp_path / "log", env={"BROWSER": str(browser)}
    )
    try:
        for _ in range(200):
            if opened.exists() and opened.read_text():
                break
            threading.Event().wait(0.05)
        assert opened.read_text() == f"{served.url}/"
        assert "Ask the glossary" in fetch((served.host, served.port), "/").main
    finally:
        assert served.stop() == 0
