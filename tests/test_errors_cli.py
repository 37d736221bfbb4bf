"""Errors as the user meets them: the exception hierarchy, the CLI's one-line messages and exit codes,
JSON errors, --debug tracebacks, usage errors, bad questions, and terminal-safe output.

Everything runs in-process through typer's CliRunner with the fake encoder, except the few cases that
need a real process (raw bytes on argv and stdin).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeEncoder
from typer.testing import CliRunner

import semsearch
from semsearch import errors
from semsearch.cli import EXIT_CODES, app
from semsearch.errors import (
    ConfigError,
    CorpusError,
    EncoderError,
    IndexLockedError,
    IndexMismatchError,
    IndexStoreError,
    IndexVersionError,
    IndexWriteError,
    QueryError,
    SemsearchError,
    ServiceError,
)

ESC = "\x1b"


pytestmark = pytest.mark.usefixtures("fake_default_encoder")


@pytest.fixture
def index(glossary: Path, tmp_path: Path) -> Path:
    path = tmp_path / "index"
    semsearch.build(glossary, path, encoder=FakeEncoder())
    return path


def one_line(text: str) -> str:
    """The single line `text` holds (fails when it holds more or none)."""
    lines = text.splitlines()
    assert len(lines) == 1, f"expected one line, got {lines!r}"
    return lines[0]


# -- the hierarchy --------------------------------------------------------------------------------


def test_every_error_class_has_a_documented_exit_code() -> None:
    expected = {
        SemsearchError: EXIT_CODES["internal"],
        QueryError: EXIT_CODES["usage"],
        ConfigError: EXIT_CODES["usage"],
        CorpusError: EXIT_CODES["corpus"],
        IndexStoreError: EXIT_CODES["index"],
        IndexLockedError: EXIT_CODES["index"],
        IndexVersionError: EXIT_CODES["index"],
        IndexMismatchError: EXIT_CODES["index"],
        IndexWriteError: EXIT_CODES["index"],
        EncoderError: EXIT_CODES["encoder"],
        ServiceError: EXIT_CODES["usage"],
    }
    assert {getattr(errors, name) for name in errors.__all__} == set(expected)
    for cls, code in expected.items():
        assert issubclass(cls, SemsearchError)
        assert cls.exit_code == code, cls
    docs = (Path(__file__).parent.parent / "docs" / "errors.md").read_text(encoding="utf-8")
    for name, code in EXIT_CODES.items():
        assert f"| {code} |" in docs, f"exit code {code} ({name}) is not in docs/errors.md"


def test_query_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError):
        raise QueryError("x")


# -- the CLI's mapping ----------------------------------------------------------------------------


def test_library_error_is_one_line_on_stderr_with_its_exit_code(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", str(tmp_path / "missing"), "--index", str(tmp_path / "index")])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert one_line(result.stderr) == f"error: corpus folder not found: {tmp_path / 'missing'}"
    assert "Traceback" not in result.stderr


def test_ask_on_a_missing_corpus_says_only_that(runner: CliRunner, tmp_path: Path) -> None:
    """No "building it from ..." notice for a folder that is not there: just the error."""
    result = runner.invoke(app, ["ask", "x", "--corpus", str(tmp_path / "missing"), "--index", str(tmp_path / "i")])
    assert result.exit_code == 3
    assert result.stderr == f"error: corpus folder not found: {tmp_path / 'missing'}\n"


def test_long_messages_are_not_wrapped(runner: CliRunner, tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 6) / "missing"
    result = runner.invoke(app, ["build", str(deep), "--index", str(tmp_path / "index")])
    assert result.exit_code == 3
    assert one_line(result.stderr).endswith(str(deep))


def test_json_error_object_on_stdout(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", str(tmp_path / "missing"), "--index", str(tmp_path / "i"), "--json"])
    assert result.exit_code == 3
    assert result.stderr == ""
    assert json.loads(result.stdout) == {
        "error": {"type": "CorpusError", "message": f"corpus folder not found: {tmp_path / 'missing'}"}
    }


def test_debug_shows_the_traceback(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--debug", "build", str(tmp_path / "missing"), "--index", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert isinstance(result.exception, CorpusError)  # re-raised, so Python prints the traceback


@pytest.mark.slow
def test_debug_traceback_in_a_real_process(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "semsearch", "--debug", "ask", "x", "--index", str(tmp_path / "not-there")]
    env = {**os.environ, "SEMSEARCH_CORPUS": str(tmp_path / "no-corpus")}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "semsearch.errors.CorpusError: corpus folder not found" in done.stderr


def test_unexpected_exception_is_an_internal_error(runner: CliRunner, index: Path, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr("semsearch.search.Index.query", boom)
    result = runner.invoke(app, ["ask", "dropout", "--index", str(index)])
    assert result.exit_code == 70  # 1 is "no match", as grep's
    assert one_line(result.stderr) == (
        "error: internal error: RuntimeError: something nobody expected (run with --debug for details)"
    )
    result = runner.invoke(app, ["ask", "dropout", "--index", str(index), "--json"])
    assert json.loads(result.stdout)["error"]["type"] == "InternalError"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask"], "Missing argument 'QUESTION' (and nothing on stdin)."),
        (["ask", "x", "--bogus"], "No such option: --bogus"),
        (["ask", "x", "-k", "0"], "Invalid value for '-k' / '--top'"),
        (["ask", "x", "-k", "many"], "Invalid value for '-k' / '--top'"),
        (["build", "--wait", "-1"], "Invalid value for '--wait'"),
        (["frobnicate"], "No such command 'frobnicate'."),
    ],
)
def test_usage_errors_exit_2_in_one_line(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert line.startswith(f"error: {message}")
    assert "--help" in line
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_usage_error_with_json_is_a_json_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ask", "--json"])
    assert result.exit_code == 2
    message = "Missing argument 'QUESTION' (and nothing on stdin)."
    assert json.loads(result.stdout) == {"error": {"type": "UsageError", "message": message}}


@pytest.mark.slow
def test_usage_errors_in_a_real_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "semsearch", "ask", "x", "--no-such-option"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert one_line(done.stderr).startswith("error: No such option: --no-such-option")


def test_help_still_exits_0(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ask", "--help"])
    assert result.exit_code == 0 and "Usage:" in result.stdout


def test_unknown_mode_is_a_usage_error(runner: CliRunner, index: Path) -> None:
    result = runner.invoke(app, ["ask", "x", "--mode", "psychic", "--index", str(index)])
    assert result.exit_code == 2
    assert one_line(result.stderr) == (
        "error: Invalid value for '--mode': 'psychic' is not one of 'dense', 'use', 'tfidf', 'hybrid'. "
        "(see 'root ask --help')"
    )


@pytest.mark.parametrize("mode", ["Dense", "TFIDF", "hybrid"])
def test_mode_is_case_insensitive(runner: CliRunner, index: Path, mode: str) -> None:
    result = runner.invoke(app, ["ask", "dropout", "--mode", mode, "--json", "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mode"] == mode.lower()


def test_bad_wait_environment_variable(runner: CliRunner, index: Path, monkeypatch) -> None:
    monkeypatch.setenv("SEMSEARCH_WAIT", "soon")
    result = runner.invoke(app, ["ask", "dropout", "--index", str(index)])
    assert result.exit_code == 2
    assert one_line(result.stderr) == "error: $SEMSEARCH_WAIT must be a number of seconds, not 'soon'"


# -- bad questions --------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\t\n", "\u3000"])
def test_empty_question_is_a_usage_error(runner: CliRunner, index: Path, question: str) -> None:
    result = runner.invoke(app, ["ask", question, "--index", str(index)])
    assert result.exit_code == 2
    assert one_line(result.stderr) == "error: the question is empty"


def test_empty_question_on_stdin(runner: CliRunner, index: Path) -> None:
    result = runner.invoke(app, ["ask", "-", "--index", str(index)], input="  \n")
    assert result.exit_code == 2
    assert one_line(result.stderr) == "error: the question is empty"


def test_empty_question_in_the_library(index: Path) -> None:
    with pytest.raises(QueryError, match="empty"):
        semsearch.load(index, FakeEncoder()).search("  ")


@pytest.fixture
def encoder_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every text the encoder tokenizes or embeds as a question, in this process."""
    seen: list[int] = []
    encode, count = FakeEncoder.encode_queries, FakeEncoder.count_tokens

    def encode_queries(self: FakeEncoder, texts):  # type: ignore[no-untyped-def]
        seen.extend(len(t) for t in texts)
        return encode(self, texts)

    def count_tokens(self: FakeEncoder, text: str) -> int:
        seen.append(len(text))
        return count(self, text)

    monkeypatch.setattr(FakeEncoder, "encode_queries", encode_queries)
    monkeypatch.setattr(FakeEncoder, "count_tokens", count_tokens)
    return seen


