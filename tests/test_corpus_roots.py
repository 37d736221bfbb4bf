"""A corpus folder named twice is that folder once: `build ca ca` indexed every entry twice, and
`--corpus A --corpus A` was refused as another corpus than the index's A."""

from __future__ import annotations

from pathlib import Path

from conftest import GLOSSARY, FakeEncoder

import semsearch
from semsearch.cli import app
from semsearch.cli.paths import cache_index_dir
from semsearch.corpus import resolved_roots, unique_roots


def glossary(tmp_path: Path) -> Path:
    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    return tmp_path / "ca"


def test_a_folder_named_twice_is_indexed_once(tmp_path: Path) -> None:
    ca = glossary(tmp_path)
    once = semsearch.build(ca, tmp_path / "once", encoder=FakeEncoder())
    twice = semsearch.build([ca, f"{ca}/", tmp_path / "." / "ca"], tmp_path / "twice", encoder=FakeEncoder())
    assert len(twice) == len(once) == 4
    assert twice.manifest.roots == once.manifest.roots == (str(ca.resolve()),)
    assert [t.source for t in twice.terms] == [t.source for t in once.terms]  # no "ca/" prefix of two roots


def test_the_same_folder_twice_is_the_same_corpus(tmp_path: Path, runner, fake_default_encoder) -> None:
    ca = glossary(tmp_path)
    assert runner.invoke(app, ["build", str(ca), "--index", str(tmp_path / "index")]).exit_code == 0
    result = runner.invoke(
        app, ["ask", "dropout", "--corpus", str(ca), "--corpus", str(ca), "--index", str(tmp_path / "index")]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_the_roots_keep_their_order_and_first_spelling(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    roots = [tmp_path / "b", tmp_path / "a", f"{tmp_path}/b/", tmp_path / "a"]
    assert unique_roots(roots) == [tmp_path / "b", tmp_path / "a"]
    assert resolved_roots(roots) == (str(tmp_path / "b"), str(tmp_path / "a"))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert cache_index_dir([tmp_path / "a", tmp_path / "a"], env) == cache_index_dir([tmp_path / "a"], env)
