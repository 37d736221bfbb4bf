"""corpus.py: glossary markdown (plain and GitHub-rendered) -> Term records."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from conftest import TECH_GLOSSARY_RENDERED

from semsearch.corpus import Term, parse_markdown, read_corpus, ref_names, source_prefixes


def b64(heading: str) -> str:
    return base64.b64encode(heading.encode("utf-8")).decode("ascii")


def names(terms: list[Term]) -> list[tuple[str, ...]]:
    return [t.names for t in terms]


PLAIN = """\
Intro text before the first heading is not a term.

## 勾配消失問題 | Vanishing Gradient Problem
- 深い層で勾配が小さくなる。

## ドロップアウト ｜ Dropout｜ドロップアウト法
- ユニットを無効化する。
"""

RENDERED = f"""\
<!-- 記事URL:https://example.com/output/ai/dl.md# -->

## 勾配消失問題 | Vanishing Gradient Problem<a id="{b64("勾配消失問題 | Vanishing Gradient Problem")}"></a>

- 深い層で<a href="https://example.com/output/ai/dl.md#{b64("勾配 | Gradient")}">勾配</a>が小さくなる。

## ドロップアウト ｜ Dropout｜ドロップアウト法<a id="x"></a>

- ユニットを無効化する (<a href="https://arxiv.org/abs/1207.0580">論文</a>)。
"""


def test_plain_variant() -> None:
    terms, skipped = parse_markdown(PLAIN, "dl.md")
    assert skipped == []
    assert names(terms) == [
        ("勾配消失問題", "Vanishing Gradient Problem"),
        ("ドロップアウト", "Dropout", "ドロップアウト法"),
    ]
    first = terms[0]
    assert (first.name, first.body, first.source, first.line, first.refs, first.url) == (
        "勾配消失問題",
        "- 深い層で勾配が小さくなる。",
        "dl.md",
        3,
        (),
        None,
    )
    assert terms[1].line == 6


def test_rendered_variant_reads_like_the_plain_one() -> None:
    terms, skipped = parse_markdown(RENDERED, "dl.md")
    assert skipped == []
    assert names(terms) == names(parse_markdown(PLAIN, "dl.md")[0])
    vanishing, dropout = terms
    assert vanishing.body == "- 深い層で勾配が小さくなる。"  # link -> its text, anchors dropped
    assert vanishing.refs == (f"https://example.com/output/ai/dl.md#{b64('勾配 | Gradient')}",)
    assert dropout.body == "- ユニットを無効化する (論文)。"
    assert dropout.refs == ("https://arxiv.org/abs/1207.0580",)
    assert {t.url for t in terms} == {"https://example.com/output/ai/dl.md#"}
    assert all("<a" not in t.body and "<a" not in "".join(t.names) for t in terms)


def test_repeated_links_are_kept_once_in_order() -> None:
    text = '## T\n<a href="#B">b</a> <a href="#A">a</a> <a href="#B">b again</a>\n'
    [term], _ = parse_markdown(text, "t.md")
    assert term.refs == ("#B", "#A")
    assert term.body == "b a b again"


def test_headings_without_aliases_empty_bodies_and_nameless_headings() -> None:
    text = "## Lonely\n## Empty | 空\n\n\n##\n## Last\nbody\n"
    terms, skipped = parse_markdown(text, "g.md")
    assert [(t.names, t.body, t.line) for t in terms] == [
        (("Lonely",), "", 1),
        (("Empty", "空"), "", 2),
        (("Last",), "body", 6),
    ]
    assert [(s.source, s.line, s.reason) for s in skipped] == [("g.md", 5, "heading has no names")]


def test_name_splitting_trims_emphasis_and_drops_duplicate_names() -> None:
    [term], _ = parse_markdown("##   **RNN**  ｜ `RNN` | Recurrent NN |  \n", "g.md")
    assert term.names == ("RNN", "Recurrent NN")


def test_text_before_the_first_heading_is_not_a_term() -> None:
    terms, _ = parse_markdown("preamble\n- a bullet\n## Only\nbody\n", "g.md")
    assert [(t.name, t.body, t.line) for t in terms] == [("Only", "body", 3)]


def test_level_one_heading_ends_a_term_and_deeper_headings_stay_in_the_body() -> None:
    text = "## A\na1\n### Detail\na2\n#### Deeper\n# Chapter\nnot in any term\n## B\nb1\n"
    terms, _ = parse_markdown(text, "g.md")
    assert [(t.name, t.body, t.line) for t in terms] == [
        ("A", "a1\n### Detail\na2\n#### Deeper", 1),
        ("B", "b1", 8),
    ]


def test_headings_inside_code_fences_and_comments_are_not_terms() -> None:
    text = (
        "## A\n"  # 1
        "```markdown\n"  # 2
        "## not a term\n"  # 3
        "```\n"  # 4
        "<!--\n"  # 5
        "## hidden\n"  # 6
        "-->\n"  # 7
        "~~~\n## also not\n~~~\n"  # 8-10
        "## B\n"  # 11
        "b\n"
    )
    terms, skipped = parse_markdown(text, "g.md")
    assert [(t.name, t.line) for t in terms] == [("A", 1), ("B", 11)]
    assert skipped == []
    assert "## not a term" in terms[0].body and "## also not" in terms[0].body
    assert "hidden" not in terms[0].body


def test_heading_line_numbers_with_crlf_and_multiline_comments() -> None:
    text = "<!-- 記事URL:https://x/y.md -->\r\n<!-- a\r\nlong\r\ncomment -->\r\n## A\r\nbody\r\n\r\n## B\r\n"
    terms, _ = parse_markdown(text, "g.md")
    assert [(t.name, t.line, t.body) for t in terms] == [("A", 5, "body"), ("B", 8, "")]
    assert terms[0].url == "https://x/y.md"


def test_text_after_a_comment_on_its_line_is_no_heading() -> None:
    # Found by hypothesis: the comment was blanked and left `## #` at the start of line 1.
    text = "<!-- 記事URL: http://x -->## not a term\n## A\n<!-- c -->\n## B\n"
    terms, skipped = parse_markdown(text, "g.md")
    assert [(t.name, t.line) for t in terms] == [("A", 2), ("B", 4)]
    assert skipped == []


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_read_corpus_recurses_and_labels_sources_relative_to_the_root(glossary: Path) -> None:
    corpus = read_corpus([glossary])
    assert [(t.source, t.name, t.line) for t in corpus.terms] == [
        ("dl.md", "勾配消失問題", 4),
        ("dl.md", "ドロップアウト", 8),
        ("dl.md", "過学習", 11),
        ("dl.md", "学習率", 14),
        ("sub/more.md", "誤差逆伝播法", 1),
        ("sub/more.md", "転移学習", 4),
    ]
    assert [f.source for f in corpus.files] == ["dl.md", "sub/more.md"]
    assert corpus.roots == (str(glossary.resolve()),)
    assert corpus.terms[0].url == "https://example.com/glossary.md#"
    assert corpus.terms[-1].url is None


def test_read_corpus_ignores_hidden_folders_and_other_files(tmp_path: Path) -> None:
    write(tmp_path / "g" / "a.md", "## A\n")
    write(tmp_path / "g" / ".hidden" / "b.md", "## B\n")
    write(tmp_path / "g" / "notes.txt", "## C\n")
    write(tmp_path / "g" / "UPPER.MD", "## D\n")
    assert [(t.source, t.name) for t in read_corpus([tmp_path / "g"]).terms] == [("UPPER.MD", "D"), ("a.md", "A")]


def test_several_roots_prefix_sources_with_the_folder_name(tmp_path: Path) -> None:
    write(tmp_path / "ml" / "a.md", "## Dropout\nml\n")
    write(tmp_path / "dl" / "nested" / "a.md", "## Dropout\ndl\n")
    corpus = read_corpus([tmp_path / "ml", tmp_path / "dl"])
    assert [(t.source, t.name, t.body) for t in corpus.terms] == [
        ("dl/nested/a.md", "Dropout", "dl"),
        ("ml/a.md", "Dropout", "ml"),
    ]


def test_roots_with_the_same_folder_name_get_distinct_labels(tmp_path: Path) -> None:
    # Regression: both were labelled "docs/g.md", so the manifest kept one of the two files and the
    # index was stale forever (every `ask` rebuilt it), and hits of the second root linked the first.
    write(tmp_path / "team-a" / "docs" / "g.md", "## Dropout\n")
    write(tmp_path / "team-b" / "docs" / "g.md", "## Overfitting\n")
    roots = [tmp_path / "team-a" / "docs", tmp_path / "team-b" / "docs"]
    corpus = read_corpus(roots)
    assert [(t.source, t.name) for t in corpus.terms] == [
        ("team-a/docs/g.md", "Dropout"),
        ("team-b/docs/g.md", "Overfitting"),
    ]
    assert [f.source for f in corpus.files] == ["team-a/docs/g.md", "team-b/docs/g.md"]


def test_source_prefixes(tmp_path: Path) -> None:
    assert source_prefixes([tmp_path / "g"]) == [""]
    assert source_prefixes([tmp_path / "ml", tmp_path / "dl"]) == ["ml/", "dl/"]
    assert source_prefixes([tmp_path / "a" / "docs", tmp_path / "b" / "docs", tmp_path / "c" / "more"]) == [
        "a/docs/",
        "b/docs/",
        "c/more/",
    ]


def test_a_single_markdown_file_as_root(tmp_path: Path) -> None:
    write(tmp_path / "one.md", "## A\n")
    assert [(t.source, t.name) for t in read_corpus([tmp_path / "one.md"]).terms] == [("one.md", "A")]


def test_repeated_names_across_files_stay_separate_entries(tmp_path: Path) -> None:
    write(tmp_path / "g" / "ml.md", "## 過学習 | Overfitting\n- 機械学習での説明\n")
    write(tmp_path / "g" / "dl.md", "## 過学習 | Overfitting\n- 深層学習での説明\n")
    terms = read_corpus([tmp_path / "g"]).terms
    assert [(t.source, t.name, t.body) for t in terms] == [
        ("dl.md", "過学習", "- 深層学習での説明"),
        ("ml.md", "過学習", "- 機械学習での説明"),
    ]


def test_ref_names_base64_plain_and_external() -> None:
    link = f"https://github.com/o/r/blob/main/ai/dl.md#{b64('勾配消失問題 | Vanishing Gradient Problem')}"
    assert ref_names(link) == ("勾配消失問題", "Vanishing Gradient Problem")
    # URL-safe base64 without padding decodes too.
    fragment = base64.urlsafe_b64encode("過学習 | Overfitting".encode()).decode().rstrip("=")
    assert ref_names(f"other.md#{fragment}") == ("過学習", "Overfitting")
    assert ref_names("#Dropout") == ("Dropout",)
    assert ref_names("https://arxiv.org/abs/1207.0580") == ()
    assert ref_names("https://example.com/page#section") == ()
    assert ref_names("other.md#") == ()


@pytest.fixture
def rendered_glossary(tech_glossary: Path) -> Path:
    if not TECH_GLOSSARY_RENDERED.is_dir():
        pytest.skip(f"rendered glossary not available at {TECH_GLOSSARY_RENDERED}")
    return TECH_GLOSSARY_RENDERED


def test_tech_glossary_plain_and_rendered_parse_to_the_same_terms(tech_glossary: Path, rendered_glossary: Path) -> None:
    plain = read_corpus([tech_glossary]).terms
    rendered = read_corpus([rendered_glossary]).terms
    assert len(plain) == len(rendered) == 293
    assert [(t.source, t.names) for t in plain] == [(t.source, t.names) for t in rendered]
    assert not [t.name for t in rendered if "<a " in t.body]
    assert sum(bool(t.refs) for t in rendered) > 100  # the rendered form carries cross-references
    assert all(t.url and t.url.startswith("https://") for t in rendered)
