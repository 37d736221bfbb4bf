"""`semsearch lint` on the command line: its formats, its exit status, its summary, its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FakeEncoder
from typer.testing import CliRunner

import semsearch
from semsearch.cli import app
from semsearch.linter import RULES

pytestmark = pytest.mark.usefixtures("fake_default_encoder")

FILES = {
    "a.md": "## 正規化 | Regularization\n- 重みに罰則を課して過学習を抑える手法。L1正則化やL2正則化がある。\n\n"
    "## PyTorch\n",
    "sub/b.md": "## 正規化 | Normalization\n- 値を0から1の範囲に収めるように尺度を揃える前処理の方法。\n",
}


@pytest.fixture
def glossary(tmp_path: Path) -> Path:
    root = tmp_path / "glossary"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    semsearch.build(root, tmp_path / "index", encoder=FakeEncoder())
    return root


def lint(runner: CliRunner, *args: str, code: int = 1):
    result = runner.invoke(app, ["lint", *args])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def test_text_lists_each_finding_with_its_places_and_a_summary_on_stderr(
    runner: CliRunner, glossary: Path, tmp_path: Path
) -> None:
    result = lint(runner, str(glossary), "--index", str(tmp_path / "index"))
    assert result.stdout.splitlines() == [
        "a.md:1  homonym  '正規化' names two concepts: 'Regularization' here and 'Normalization' at sub/b.md:1; "
        "rename one, or accept it with <!-- semsearch: allow homonym -->",
        "    a.md:1  正規化 | Regularization",
        "    sub/b.md:1  正規化 | Normalization",
        "a.md:4  empty  'PyTorch' has no body; it is found only by its names, and comes up for unrelated questions: "
        "write one, or remove it",
    ]
    assert result.stderr.splitlines()[-1].startswith("lint: 2 findings (1 homonym, 1 empty) in 2 files, 3 entries (")


def test_grep_is_path_line_col_rule_message_relative_to_the_working_folder(
    runner: CliRunner, glossary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = lint(runner, "glossary", "--index", "index", "--format", "grep", "--rule", "homonym")
    assert [line.split(": homonym: ")[0] for line in result.stdout.splitlines()] == [
        "glossary/a.md:1:1",
        "glossary/sub/b.md:1:1",
    ]
    monkeypatch.chdir(glossary / "sub")  # a file outside the working folder keeps its absolute path
    outside = lint(runner, "--index", str(tmp_path / "index"), "--format", "grep", "--rule", "empty").stdout
    assert outside == f"{(glossary / 'a.md').resolve()}:4:1: empty: 'PyTorch' has no body; it is found only by its " + (
        "names, and comes up for unrelated questions: write one, or remove it\n"
    )


def test_json_jsonl_and_tsv_carry_the_same_findings(runner: CliRunner, glossary: Path, tmp_path: Path) -> None:
    where = [str(glossary), "--index", str(tmp_path / "index")]
    data = json.loads(lint(runner, *where, "--json").stdout)
    assert [f["rule"] for f in data["findings"]] == ["homonym", "empty"]
    assert data["counts"] == {**dict.fromkeys(data["rules"], 0), "homonym": 1, "empty": 1}
    assert data["files"] == 2 and data["entries"] == 3 and set(data["rules"]) <= set(RULES)
    homonym = data["findings"][0]
    assert homonym["severity"] == "warning" and homonym["data"]["by"] == "names"
    assert [(p["source"], p["line"], p["col"]) for p in homonym["places"]] == [("a.md", 1, 1), ("sub/b.md", 1, 1)]
    lines = lint(runner, *where, "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == data["findings"]
    tsv = lint(runner, *where, "--format", "tsv").stdout.splitlines()
    assert tsv[0] == "rule\tseverity\tsource\tline\tcol\tpath\tmessage\talso"
    assert tsv[1].split("\t")[:5] == ["homonym", "warning", "a.md", "1", "1"] and tsv[1].endswith("\tsub/b.md:1")


def test_no_findings_exit_0_and_rules_are_chosen_and_left_out(
    runner: CliRunner, glossary: Path, tmp_path: Path
) -> None:
    where = [str(glossary), "--index", str(tmp_path / "index")]
    clean = lint(runner, *where, "--rule", "broken-link", "--rule", "parse", code=0)
    assert clean.stdout == "" and clean.stderr.splitlines()[-1].startswith("lint: no findings in 2 files, 3 entries (")
    only_empty = lint(runner, *where, "--ignore", "homonym", "--format", "grep").stdout
    assert [line.split(": ")[1] for line in only_empty.splitlines()] == ["empty"]


def test_usage_and_settings_errors_are_one_line_exit_2(runner: CliRunner, glossary: Path, tmp_path: Path) -> None:
    where = [str(glossary), "--index", str(tmp_path / "index")]
    unknown = lint(runner, *where, "--rule", "speling", code=2)
    assert unknown.stderr.startswith("error: unknown rule 'speling' for --rule; the rules are parse, broken-link, ")
    assert len(unknown.stderr.splitlines()) == 1
    both = lint(runner, *where, "--json", "--format", "grep", code=2)
    assert json.loads(both.stdout)["error"]["message"] == "--json and --format grep disagree; give one of them"
    (glossary / ".semsearch.toml").write_text("[lint]\nselect = [\n", encoding="utf-8")
    bad = lint(runner, *where, code=2)
    assert bad.stderr.startswith(f"error: {glossary / '.semsearch.toml'} is not valid TOML (")
    assert len(bad.stderr.splitlines()) == 1
    as_json = json.loads(lint(runner, *where, "--format", "json", code=2).stdout)
    assert as_json["error"]["type"] == "ConfigError"


def test_the_help_names_every_rule(runner: CliRunner) -> None:
    text = runner.invoke(app, ["lint", "--help"], env={"COLUMNS": "200"}).stdout
    described = text.split("Findings go to")[0]
    assert all(f"({rule}" in described or f" {rule})" in described or f", {rule}" in described for rule in RULES)
    assert "Examples:" in text and "--format <text|json|jsonl|tsv|grep>" in text


def test_the_shell_completes_rule_names() -> None:
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "semsearch"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "_SEMSEARCH_COMPLETE": "complete_bash",
            "COMP_WORDS": "semsearch lint --ignore ",
            "COMP_CWORD": "3",
        },
    )
    assert done.stdout.split() == list(RULES)
