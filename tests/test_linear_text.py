"""The passes over a question's text (cleaning its framing, normalising, features, names, escaping)
cost time linear in its length, whatever it repeats: "what is " 25,000 times took 85 s of CPU when
`clean_query` stripped one phrase per pass over the whole text.

Cost is counted, not timed: the Python lines run in semsearch's text modules (sys.settrace) plus
the characters handed to each regular expression of text.py, which is what a pass over the text
costs in C. The budget is a number of such operations per character of input, the same on every
machine. The old `clean_query` is kept below as the reference the new one must agree with.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from semsearch import names, text
from semsearch.corpus import Term
from semsearch.text import (
    _EN_PREFIXES,
    _EN_SUFFIXES,
    _JA_PREFIXES,
    _TRAILING_PUNCT,
    clean_query,
    normalize,
)

# -- the reference: clean_query as it was (quadratic, but plainly right) ------------------------

_PLEASE = r"(?:ください|くれ|ほしい|欲しい|下さい)?"
_REFERENCE_SUFFIX = re.compile(
    r"(?:"
    r"(?:って|とは|は)(?:一体)?(?:何|なに|なん)(?:のこと|の事|だっけ|ですか|でしょうか|でしょう|なの|なのか|か|だ)*"
    r"|(?:って|とは)(?:どういう|どんな)(?:意味|こと|もの)(?:ですか|でしょうか|なの|か|だ)*"
    r"|の(?:意味|定義|説明)(?:を(?:教えて|おしえて)" + _PLEASE + r"|は|とは)?"
    r"|(?:について|を)(?:詳しく|簡単に)?(?:教えて|おしえて|知りたい|説明して)" + _PLEASE + r"|について|とは|ですか"
    r")$"
)


def reference_clean_query(query: str) -> str:
    text = normalize(query)
    previous = None
    while text != previous:
        previous = text
        stripped = text.rstrip(_TRAILING_PUNCT)
        if (match := _REFERENCE_SUFFIX.search(stripped)) and match.start() > 0:
            stripped = stripped[: match.start()].rstrip(_TRAILING_PUNCT)
        for prefix in _JA_PREFIXES + _EN_PREFIXES:
            if stripped.startswith(prefix) and len(stripped) > len(prefix):
                stripped = stripped[len(prefix) :].lstrip(_TRAILING_PUNCT)
                break
        for suffix in _EN_SUFFIXES:
            if stripped.endswith(suffix) and len(stripped) > len(suffix):
                stripped = stripped[: -len(suffix)].rstrip(_TRAILING_PUNCT)
                break
        if stripped:
            text = stripped
    return text


# The endings a Japanese framing suffix repeats ("何ですかですか"): clean_query matches at most four
# in one go (then strips the rest pass by pass), so the reference agrees while there are at most four.
ENDINGS = ["のこと", "の事", "だっけ", "ですか", "でしょうか", "でしょう", "なの", "なのか", "か", "だ", "意味", "こと"]
FRAMING = [
    *ENDINGS,
    *_JA_PREFIXES,
    *_EN_PREFIXES,
    *_EN_SUFFIXES,
    "とは",
    "って",
    "は",
    "何",
    "なに",
    "一体",
    "どういう",
    "の",
    "を",
    "定義",
    "教えて",
    "ください",
    "について",
    "詳しく",
    "?",
    "？",
    " ",
    "。",
    "！",
]
CORE = ["dropout", "勾配消失", "x", "過学習", "learning rate", "ＧＡＮ", "a"]


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAMING + CORE), max_size=10))
def test_clean_query_agrees_with_the_reference(parts: list[str]) -> None:
    assume(sum(part in ENDINGS for part in parts) <= 4)
    question = "".join(parts)
    assert clean_query(question) == reference_clean_query(question)


def test_the_suffix_width_is_the_patterns() -> None:
    """clean_query searches only the last _JA_SUFFIX_WIDTH characters for a framing suffix."""
    parsed = re._parser.parse(text._JA_SUFFIX.pattern)  # type: ignore[attr-defined]
    assert parsed.getwidth()[1] == text._JA_SUFFIX_WIDTH


# -- the budget -----------------------------------------------------------------------------------


class _CountingPattern:
    """A compiled pattern that counts the characters each call hands it."""

    def __init__(self, pattern: re.Pattern[str], counter: list[int]) -> None:
        self._pattern = pattern
        self._counter = counter
        self.pattern = pattern.pattern

    def _span(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> None:
        self._counter[0] += max(0, min(endpos, len(string)) - pos)

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self._span(string, pos, endpos)
        return self._pattern.search(string, pos, endpos)

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self._span(string, pos, endpos)
        return self._pattern.match(string, pos, endpos)

    def fullmatch(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self._span(string, pos, endpos)
        return self._pattern.fullmatch(string, pos, endpos)

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        self._span(string)
        return self._pattern.sub(repl, string, count)

    def findall(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> list[Any]:
        self._span(string, pos, endpos)
        return self._pattern.findall(string, pos, endpos)

    def finditer(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self._span(string, pos, endpos)
        return self._pattern.finditer(string, pos, endpos)


TRACED = ("semsearch/text.py", "semsearch/names.py", "semsearch/kana.py")


def work(function: Callable[..., Any], *args: Any, monkeypatch: pytest.MonkeyPatch) -> int:
    """The operations `function(*args)` costs: Python lines run in the text modules, plus the
    characters handed to their regular expressions."""
    counter = [0]
    for name in dir(text):
        if isinstance(getattr(text, name), re.Pattern):
            monkeypatch.setattr(text, name, _CountingPattern(getattr(text, name), counter))

    def trace(frame: Any, event: str, arg: Any) -> Any:
        if not frame.f_code.co_filename.replace("\\", "/").endswith(TRACED):
            return None
        return local

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            counter[0] += 1
        return local

    sys.settrace(trace)
    try:
        function(*args)
    finally:
        sys.settrace(None)
        monkeypatch.undo()
    return counter[0]


#: Operations per character of input, and a constant for the short ones. Measured: clean_query
#: needs at most ~22 per character on repeated framing ("とは" × 2,000); the old one about 1,000.
PER_CHAR = 40
CONSTANT = 2000


def budget(question: str) -> int:
    return PER_CHAR * len(question) + CONSTANT


repeated = st.builds(
    lambda left, n, core, right, m: left * n + core + right * m,
    st.sampled_from([*_EN_PREFIXES, *_JA_PREFIXES, "？", " ", "とは", "what is what is "]),
    st.integers(0, 600),
    st.sampled_from(["", *CORE]),
    st.sampled_from(["とは", "って何", "ですか", "について", " mean", "?", "って何ですか", "の意味は", "。", "!"]),
    st.integers(0, 600),
)


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(repeated)
def test_cleaning_a_question_is_linear_in_its_length(question: str) -> None:
    monkeypatch = pytest.MonkeyPatch()
    assert work(clean_query, question, monkeypatch=monkeypatch) <= budget(question)
    assert work(text.has_content, question, monkeypatch=monkeypatch) <= 2 * budget(question)


LONG = [
    "what is " * 500 + "dropout",
    "とは" * 2000,
    "dropout" + "って何ですか" * 600,
    "勾配消失 " * 800,
    "Ｄｒｏｐｏｕｔ" * 600,
    "a" * 4000,
    "\x1b[31m" * 800,
]


@pytest.mark.slow
@pytest.mark.parametrize("question", LONG, ids=lambda q: repr(q[:12]))
@pytest.mark.parametrize(
    "function",
    [
        text.normalize,
        text.name_key,
        text.fold_kana,
        text.lexical_features,
        text.safe_line,
        text.safe_text,
        lambda q: text.match_spans(q, "dropout 勾配消失 what"),
        lambda q: text.match_spans("dropout 勾配消失について", q),
        lambda q: names.NameIndex([Term(("Dropout", "ドロップアウト"), "body", "a.md", 1)]).tier(q),
    ],
    ids=[
        "normalize",
        "name_key",
        "fold_kana",
        "lexical_features",
        "safe_line",
        "safe_text",
        "spans",
        "spans-q",
        "tier",
    ],
)
def test_every_pass_over_a_question_is_linear(question: str, function: Callable[[str], Any]) -> None:
    assert work(function, question, monkeypatch=pytest.MonkeyPatch()) <= budget(question)


@pytest.mark.slow
def test_the_old_cleaning_is_over_budget() -> None:
    """The count sees the quadratic pass this file guards against (the reference is the old code)."""
    question = "とは" * 2000
    counter = [0]
    monkeypatch = pytest.MonkeyPatch()
    pattern = _CountingPattern(_REFERENCE_SUFFIX, counter)
    monkeypatch.setitem(globals(), "_REFERENCE_SUFFIX", pattern)
    try:
        reference_clean_query(question)
    finally:
        monkeypatch.undo()
    assert counter[0] > 10 * budget(question)
