"""staleness.py: the one rule that decides whether and why an index is rebuilt, and what a stale
`ask` or a `build` costs: one read of the index and of its manifest, one walk of the corpus, and a
parse of the changed files alone (it used to be two, four, three, and every file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FakeEncoder
from typer.testing import CliRunner

import semsearch
from semsearch.chunking import ChunkSettings
from semsearch.cli import app
from semsearch.encoders import registry
from semsearch.lexical import lexical_spec
from semsearch.staleness import CHECKS, stale_reason, tfidf_current
from semsearch.stores.files import read_manifest


def edit_dropout(glossary: Path) -> None:
    path = glossary / "dl.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("過学習を防ぐ。", "過学習を防ぐ。推論時は使わない。"), "utf-8"
    )


def rewrite_manifest(index_dir: Path, **fields: object) -> None:
    path = index_dir / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**data, **fields}), encoding="utf-8")


@pytest.fixture
def built(glossary: Path, tmp_path: Path) -> Path:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    return tmp_path / "index"


def ask(index_dir: Path, glossary: Path) -> tuple[str, str]:
    argv = ["ask", "ドロップアウト", "-k", "1", "--json", "--index", str(index_dir), "--corpus", str(glossary)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


# -- the cost of an ask -------------------------------------------------------------------------


def test_a_stale_ask_reads_the_index_once_and_walks_the_corpus_once(
    built: Path, glossary: Path, counted: dict[str, int]
) -> None:
    edit_dropout(glossary)
    stdout, stderr = ask(built, glossary)
    assert stderr == f"index at {built} is stale: dl.md changed; rebuilding\n"
    assert "推論時は使わない" in json.loads(stdout)["hits"][0]["snippet"]  # answered from the rebuilt index
    assert counted == {"index reads": 1, "corpus walks": 1, "manifest reads": 1, "parses": 1}  # dl.md alone


def test_a_fresh_ask_reads_once_and_walks_once(built: Path, glossary: Path, counted: dict[str, int]) -> None:
    _, stderr = ask(built, glossary)
    assert stderr == ""
    assert counted == {"index reads": 1, "corpus walks": 1, "manifest reads": 1, "parses": 0}


def test_an_ask_on_an_index_with_old_tfidf_features_reads_it_once(
    built: Path, glossary: Path, counted: dict[str, int]
) -> None:
    rewrite_manifest(built, lexical={"features": 0})
    _, stderr = ask(built, glossary)
    assert stderr == f"index at {built} is stale: its TF-IDF side was built by another semsearch version; rebuilding\n"
    assert counted == {"index reads": 1, "corpus walks": 1, "manifest reads": 1, "parses": 0}  # no file changed
    assert read_manifest(built).lexical == lexical_spec()


def test_a_build_of_a_changed_corpus_walks_it_once(built: Path, glossary: Path, counted: dict[str, int]) -> None:
    edit_dropout(glossary)
    report = semsearch.build(glossary, index_dir=built, encoder=FakeEncoder()).build_report
    assert report is not None and (report.written, report.embedded) == (True, 1)
    assert counted == {"index reads": 1, "corpus walks": 1, "manifest reads": 1, "parses": 1}


def test_a_build_under_the_lock_rereads_an_index_another_build_replaced(built: Path, glossary: Path) -> None:
    """What open_index read before the build lock is used only while the manifest still names it."""
    from semsearch.building import BuildOptions, build_index, read_existing
    from semsearch.stores import open_store

    where = open_store(built)
    stale = read_existing(where)
    edit_dropout(glossary)
    semsearch.build(glossary, index_dir=built, encoder=FakeEncoder())  # another process, meanwhile
    encoder = FakeEncoder()
    index = build_index([glossary], where, BuildOptions(encoder=encoder), existing=stale)
    assert index.build_report is not None and index.build_report.written is False  # already up to date
    assert encoder.passages_embedded == 0


# -- the rule, part by part ---------------------------------------------------------------------


def test_a_fresh_index_has_no_reason(built: Path, glossary: Path) -> None:
    manifest = read_manifest(built)
    spec, chunking = FakeEncoder().spec(), ChunkSettings().to_dict()
    assert stale_reason(manifest, [glossary], encoder=spec, chunking=chunking) is None
    assert stale_reason(manifest, None) is None and tfidf_current(manifest)


def test_the_first_reason_in_the_documented_order_is_given(built: Path, glossary: Path) -> None:
    edit_dropout(glossary)
    rewrite_manifest(built, chunking={"max_tokens": 512, "version": 1}, lexical={})
    manifest = read_manifest(built)
    other = {**FakeEncoder().spec(), "id": "fake/other"}
    assert CHECKS == ("format", "corpus", "chunking", "encoder", "tfidf")
    assert stale_reason(manifest, [glossary], encoder=other) == "dl.md changed"
    assert stale_reason(manifest, None, encoder=other) == "it was chunked by another semsearch version"
    assert stale_reason(manifest, None, encoder=other, checks=("encoder", "tfidf")) == (
        "its encoder changed (fake/hashed-features-64 -> fake/other)"
    )
    assert stale_reason(manifest, None, checks=("tfidf",)) == "its TF-IDF side was built by another semsearch version"
    assert stale_reason(manifest, [glossary], checks=("corpus",)) == "dl.md changed"


def test_settings_that_differ_are_a_reason_only_when_given(built: Path, glossary: Path) -> None:
    manifest = read_manifest(built)
    assert stale_reason(manifest, [glossary], chunking=ChunkSettings(max_tokens=128).to_dict()) == (
        "its chunking settings changed"
    )
    settings_only = {**FakeEncoder().spec(), "hubness_beta": 0.25}
    assert stale_reason(manifest, [glossary], encoder=settings_only) == "its encoder settings changed"


def test_an_index_whose_encoder_cannot_load_is_used_as_it_is_while_its_corpus_is_unchanged(
    built: Path, glossary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old TF-IDF features alone do not send it to a build that would fail on the encoder: it answers
    from TF-IDF (rebuilt in memory) and says why."""
    from semsearch.errors import EncoderError

    def refuse(spec):
        raise EncoderError("the model weights are missing")

    rewrite_manifest(built, lexical={})
    monkeypatch.setitem(registry._BACKENDS, "fake", refuse)
    index = semsearch.open([glossary], built)
    assert index.build_report is None  # not rebuilt
    answer = index.query("ドロップアウト", k=1)
    assert answer.mode == "tfidf" and answer.hits[0].term == "ドロップアウト"


def test_a_build_of_an_up_to_date_index_from_its_own_corpus_reads_the_manifest_once(
    built: Path, counted: dict[str, int]
) -> None:
    result = CliRunner().invoke(app, ["build", "--index", str(built), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["written"] is False
    assert counted == {"index reads": 1, "corpus walks": 1, "manifest reads": 1, "parses": 0}
