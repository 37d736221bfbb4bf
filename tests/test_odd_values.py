"""Values the command line took that it should not, and messages that said the wrong thing:
`cache prune --older-than nan` pruned by a meaningless age; a read of `qdrant+local:///dev/null`
said it refused to *write* into it; an index used as built because its corpus is gone said so
without `warning:`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import GLOSSARY, FakeEncoder

import semsearch
from semsearch.cli import app


@pytest.mark.parametrize("days", ["nan", "inf"])
def test_prune_refuses_an_age_that_is_no_number(runner, tmp_path: Path, monkeypatch, days: str) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    result = runner.invoke(app, ["cache", "prune", "--older-than", days])
    assert result.exit_code == 2
    assert result.stderr == f"error: --older-than must be a number of days, not {days}\n"


@pytest.mark.parametrize("engine, package", [("local", "qdrant_client"), ("edge", "qdrant_edge")])
@pytest.mark.parametrize("command", [["ask", "dropout"], ["terms"], ["info"]])
def test_reading_a_store_that_is_a_file_says_so(runner, engine: str, package: str, command: list[str]) -> None:
    pytest.importorskip(package)
    result = runner.invoke(app, [*command, "--index", f"qdrant+{engine}:///dev/null"])
    assert result.exit_code == 4
    assert result.stderr == "error: /dev/null is not a Qdrant store (it is a file); choose another --index\n"


def test_an_index_whose_corpus_is_gone_says_so_as_a_warning(runner, tmp_path: Path) -> None:
    (tmp_path / "glossary").mkdir()
    (tmp_path / "glossary" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    semsearch.build(tmp_path / "glossary", tmp_path / "index", encoder=FakeEncoder())
    shutil.rmtree(tmp_path / "glossary")
    result = runner.invoke(app, ["ask", "dropout", "-k", "1", "--index", str(tmp_path / "index")])
    assert result.exit_code == 0
    assert result.stderr.startswith(
        f"warning: the corpus this index was built from is gone ({(tmp_path / 'glossary').resolve()}); "
        "using the index as built"
    )
