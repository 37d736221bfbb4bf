"""present/mdtext.py: glossary markdown as blocks of styled spans, and as plain text (no raw `**bold**`)."""

from __future__ import annotations

from semsearch.present.mdtext import Span, blocks, inline, plain


def test_inline_markdown_loses_its_markers() -> None:
    assert plain("尤度とは**確率モデルの尤もらしさ**を表す") == "尤度とは確率モデルの尤もらしさを表す"
    assert plain("`x_y` and *it* and _em_ and ~~old~~ \\*lit\\*") == "x_y and it and em and old *lit*"
    assert plain("[リンク](https://example.com) <https://a.example/>") == "リンク https://a.example/"
    assert plain("a<br>b") == "a b"


def test_what_is_not_markup_stays() -> None:
    assert plain("2*3*4 = 24 and snake_case_name and a * b") == "2*3*4 = 24 and snake_case_name and a * b"


def test_a_cut_snippet_closes_what_the_cut_left_open() -> None:
    assert plain("**分割 (Tokenization…") == "分割 (Tokenization…"
    assert plain("を参照。**…") == "を参照。…"
    assert plain("`code cut…") == "code cut…"


def test_spans_carry_styles_and_links() -> None:
    assert inline("a **b [c](https://x.example/)**") == [
        Span("a "),
        Span("b ", "bold"),
        Span("c", "bold link", "https://x.example/"),
    ]


def test_blocks_of_an_entry() -> None:
    body = (
        "- 第一の点\n"
        "  - 入れ子の点\n"
        "1. 番号付き\n"
        "\n"
        "段落の一行目\n"
        "段落の二行目 and more\n"
        "```math\n"
        "\\hat{\\theta}\n"
        "```\n"
        "| a | b |\n"
        "|---|---|\n"
        "| **1** | 2 |\n"
        "> 引用\n"
        "---\n"
        "### 見出し\n"
        "式 $x^2$ と $$y$$\n"
    )
    got = [(b.kind, b.depth, b.marker, "".join(s.text for s in b.spans), b.lines) for b in blocks(body)]
    assert got[:6] == [
        ("item", 0, "• ", "第一の点", ()),
        ("item", 1, "• ", "入れ子の点", ()),
        ("item", 0, "1. ", "番号付き", ()),
        ("blank", 0, "", "", ()),
        ("para", 0, "", "段落の一行目段落の二行目 and more", ()),  # no space between Japanese lines
        ("code", 0, "", "", ("\\hat{\\theta}",)),
    ]
    table = blocks(body)[6]
    assert table.kind == "table"
    assert [["".join(s.text for s in cell) for cell in row] for row in table.rows] == [["a", "b"], ["1", "2"]]
    assert table.rows[1][0] == (Span("1", "bold"),)
    assert [b.kind for b in blocks(body)[7:]] == ["quote", "rule", "heading", "para", "code"]
    math = blocks(body)[10]
    assert "".join(s.text for s in math.spans) == "式 x^2 と" and math.spans[1] == Span("x^2", "code")
