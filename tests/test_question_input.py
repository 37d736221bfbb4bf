"""What the library takes as a question, a name or a source: text. Bytes, a number or a string with a
lone surrogate (which a JSON client can send, and which no encoder can read: a UnicodeEncodeError
from deep in the engine) are a QueryError saying so, never "the question is empty" nor another
exception. A question is read up to QUESTION_LIMIT characters, the same in every face, with a notice.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import GLOSSARY, FakeEncoder

import semsearch
from semsearch.errors import QueryError
from semsearch.limits import QUESTION_LIMIT
from semsearch.search import Index
from semsearch.serve.payloads import show_object, terms_object


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    work = tmp_path_factory.mktemp("questions")
    (work / "glossary").mkdir()
    (work / "glossary" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    return semsearch.build(work / "glossary", work / "index", encoder=FakeEncoder())


@pytest.mark.parametrize(
    "question, message",
    [
        (b"RAG", "the question must be text (str), not bytes"),
        (5, "the question must be text (str), not int"),
        (None, "the question must be text (str), not NoneType"),
        (["RAG"], "the question must be text (str), not list"),
        ("\ud800abc", "the question is not valid text: it holds a lone surrogate (\\ud800) at character 0"),
        ("dropout\udcff", "the question is not valid text: it holds a lone surrogate (\\udcff) at character 7"),
    ],
)
def test_a_question_that_is_not_text_is_said_to_be_so(index: Index, question: object, message: str) -> None:
    with pytest.raises(QueryError) as refused:
        index.search(question)  # type: ignore[arg-type]
    assert str(refused.value) == message
    assert "\ud800" not in str(refused.value)  # the message itself can be printed and sent as JSON


@pytest.mark.parametrize("call", [show_object, terms_object])
@pytest.mark.parametrize("value, kind", [(b"dropout", "bytes"), ("\ud800x", "surrogate")])
def test_a_name_or_source_that_is_not_text_is_said_to_be_so(index: Index, call, value: object, kind: str) -> None:
    with pytest.raises(QueryError, match=r"must be text|is not valid text"):
        call(index, value)


def test_a_question_longer_than_the_limit_is_cut_with_a_notice(index: Index, told) -> None:
    answer = index.query("ドロップアウト " * 60_000)
    assert answer.query == ("ドロップアウト " * 60_000)[:QUESTION_LIMIT]
    assert answer.hits[0].term == "ドロップアウト"
    assert told.warnings() == [answer.notices[0]] and "question truncated to its first" in answer.notices[0]


@pytest.mark.parametrize("framing", ["what is ", "とは", "って何ですか"])
def test_a_question_of_framing_is_answered_with_a_notice(index: Index, framing: str) -> None:
    """200,000 characters of framing took 85 s of CPU; now the first QUESTION_LIMIT are read."""
    answer = index.query(framing * (200_000 // len(framing)))
    assert answer.notices[0].startswith("question truncated to its first ")  # then answered, or nothing to search


def test_the_limit_is_the_same_for_the_cli_and_the_library(index: Index, runner, tmp_path: Path) -> None:
    from semsearch.cli import app

    question = "dropout " * 1_000
    result = runner.invoke(app, ["ask", "-", "--json", "--index", str(index.path)], input=question)
    import json

    assert json.loads(result.stdout)["query"] == question[:QUESTION_LIMIT]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"k": 1.5}, "k must be a whole number, not 1.5"),
        ({"k": "5"}, "k must be a whole number, not '5'"),
        ({"min_score": "0.5"}, "the minimum score must be a number between 0 and 1, not '0.5'"),
    ],
)
def test_options_of_the_wrong_type_are_a_query_error(index: Index, options: dict, message: str) -> None:
    """A TypeError from deep in the ranking before (the README promises SemsearchErrors)."""
    with pytest.raises(QueryError) as refused:
        index.query("dropout", **options)
    assert str(refused.value) == message
