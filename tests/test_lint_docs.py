"""docs/lint.md stays true: its example glossary gives the findings it shows (with the real encoders),
its settings block is valid settings, and its CI problem matcher reads the `grep` format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import FakeEncoder
from engine_noise import NEIGHBOUR_TOLERANCE
from typer.testing import CliRunner

import semsearch
from semsearch.cli import app
from semsearch.linter import read_config

DOC = Path(__file__).resolve().parent.parent / "docs" / "lint.md"
NUMBER = re.compile(r"\b\d+\.\d{3}\b")


def blocks(language: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.S | re.M)


def example_glossary(root: Path) -> Path:
    """The doc's example files, each named by its `<!-- 記事URL: -->` comment."""
    for block in blocks("markdown"):
        named = re.match(r"<!-- 記事URL:\S+/([\w.-]+)# -->", block)
        if named:
            (root / named.group(1)).parent.mkdir(parents=True, exist_ok=True)
            (root / named.group(1)).write_text(block, encoding="utf-8")
    return root


def test_the_problem_matcher_reads_the_grep_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (matcher,) = [json.loads(b) for b in blocks("json") if "problemMatcher" in b]
    pattern = matcher["problemMatcher"][0]["pattern"][0]
    regexp = re.compile(pattern["regexp"])
    root = example_glossary(tmp_path / "glossary")
    semsearch.build(root, tmp_path / "index", encoder=FakeEncoder())
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["lint", "glossary", "--index", "index", "--format", "grep"])
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines
    for line in lines:
        match = regexp.match(line)
        assert match, line
        path, number, col = match.group(pattern["file"]), match.group(pattern["line"]), match.group(pattern["column"])
        assert (tmp_path / path).is_file() and int(number) >= 1 and int(col) >= 1
        assert match.group(pattern["code"]) in semsearch.linter.RULES
    assert "glossary/data.md:14:" in result.stdout  # a path relative to the repository, where the job runs


def test_the_settings_block_is_valid_settings(tmp_path: Path) -> None:
    (block,) = [b for b in blocks("toml") if "[tool.semsearch.lint]" in b]
    (tmp_path / "pyproject.toml").write_text(block, encoding="utf-8")
    config = read_config(tmp_path / "pyproject.toml")
    assert config.ignore == ("one-language",) and config.near_duplicate == 0.8 and config.homonym == 0.2
    assert (config.short_tokens, config.min_bilingual, config.max_name_width, config.max_pieces) == (30, 0.8, 60, 8)


def test_the_example_glossary_gives_the_findings_shown(tmp_path: Path, e5, monkeypatch: pytest.MonkeyPatch) -> None:
    (console,) = [b for b in blocks("console") if b.startswith("$ semsearch lint glossary\n")]
    shown = console.splitlines()[1:]
    root = example_glossary(tmp_path / "glossary")
    semsearch.build(root, tmp_path / "index", encoder=e5)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["lint", "glossary", "--index", "index"])
    assert result.exit_code == 1, result.stderr
    printed = [*result.stdout.splitlines(), result.stderr.splitlines()[-1]]
    printed[-1] = re.sub(r"\(\d+\.\d s\)$", "(0.0 s)", printed[-1])
    assert [NUMBER.sub("#", line) for line in printed] == [NUMBER.sub("#", line) for line in shown]
    for got, doc in zip(printed, shown, strict=True):
        for a, b in zip(NUMBER.findall(got), NUMBER.findall(doc), strict=True):
            assert abs(float(a) - float(b)) <= NEIGHBOUR_TOLERANCE, (got, doc)
