"""What semsearch prints, however it is run (issue 16): undecodable arguments, an unwritable stdout,
an output encoding that cannot show Japanese, a C locale, odd terminal widths, and names, paths and
questions that carry control or bidi characters. The library itself never prints."""

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
from semsearch.cli import app
from semsearch.text import safe_line

pytestmark = pytest.mark.usefixtures("fake_default_encoder")

HERE = Path(__file__).resolve().parent


@pytest.fixture
def index(glossary: Path, tmp_path: Path) -> Path:
    path = tmp_path / "index"
    semsearch.build(glossary, path, encoder=FakeEncoder())
    return path


def semsearch_process(*args: str | bytes, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """The real command in a real process (argv bytes, locales and stdout are real there). The index
    is built with the fake encoder, which a child cannot load: `--mode tfidf` needs no encoder."""
    return subprocess.run(
        [sys.executable, "-m", "semsearch", *args],
        stdout=kwargs.pop("stdout", subprocess.PIPE),
        stderr=subprocess.PIPE,
        timeout=120,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


# -- undecodable arguments and the C locale -------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("command", ["show", "ask", "compare"])
def test_undecodable_bytes_on_argv_are_a_usage_error(index: Path, command: str) -> None:
    run = semsearch_process(command, b"\xff", "--index", str(index))
    assert run.returncode == 2
    assert run.stderr.decode().strip() in (
        "error: the name is not valid UTF-8 text",
        "error: the question is not valid UTF-8 text",
    )


def test_show_source_with_undecodable_bytes(index: Path) -> None:
    run = semsearch_process("show", "dropout", "--source", b"\xff.md", "--index", str(index))
    assert (run.returncode, run.stderr.decode().strip()) == (2, "error: the --source value is not valid UTF-8 text")


@pytest.mark.slow
def test_a_c_locale_without_utf8_mode_reads_a_utf8_question(index: Path) -> None:
    env = {"PYTHONUTF8": "0", "LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": ""}
    run = semsearch_process("ask", "過学習", "--mode", "tfidf", "-k", "1", "--json", "--index", str(index), env=env)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["query"] == "過学習" and answer["hits"][0]["term"] == "過学習"
    text = semsearch_process("ask", "過学習", "--mode", "tfidf", "-k", "1", "--index", str(index), env=env)
    assert text.returncode == 0, text.stderr
    assert text.stdout.decode("ascii").startswith(" 1  \\u904e\\u5b66\\u7fd2 | Overfitting")


# -- stdout that cannot be written or cannot encode ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("as_json", [True, False])
def test_a_full_stdout_is_one_clear_line(index: Path, as_json: bool) -> None:
    with open("/dev/full", "wb") as full:
        run = semsearch_process(
            "ask", "dropout", "--mode", "tfidf", "--index", str(index), *(["--json"] if as_json else []), stdout=full
        )
    stderr = run.stderr.decode()
    assert run.returncode == 2
    assert stderr == "error: cannot write the output (No space left on device)\n"


@pytest.mark.slow
def test_an_ascii_stdout_shows_escapes_with_one_warning(index: Path) -> None:
    env = {"PYTHONIOENCODING": "ascii"}
    run = semsearch_process("ask", "過学習", "--mode", "tfidf", "-k", "2", "--index", str(index), env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.decode("ascii").startswith(" 1  \\u904e\\u5b66\\u7fd2 | Overfitting")
    assert run.stderr.decode().splitlines() == [
        "warning: the output encoding (ascii) cannot show every character; they are shown as \\u escapes "
        "(set PYTHONIOENCODING=utf-8 or a UTF-8 locale)"
    ]
    data = semsearch_process("ask", "過学習", "--mode", "tfidf", "--json", "--index", str(index), env=env)
    assert data.returncode == 0 and data.stderr == b""
    assert json.loads(data.stdout.decode("ascii"))["hits"][0]["names"] == ["過学習", "Overfitting"]


@pytest.mark.slow
def test_an_ascii_stdout_for_an_error_and_for_show(index: Path) -> None:
    env = {"PYTHONIOENCODING": "ascii"}
    missing = semsearch_process("show", "存在しない", "--source", "dl.md", "--index", str(index), env=env)
    assert missing.returncode == 2 and b"Traceback" not in missing.stderr
    assert missing.stderr.decode("ascii").splitlines()[-1] == (
        "error: no term named '\\u5b58\\u5728\\u3057\\u306a\\u3044'"
    )
    shown = semsearch_process("show", "過学習", "--index", str(index), env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.decode("ascii").startswith("\\u904e\\u5b66\\u7fd2 | Overfitting")


# -- terminal widths -----------------------------------------------------------------------------------------


def test_columns_zero_is_ignored(runner: CliRunner, index: Path) -> None:
    result = runner.invoke(app, ["ask", "過学習", "-k", "1", "--index", str(index)], env={"COLUMNS": "0"})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(" 1  過学習 | Overfitting")
    assert "訓練データに適合しすぎて汎化性能が落ちること。" in result.stdout


def test_a_tiny_width_still_shows_the_answer(runner: CliRunner, index: Path) -> None:
    result = runner.invoke(app, ["ask", "過学習", "-k", "1", "--index", str(index)], env={"COLUMNS": "5"})
    assert result.exit_code == 0, result.output
    assert "過学習" in result.stdout and "Overfitting" in result.stdout
    assert "汎化性能" in result.stdout.replace("\n", "").replace(" ", "")


def test_a_narrow_compare_lists_the_rankings(runner: CliRunner, index: Path) -> None:
    """On a terminal narrower than 60 columns the rankings are lists; off a terminal, columns at any width."""
    tty = {"TTY_COMPATIBLE": "1", "NO_COLOR": "1"}
    args = ["compare", "過学習", "-k", "2", "--index", str(index)]
    result = runner.invoke(app, args, env={**tty, "COLUMNS": "20"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    heads = [line for line in lines if not line.startswith(" ")]
    assert [head.split(" (")[0] for head in heads] == ["dense", "tfidf", "hybrid"]
    assert all(head.endswith(("(sure)", "(possible)", "(no match)")) for head in heads)  # each mode's state
    firsts = [lines[i + 1] for i, line in enumerate(lines) if not line.startswith(" ")]
    assert all(line.startswith(" 1  過学習  ") for line in firsts)
    wide = runner.invoke(app, args, env={**tty, "COLUMNS": "100"})
    assert "┃ # ┃ dense" in wide.stdout
    for columns in ("20", "100"):
        piped = runner.invoke(app, args, env={"COLUMNS": columns}).stdout.splitlines()
        assert piped[0].split() == ["#", "dense", "score", "tfidf", "score", "hybrid", "score"]
        assert piped[1].split()[:2] == ["1", "過学習"]


# -- control and bidi characters --------------------------------------------------------------------------


def test_safe_line_escapes_every_control_and_bidi_character() -> None:
    assert safe_line("evil\nerror: fake line.md") == "evil\\nerror: fake line.md"
    assert safe_line("a\tb\rc\x1b[31m\x9bd\x7f") == "a\\tb\\rc\\x1b[31m\\x9bd\\x7f"
    assert (
        safe_line("evil\u202egpj.md \u2066x\u2069 \u200f \u2028") == "evil\\u202egpj.md \\u2066x\\u2069 \\u200f \\u2028"
    )
    assert safe_line("過学習 | Overfitting 🤖") == "過学習 | Overfitting 🤖"


def test_a_file_name_cannot_forge_a_line(runner: CliRunner, glossary: Path, tmp_path: Path) -> None:
    (glossary / "evil\nerror: fake line.md").write_bytes(b"\xff")
    result = runner.invoke(app, ["build", str(glossary), "--index", str(tmp_path / "index")])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: skipped evil\\nerror: fake line.md: not UTF-8 (invalid byte at offset 0)"
    ]


def test_names_sources_and_questions_with_bidi_overrides_are_escaped(
    runner: CliRunner, glossary: Path, tmp_path: Path
) -> None:
    (glossary / "rtl\u202egpj.md").write_text("## 名前\u202e逆 | Reversed\u2067\n- 本文。\n", encoding="utf-8")
    index = tmp_path / "index"
    semsearch.build(glossary, index, encoder=FakeEncoder())
    runs = [
        runner.invoke(app, ["ask", "Reversed", "-k", "1", "--index", str(index)]),
        runner.invoke(app, ["terms", "--index", str(index)]),
        runner.invoke(app, ["show", "Reversed\u2067", "--index", str(index)]),
        runner.invoke(app, ["show", "nothing\u202e", "--index", str(index)]),
        runner.invoke(app, ["compare", "Reversed", "-k", "1", "--index", str(index)]),
        runner.invoke(app, ["ask", "Reversed\u202e\nerror: x", "-k", "1", "--index", str(index)]),  # no match
    ]
    for result in runs:
        shown = result.stdout + result.stderr
        assert not any(c in shown for c in "\u202e\u2067\x1b"), shown
    assert "名前\\u202e逆 | Reversed\\u2067" in runs[0].stdout
    assert "rtl\\u202egpj.md:1" in runs[0].stdout
    assert "error: no term named 'nothing\\u202e'" in runs[3].stderr
    assert runs[5].stdout == "No match for “Reversed\\u202e\\nerror: x”. Closest entries: 名前\\u202e逆.\n"
    data = runner.invoke(app, ["ask", "Reversed", "-k", "1", "--json", "--index", str(index)])
    assert "\\u202e" in data.stdout and "\u202e" not in data.stdout
    assert json.loads(data.stdout)["hits"][0]["term"] == "名前\u202e逆"


def test_a_question_echoed_by_no_match_is_escaped() -> None:
    from rich.console import Console

    from semsearch.cli.render import answer_view
    from semsearch.search import Answer, Hit

    hit = Hit(1, "過学習\u202e", ("過学習\u202e",), 0.2, "a\nb.md", 3, "")
    console = Console(record=True, width=140)
    answer = Answer("\u202eqqqq\nerror: zzzz", "qqqq", "hybrid", [hit], "no_match", did_you_mean=("r\u202eq",))
    console.print(answer_view(answer))
    assert console.export_text() == (
        "No match for “\\u202eqqqq\\nerror: zzzz”. Did you mean: r\\u202eq? Closest entries: 過学習\\u202e.\n"
    )


# -- the library never prints ---------------------------------------------------------------------------------


@pytest.mark.slow  # a child process: CI's run, not every `pytest`
def test_the_library_prints_nothing_even_through_the_last_resort_handler(glossary: Path, tmp_path: Path) -> None:
    (glossary / "bin.md").write_bytes(b"\x00\x01")
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1])\n"
            "from conftest import FakeEncoder\n"
            "import semsearch\n"
            "index = semsearch.build(sys.argv[2], sys.argv[3], encoder=FakeEncoder())\n"
            "answer = index.query('過学習' * 5000, mode='tfidf')\n"
            "assert answer.notices and index.build_report.skipped, (answer.notices, index.build_report)\n",
            str(HERE),
            str(glossary),
            str(tmp_path / "index"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    assert child.stderr == ""
