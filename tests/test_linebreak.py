"""present/linebreak.py: where mixed Japanese and English text may break (kinsoku, Latin words, URLs), and
greedy wrapping; a property test over drawn text checks the rules on text nobody wrote by hand."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semsearch.present.linebreak import NO_END, NO_START, break_points, cell_width, wrap


def lines(text: str, width: int, **kwargs) -> list[str]:
    return [text[a:b] for a, b in wrap(text, width, **kwargs)]


def test_japanese_breaks_anywhere_but_before_closing_marks() -> None:
    text = "活性化関数や深い層の影響で勾配が消失し、学習が進行しなくなる現象。"
    assert lines(text, 20) == ["活性化関数や深い層の", "影響で勾配が消失し、", "学習が進行しなくなる", "現象。"]
    # 10 cells: "勾配が消" would leave "失し、" fine, but never a line starting with "、" or "。".
    for width in range(4, 30):
        assert all(line[0] not in NO_START for line in lines(text, width)[1:]), width


def test_brackets_and_quotes_stay_with_their_text() -> None:
    text = "最適化手法（ミニバッチ）と「ノイズ」の話"
    for width in range(4, 20):
        for line in lines(text, width):
            assert line[0] not in NO_START and line[-1] not in NO_END, (width, line)


def test_latin_words_numbers_and_urls_are_never_split() -> None:
    text = "Full-batch と Mini-batch、SGD は速い。詳しくは https://ja.wikipedia.org/wiki/確率的勾配降下法 を参照。"
    for width in range(4, 60):
        joined = lines(text, width)
        for word in ("Full-batch", "Mini-batch", "SGD", "https://ja.wikipedia.org/wiki/確率的勾配降下法"):
            assert any(word in line for line in joined), (width, word, joined)


def test_an_unbreakable_piece_wider_than_the_line_stays_whole() -> None:
    url = "https://example.com/a/very/long/path/that/does/not/fit"
    assert lines(f"see {url} now", 20) == ["see", url, "now"]


def test_the_first_line_can_be_narrower_and_spaces_at_breaks_are_dropped() -> None:
    assert lines("one two three four", 9, first_width=4) == ["one", "two three", "four"]
    assert lines("   ", 10) == [""]


def test_kept_spans_do_not_break() -> None:
    text = "names of a term  1.000  name match"
    keep = [(text.index("term"), len(text))]
    assert lines(text, 20, keep=keep) == ["names of a", "term  1.000  name match"]


def test_cell_width_counts_wide_characters_twice() -> None:
    assert cell_width("abc") == 3
    assert cell_width("勾配") == 4
    assert cell_width("ｶﾞ") == 2  # half-width katakana: narrow
    assert cell_width("e\u0301") == 1  # a combining accent takes no cell


def test_break_points_follow_the_rules() -> None:
    text = "勾配（SGD）、"
    # After 勾 and 配 is fine; not after （, not inside SGD, not before ） or 、.
    assert break_points(text) == [1, 2]


LATIN = st.text(alphabet="abcXYZ019-./", min_size=1, max_size=8)
JAPANESE = st.text(alphabet="勾配消失学習ニューラル", min_size=1, max_size=8)
MARKS = st.sampled_from(["、", "。", "（", "）", "「", "」", "ー", "ッ", " ", "  ", "…"])
PIECES = st.lists(st.one_of(LATIN, JAPANESE, MARKS), min_size=1, max_size=30)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(PIECES, st.integers(min_value=2, max_value=40))
def test_wrapping_keeps_the_text_and_the_rules(pieces: list[str], width: int) -> None:
    text = "".join(pieces)
    spans = wrap(text, width)
    # The lines are the text in order; only spaces lie between them.
    assert spans[0][0] == 0 or not text[: spans[0][0]].strip()
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start and not text[end:start].strip()
    assert "".join(text[a:b] for a, b in spans).replace(" ", "") == text.replace(" ", "")
    for index, (start, end) in enumerate(spans):
        line = text[start:end]
        if index and line:
            assert line[0] not in NO_START, (text, spans)
            # No Latin word is split: a break with no space in it has a wide character on one side.
            if text[start - 1] != " ":
                assert cell_width(text[start - 1]) == 2 or cell_width(text[start]) == 2, (text, spans)
        if line and index < len(spans) - 1:
            assert line[-1] not in NO_END, (text, spans)
        # A line wider than the width is one unbreakable piece.
        if cell_width(line) > width:
            indent = len(line) - len(line.lstrip())
            assert not [p for p in break_points(text) if start + indent < p < end], (text, line, width)


def test_names_in_a_list_are_broken_only_when_wider_than_a_line() -> None:
    text = "related: プロンプトエンジニアリング, 基盤モデル, 教師あり学習"
    names = [
        (text.index(n), text.index(n) + len(n)) for n in ("プロンプトエンジニアリング", "基盤モデル", "教師あり学習")
    ]
    lines = [text[a:b] for a, b in wrap(text, 56, prefer=names)]
    assert lines == ["related: プロンプトエンジニアリング, 基盤モデル,", "教師あり学習"]
    assert [text[a:b] for a, b in wrap(text, 56)][1] == "り学習"  # without: wherever Japanese allows
    # A name wider than the line is broken where it may be, not left to overflow.
    assert all(cell_width(text[a:b]) <= 12 for a, b in wrap(text, 12, prefer=names))
