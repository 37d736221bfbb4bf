"""Shell completion of term names (`semsearch show <TAB>`) and corpus files (`--source <TAB>`), through
click's completion protocol as bash's completion script drives it (`semsearch --install-completion`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, FakeEncoder
from typer.testing import CliRunner

import semsearch
from semsearch.cli import app


@pytest.fixture
def index(glossary: Path, tmp_path: Path) -> Path:
    (glossary / "ml.md").write_text("## Machine Learning | 機械学習\n- データから学ぶ。\n", encoding="utf-8")
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    return tmp_path / "index"


def completions(runner: CliRunner, line: str) -> list[str]:
    """What Tab offers at the end of `line` (a trailing space: a new word), as bash asks for it."""
    words = line.split(" ")
    env = {"_SEMSEARCH_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    result = runner.invoke(app, [], env=env, prog_name="semsearch")
    assert result.stderr == ""
    return [line for line in result.stdout.splitlines() if line]


def test_show_completes_the_names_that_start_with_what_is_typed(runner: CliRunner, index: Path) -> None:
    at = f"semsearch show --index {index}"
    assert completions(runner, f"{at} 過") == ["過学習"]
    assert completions(runner, f"{at} 勾配") == ["勾配消失問題"]
    assert completions(runner, f"{at} Ba") == ["Backpropagation"]
    assert completions(runner, f"{at} Machine L") == ["Learning"]  # the word being typed of a name of two
    everything = completions(runner, f"{at} ")
    assert {"ドロップアウト", "Dropout", "Transfer Learning", "転移学習", "機械学習"} <= set(everything)
    assert completions(runner, f"{at} zzz") == []


def test_source_completes_the_corpus_files(runner: CliRunner, index: Path) -> None:
    assert completions(runner, f"semsearch terms --index {index} --source ") == ["dl.md", "ml.md", "sub/more.md"]
    assert completions(runner, f"semsearch show --index {index} --source s") == ["sub/more.md"]


def test_the_index_the_command_would_use_else_nothing(
    runner: CliRunner, index: Path, glossary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEMSEARCH_INDEX", str(index))  # no --index: the default the command would open
    assert completions(runner, "semsearch show 転") == ["転移学習"]
    monkeypatch.delenv("SEMSEARCH_INDEX")
    # no index yet, or one that is not an index: nothing, silently, and nothing is built
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    before = sorted(tmp_path.iterdir())
    assert completions(runner, f"semsearch show --corpus {glossary} 過") == []
    assert completions(runner, f"semsearch show --index {tmp_path / 'none'} 過") == []
    assert completions(runner, f"semsearch show --index {glossary} 過") == []
    assert sorted(tmp_path.iterdir()) == before  # nothing built, in the cache or anywhere


@pytest.mark.slow  # a process of its own (about half a second)
def test_completion_in_a_process_loads_no_numpy_and_says_nothing_else(index: Path) -> None:
    env = {**os.environ, "_SEMSEARCH_COMPLETE": "complete_bash", "COMP_CWORD": "4"}
    env["COMP_WORDS"] = f"semsearch show --index {index} 機"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "semsearch"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "機械学習\n")
    imported = [line.split("|")[-1].strip() for line in done.stderr.splitlines()]
    assert all(line.startswith("import time:") for line in done.stderr.splitlines())  # no error, no warning
    assert "numpy" not in imported and "torch" not in imported
