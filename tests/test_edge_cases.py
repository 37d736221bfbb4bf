"""Edge cases of what users hand semsearch: an unusable $HOME, a relative XDG path, `show --source` naming the
wrong file, UTF-16 glossary files, `evaluate(modes="dense")`, `build(b"/path")`, and `info` on a
damaged index."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import FakeEncoder
from typer.testing import CliRunner

import semsearch
from semsearch.cli import app
from semsearch.cli import paths as locate
from semsearch.cli import shell as session
from semsearch.corpus import read_corpus
from semsearch.errors import IndexStoreError, QueryError
from semsearch.evaluation import LabelledQuery, evaluate

pytestmark = pytest.mark.usefixtures("fake_default_encoder")


@pytest.fixture
def index(glossary: Path, tmp_path: Path) -> Path:
    path = tmp_path / "index"
    semsearch.build(glossary, path, encoder=FakeEncoder())
    return path


# -- where the cache lives ---------------------------------------------------------------------------------


def test_home_that_does_not_exist_is_an_error_and_creates_nothing(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./corpus here: the bundled glossary, indexed in the cache
    home = tmp_path / "nonexistent"
    env = {"HOME": str(home), "XDG_CACHE_HOME": "", "SEMSEARCH_INDEX": "", "SEMSEARCH_CORPUS": ""}
    result = runner.invoke(app, ["ask", "dropout"], env=env)
    assert result.exit_code == 4, result.output
    assert result.stderr.strip() == (
        f"error: no per-user cache folder for the index: $HOME ({home}) is not a folder; give --index DIR, "
        "or set $SEMSEARCH_INDEX or $XDG_CACHE_HOME to an absolute path"
    )
    assert not home.exists()


def test_empty_home_falls_back_to_the_account_home_never_the_root(tmp_path: Path) -> None:
    import pwd

    account = pwd.getpwuid(os.getuid()).pw_dir
    if not os.path.isdir(account):
        with pytest.raises(IndexStoreError, match=r"\$HOME is not set"):
            locate.cache_index_dir([tmp_path], env={"HOME": ""})
        return
    where = locate.cache_index_dir([tmp_path], env={"HOME": ""})
    assert str(where).startswith(os.path.join(account, ".cache", "semsearch", "indexes"))


def test_a_relative_xdg_cache_home_is_ignored(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": "relative/cache"}
    assert locate.cache_index_dir([tmp_path], env=env).parent == tmp_path / ".cache" / "semsearch" / "indexes"
    absolute = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert locate.cache_index_dir([tmp_path], env=absolute).parent == tmp_path / "xdg" / "semsearch" / "indexes"


def test_shell_history_needs_a_usable_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "nonexistent"))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert session._history_path() is None
    monkeypatch.setenv("XDG_STATE_HOME", "relative")
    assert session._history_path() is None
    monkeypatch.setenv("HOME", str(tmp_path))
    assert session._history_path() == tmp_path / ".local" / "state" / "semsearch" / "history"


# -- show --source ---------------------------------------------------------------------------------------------


def test_show_with_the_wrong_source_says_where_the_term_is(runner: CliRunner, index: Path) -> None:
    result = runner.invoke(app, ["show", "dropout", "--source", "other.md", "--index", str(index)])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no term named 'dropout' in 'other.md'; it is in 'dl.md'"
    right = runner.invoke(app, ["show", "dropout", "--source", "dl.md", "--index", str(index)])
    assert right.exit_code == 0 and right.stdout.startswith("ドロップアウト | Dropout")


# -- UTF-16 files ------------------------------------------------------------------------------------------------

UTF16_TEXT = "## 正則化 | Regularization\n- 過学習を抑える手法の総称。\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_file_is_read(tmp_path: Path, encoding: str) -> None:
    root = tmp_path / "g"
    root.mkdir()
    (root / "windows.md").write_bytes(UTF16_TEXT.encode(encoding))
    corpus = read_corpus([root])
    assert [t.names for t in corpus.terms] == [("正則化", "Regularization")]
    assert corpus.terms[0].body == "- 過学習を抑える手法の総称。"
    assert not corpus.skipped


def test_damaged_utf16_and_binary_files_are_still_skipped(tmp_path: Path) -> None:
    root = tmp_path / "g"
    root.mkdir()
    (root / "a.md").write_text("## A\n- a\n", encoding="utf-8")
    (root / "broken.md").write_bytes(b"\xff\xfe" + "## x\n".encode("utf-16-le") + b"\x00\xd8")  # a lone surrogate
    (root / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00")
    reasons = {s.source: s.reason for s in read_corpus([root]).skipped}
    assert reasons["broken.md"].startswith("UTF-16 that does not decode")
    assert reasons["image.md"] == "binary file (contains NUL bytes)"


# -- the library's arguments ---------------------------------------------------------------------------------------


def test_evaluate_takes_one_mode_as_a_string(index: Path) -> None:
    opened = semsearch.load(index, encoder=FakeEncoder())
    queries = [LabelledQuery("dropout", ("Dropout",))]
    assert list(evaluate(opened, queries, modes="dense").modes) == ["dense"]
    with pytest.raises(QueryError, match="unknown mode 'psychic'"):
        evaluate(opened, queries, modes="psychic")


def test_build_takes_bytes_paths_and_says_what_it_wants_otherwise(glossary: Path, tmp_path: Path) -> None:
    index = semsearch.build(os.fsencode(glossary), os.fsencode(tmp_path / "index"), encoder=FakeEncoder())
    assert len(index) == 6
    with pytest.raises(TypeError, match="corpus must be a folder path or a list of them, not int"):
        semsearch.build(123, tmp_path / "other", encoder=FakeEncoder())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="each corpus folder must be a path"):
        semsearch.build([glossary, None], tmp_path / "other", encoder=FakeEncoder())  # type: ignore[list-item]


# -- info on a damaged index ------------------------------------------------------------------------


def test_info_says_a_truncated_index_is_damaged(runner: CliRunner, index: Path) -> None:
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    vectors = index / manifest["data"] / manifest["data_files"]["vectors"]["path"]
    vectors.write_bytes(vectors.read_bytes()[:100])
    data = json.loads(runner.invoke(app, ["info", "--index", str(index), "--json"]).stdout)
    assert data["damaged"] is True
    assert "vectors.faiss is truncated or damaged (size differs)" in data["damage"]
    text = runner.invoke(app, ["info", "--index", str(index)], env={"COLUMNS": "300"})
    assert text.exit_code == 0
    damaged = next(line for line in text.stdout.splitlines() if line.strip().startswith("damaged"))
    assert "yes: index file" in damaged and "run `semsearch build --force`" in damaged


def test_info_on_a_sound_index_says_not_damaged(runner: CliRunner, index: Path) -> None:
    data = json.loads(runner.invoke(app, ["info", "--index", str(index), "--json"]).stdout)
    assert (data["damaged"], data["damage"], data["stale"]) == (False, None, False)
    text = runner.invoke(app, ["info", "--index", str(index)])
    assert not any(line.strip().startswith("damaged") for line in text.stdout.splitlines())
