"""An index has an identity: the corpus it was built from. Commands that name an index and no corpus
use that corpus; only `build` replaces an index built from another corpus; a missing index named
without a corpus is an error that creates nothing. CLI tests on real folders (the fake encoder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semsearch.cli import app

pytestmark = pytest.mark.usefixtures("fake_default_encoder")

OTHER = (
    "## 量子化 | Quantization\n- 重みを低いビット数で表す手法。\n\n"
    "## 蒸留 | Distillation\n- 大きなモデルの出力で小さなモデルを学習する。\n"
)


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with its own ./corpus (another glossary), as the current directory."""
    for name in ("SEMSEARCH_CORPUS", "SEMSEARCH_INDEX"):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    (work / "corpus").mkdir(parents=True)
    (work / "corpus" / "other.md").write_text(OTHER, encoding="utf-8")
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def big(runner: CliRunner, glossary: Path, tmp_path: Path) -> Path:
    """An index of the test glossary (6 terms in 2 files), built with its corpus named."""
    index = tmp_path / "big-index"
    result = runner.invoke(app, ["build", str(glossary), "--index", str(index)])
    assert result.exit_code == 0, result.output
    return index


def manifest(index: Path) -> dict:
    return json.loads((index / "manifest.json").read_text(encoding="utf-8"))


def test_build_of_a_named_index_without_a_corpus_uses_its_own_corpus(
    runner: CliRunner, big: Path, glossary: Path, place: Path
) -> None:
    result = runner.invoke(app, ["build", "--index", str(big), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["files"], report["terms"], report["written"], report["replaced"]) == (2, 6, False, [])
    assert manifest(big)["roots"] == [str(glossary.resolve())]


def test_build_of_a_named_index_without_a_corpus_never_takes_the_bundled_one(
    runner: CliRunner, big: Path, glossary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(empty)  # no ./corpus here: the default corpus would be the bundled glossary
    (glossary / "dl.md").write_text(
        (glossary / "dl.md").read_text(encoding="utf-8") + "\n## 新語 | Neologism\n- 新しい。\n"
    )
    result = runner.invoke(app, ["build", "--index", str(big), "--json"])
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["terms"], manifest(big)["roots"]) == (7, [str(glossary.resolve())])


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_missing_index_named_without_a_corpus_is_an_error_that_creates_nothing(
    runner: CliRunner, place: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    typo = place / "idx-typo"
    args = ["ask", "RAGとは"]
    if how == "option":
        args += ["--index", str(typo)]
    else:
        monkeypatch.setenv("SEMSEARCH_INDEX", str(typo))
    result = runner.invoke(app, args)
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == f"error: no index at {typo}; build one with `semsearch build CORPUS --index {typo}`\n"
    assert not typo.exists()


def test_build_of_a_missing_index_named_without_a_corpus_is_an_error(runner: CliRunner, place: Path) -> None:
    result = runner.invoke(app, ["build", "--index", "new-index"])
    assert result.exit_code == 4
    assert "semsearch build CORPUS --index new-index" in result.stderr
    assert not (place / "new-index").exists()


@pytest.mark.parametrize(
    "command",
    [["ask", "過学習"], ["compare", "過学習"], ["show", "過学習"], ["terms"], ["shell"]],
    ids=lambda c: c[0],
)
def test_no_command_but_build_replaces_an_index_of_another_corpus(
    runner: CliRunner, big: Path, glossary: Path, place: Path, command: list[str]
) -> None:
    before = (big / "manifest.json").read_bytes()
    result = runner.invoke(app, [*command, "--index", str(big), "--corpus", "corpus"], input="過学習\n")
    assert result.exit_code == 4, result.output
    assert result.stdout == ""
    message = result.stderr
    assert message.startswith(f"error: the index at {big} was built from {glossary.resolve()}, not from corpus;")
    assert f"`semsearch build corpus --index {big}`" in message
    assert len(message.splitlines()) == 1
    assert (big / "manifest.json").read_bytes() == before


def test_mismatch_as_json(runner: CliRunner, big: Path, place: Path) -> None:
    result = runner.invoke(app, ["ask", "過学習", "--index", str(big), "--corpus", "corpus", "--json"])
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"]["type"] == "IndexMismatchError"


def test_the_default_index_built_from_another_corpus_is_not_replaced(
    runner: CliRunner, glossary: Path, place: Path
) -> None:
    """./index is the default index of ./corpus; built from elsewhere, `ask` refuses it, naming both."""
    assert runner.invoke(app, ["build", str(glossary), "--index", "index"]).exit_code == 0
    result = runner.invoke(app, ["ask", "量子化"])
    assert result.exit_code == 4
    assert f"was built from {glossary.resolve()}, not from corpus" in result.stderr
    assert manifest(place / "index")["roots"] == [str(glossary.resolve())]


def test_build_replaces_an_index_of_another_corpus_and_says_so(
    runner: CliRunner, big: Path, glossary: Path, place: Path
) -> None:
    result = runner.invoke(app, ["build", "corpus", "--index", str(big)])
    assert result.exit_code == 0, result.output
    assert f"replaced the index at {big}, built from {glossary.resolve()}" in result.stderr
    assert manifest(big)["roots"] == [str((place / "corpus").resolve())]
    asked = runner.invoke(app, ["ask", "量子化", "--index", str(big), "-k", "1", "--json"])
    assert json.loads(asked.stdout)["hits"][0]["term"] == "量子化"


def test_ask_with_a_named_index_searches_its_own_corpus(runner: CliRunner, big: Path, place: Path) -> None:
    result = runner.invoke(app, ["ask", "Dropout", "--index", str(big), "-k", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hits"][0]["term"] == "ドロップアウト"


def test_info_of_a_named_index_checks_its_own_corpus(runner: CliRunner, big: Path, glossary: Path, place: Path) -> None:
    data = json.loads(runner.invoke(app, ["info", "--index", str(big), "--json"]).stdout)
    assert (data["corpus"], data["stale"]) == ([str(glossary.resolve())], False)
