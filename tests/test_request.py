"""One request: the record every face describes a question with, and the one set of checks behind it
(request.py; limits from limits.py, modes from modes.py). Each face says the same thing about the same
bad value, and offers the same modes and formats."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT

from semsearch.cli.options import Format, Mode
from semsearch.errors import QueryError
from semsearch.limits import K_MAX
from semsearch.modes import DEFAULT_MODE, MODES, check_mode
from semsearch.request import FORMATS, Request, check_k, check_min_score


def test_a_request_has_the_defaults_of_ask_and_is_frozen() -> None:
    request = Request("dropout")
    assert (request.k, request.mode, request.min_score, request.full, request.format) == (
        5,
        DEFAULT_MODE,
        None,
        False,
        "text",
    )
    assert request == Request("dropout", k=5) and hash(request) == hash(Request("dropout"))
    with pytest.raises(AttributeError, match="frozen"):
        request.k = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"k": 0}, f"k must be a whole number from 1 to {K_MAX}, not 0"),
        ({"k": K_MAX + 1}, f"k must be a whole number from 1 to {K_MAX}, not {K_MAX + 1}"),
        ({"k": True}, f"k must be a whole number from 1 to {K_MAX}, not True"),
        ({"mode": "bm25"}, f"unknown mode 'bm25'; choose one of {', '.join(MODES)}"),
        ({"min_score": 1.5}, "min_score must be a number from 0 to 1, not 1.5"),
        ({"min_score": float("nan")}, "min_score must be a number from 0 to 1, not nan"),
        ({"format": "csv"}, f"format must be one of {', '.join(FORMATS)}, not 'csv'"),
    ],
)
def test_a_bad_value_is_one_query_error(options: dict, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        Request("dropout", **options)
    assert str(caught.value) == message


def test_what_the_user_wrote_is_named() -> None:
    with pytest.raises(QueryError, match=r"not '5000'$"):
        check_k(5000, "5000")
    with pytest.raises(QueryError, match=r"not 'x'$"):
        check_min_score(float("nan"), "x")
    assert check_k(K_MAX) == K_MAX and check_min_score(1) == 1.0


def test_every_face_offers_every_mode_and_format() -> None:
    from semsearch.serve.mcp import OFFERED_MODES

    assert tuple(m.value for m in Mode) == MODES  # the command line's --mode
    assert tuple(f.value for f in Format) == FORMATS  # the command line's --format
    assert sorted(OFFERED_MODES) == sorted(MODES) and OFFERED_MODES[0] == DEFAULT_MODE  # MCP's ask


@pytest.mark.parametrize(
    "parse, raw, check",
    [
        ("_k", "0", lambda: check_k(0, "0")),
        ("_k", "12x", lambda: check_k(-1, "12x")),
        ("_min_score", "2", lambda: check_min_score(2.0, "2")),
        ("_min_score", "x", lambda: check_min_score(float("nan"), "x")),
        ("_mode", "bm25", lambda: check_mode("bm25")),
    ],
)
def test_the_server_says_what_the_record_says(parse: str, raw: str, check: Callable[[], object]) -> None:
    from semsearch.serve import http

    with pytest.raises(http.HTTPError) as caught:
        getattr(http, parse)(raw)
    with pytest.raises(QueryError) as expected:
        check()
    assert (caught.value.status, caught.value.kind, caught.value.message) == (400, "QueryError", str(expected.value))


def test_the_shell_says_what_the_record_says(tmp_path: Path) -> None:
    from conftest import GLOSSARY, FakeEncoder

    import semsearch
    from semsearch.cli.shell import Session

    (tmp_path / "glossary").mkdir()
    (tmp_path / "glossary" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    session = Session(semsearch.build(tmp_path / "glossary", tmp_path / "index", encoder=FakeEncoder()))
    with pytest.raises(QueryError) as expected:
        check_k(0, "0")
    assert session.handle(":k 0").message == f"error: {expected.value}"


def test_no_constant_is_kept_in_step_by_a_comment() -> None:
    """The request's constants live in one place; a face imports them, never copies them."""
    names = "FORMATS|JSON_FORMATS|EXIT_CODES|THIN_PROTOCOL|CONSOLE_ENV|K_MAX|MODES|QUESTION_LIMIT|STDIN_LIMIT"
    copied = re.compile(rf"#\s*as\s+[\w.]*\b({names})\b")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "semsearch").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if copied.search(line)
    ]
    assert found == []