# The encoder reads 508 tokens; a token is at least one character, and the search cuts a question
# to four characters a token before it counts any: nothing longer ever reaches the tokenizer.
WINDOW_CHARS = 508 * 4


@pytest.mark.parametrize("length", [200_000])
@pytest.mark.parametrize("unit", ["dropout ", "勾配消失"])
def test_very_long_question_is_truncated_with_a_notice_then_answered(
    runner: CliRunner, index: Path, unit: str, length: int, encoder_reads: list[int]
) -> None:
    question = (unit * (length // len(unit) + 1))[:length]
    result = runner.invoke(app, ["ask", question, "--index", str(index), "--json"])
    assert result.exit_code in (0, 1), result.stderr  # 1: the fake encoder finds no match for some
    assert json.loads(result.stdout)["hits"], "a truncated question is still answered"
    notice = result.stderr.splitlines()[0]
    assert notice.startswith("warning: question truncated to its first ")
    assert len(result.stderr) < 400  # the question is not echoed whole
    assert "(the encoder reads 508 tokens)" in notice
    # Never tokenized or embedded whole (that took minutes): every text the encoder saw was cut.
    assert encoder_reads and max(encoder_reads) <= WINDOW_CHARS


def test_long_question_in_the_library_is_cut_before_the_encoder_and_says_so(
    index: Path, encoder_reads: list[int]
) -> None:
    opened = semsearch.load(index, FakeEncoder())
    answer = opened.query("ドロップアウト " * 30_000, k=5)
    assert answer.hits[0].term == "ドロップアウト"
    assert answer.notices and "truncated" in answer.notices[0]
    assert len(answer.cleaned) < 2_100  # what was searched, not the whole question
    assert encoder_reads and max(encoder_reads) <= WINDOW_CHARS


@pytest.mark.parametrize(
    "question",
    [
        "dropout\x00\x07\x1b[31m\x7f",  # control characters and an escape sequence
        "ドロップアウト 🤖🔥 とは？",  # emoji
        "Dropout と 過学習 의 차이 Переобучение",  # mixed scripts
        "\u202edropout\u200b",  # bidi override and zero-width space
        "ｄｒｏｐｏｕｔ",  # full-width
    ],
)
def test_odd_questions_are_answered(runner: CliRunner, index: Path, question: str) -> None:
    result = runner.invoke(app, ["ask", question, "--index", str(index), "--json"])
    answer = json.loads(result.stdout)
    assert result.exit_code == (1 if answer["state"] == "no_match" else 0), result.stderr
    assert answer["query"] == question
    assert answer["hits"][0]["term"] == "ドロップアウト"
    text = runner.invoke(app, ["ask", question, "--index", str(index)])
    assert text.exit_code == result.exit_code and "ドロップアウト" in text.stdout
    assert ESC not in text.stdout + text.stderr


def test_question_on_stdin(runner: CliRunner, index: Path) -> None:
    result = runner.invoke(app, ["ask", "-", "--index", str(index), "--json"], input="dropout\n")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["hits"][0]["term"] == "ドロップアウト"


def test_undecodable_stdin_in_process(runner: CliRunner, index: Path) -> None:
    result = runner.invoke(app, ["ask", "-", "--index", str(index)], input=b"drop\xff\xfeout")
    assert result.exit_code == 2
    assert one_line(result.stderr) == "error: the question on stdin is not valid UTF-8 (byte 4)"


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semsearch", *args], capture_output=True, timeout=60, **kwargs)


@pytest.mark.slow
def test_undecodable_bytes_on_argv(index: Path) -> None:
    done = _run(["ask", b"drop\xff\xfeout", "--index", str(index)])
    assert done.returncode == 2
    assert done.stderr.decode() == "error: the question is not valid UTF-8 text\n"


def test_undecodable_argv_with_json(runner: CliRunner, index: Path) -> None:
    # What Python makes of the bytes b"drop\xffout" on argv (surrogateescape).
    result = runner.invoke(app, ["ask", "drop\udcffout", "--index", str(index), "--json"])
    assert result.exit_code == 2
    error = {"type": "QueryError", "message": "the question is not valid UTF-8 text"}
    assert json.loads(result.stdout)["error"] == error


def test_closed_pipe_is_quiet(runner: CliRunner, index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def closed(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("semsearch.cli.emit.emit_json", closed)
    result = runner.invoke(app, ["ask", "dropout", "--index", str(index), "--json"])
    assert result.exit_code == 141  # as a process SIGPIPE ended; 1 would say "no match"
    assert result.stderr == ""


def test_undecodable_bytes_on_stdin(index: Path) -> None:
    done = _run(["ask", "-", "--index", str(index)], input=b"\x81\x82 latin-1? \xe9")
    assert done.returncode == 2
    assert done.stderr.decode() == "error: the question on stdin is not valid UTF-8 (byte 0)\n"


# -- terminal safety ------------------------------------------------------------------------------


@pytest.fixture
def hostile_glossary(tmp_path: Path) -> Path:
    """Escape sequences in a file name, a heading and a body; a skipped file with one in its name."""
    root = tmp_path / "hostile"
    root.mkdir()
    (root / "red\x1b[31mfile.md").write_text(
        "## \x1b[2J\x1b[31mEvil\x1b[0m | Hostile Term\n- body with \x1b]0;pwned\x07 a title escape and \x9b31m C1\n",
        encoding="utf-8",
    )
    (root / "skip\x1b[5mme.md").write_bytes(b"## caf\xe9\n")  # not UTF-8: skipped with a warning
    return root


def test_escape_sequences_never_reach_the_terminal(runner: CliRunner, hostile_glossary: Path, tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    outputs = []
    built = runner.invoke(app, ["build", str(hostile_glossary), "--index", index])
    assert built.exit_code == 0, built.stderr
    assert "warning: skipped skip\\x1b[5mme.md: not UTF-8" in built.stderr
    outputs.append(built)
    for args in (["ask", "hostile term"], ["ask", "hostile term", "--full"], ["compare", "hostile term"]):
        # Wide enough for compare's table to show the name whole: escaped, it is 30 characters long.
        result = runner.invoke(app, [*args, "--index", index], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.stderr
        assert "Evil" in result.stdout
        outputs.append(result)
    json_result = runner.invoke(app, ["ask", "hostile term", "--index", index, "--json"])
    assert json.loads(json_result.stdout)["hits"][0]["names"][0] == "\x1b[2J\x1b[31mEvil\x1b[0m"  # data kept exact
    outputs.append(json_result)
    missing = runner.invoke(app, ["build", str(tmp_path / "no\x1b[31mpe"), "--index", index])
    assert missing.exit_code == 3
    outputs.append(missing)
    for result in outputs:
        for stream in (result.stdout, result.stderr):
            assert ESC not in stream and "\x07" not in stream and "\x9b" not in stream, stream


def test_rich_markup_in_glossary_text_is_printed_literally(runner: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "markup"
    root.mkdir()
    (root / "[bold]x.md").write_bytes(b"\xff")  # skipped: its name appears in a warning
    (root / "g.md").write_text("## [red]Markup[/red] | Brackets\n- [link=file:///etc/passwd]click[/link]\n")
    result = runner.invoke(app, ["build", str(root), "--index", str(tmp_path / "index")])
    assert "skipped [bold]x.md" in result.stderr
    result = runner.invoke(app, ["ask", "brackets", "--index", str(tmp_path / "index"), "--full"])
    assert "[red]Markup[/red]" in result.stdout
