"""building.py and opening.py: incremental builds (only new content embedded, only changed files parsed),
open_index's build and rebuild, and `semsearch.open`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEncoder, Told

import semsearch
from semsearch.encoders import registry
from semsearch.lexical import lexical_spec
from semsearch.stores.files import read_index, read_manifest

ALL_CHUNKS = 6  # the `glossary` fixture: six short terms, one chunk each


def edit_dropout(glossary: Path) -> None:
    path = glossary / "dl.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("過学習を防ぐ。", "過学習を防ぐ。推論時は全ユニットを使う。"), encoding="utf-8")


def test_first_build_embeds_every_chunk(glossary: Path, tmp_path: Path) -> None:
    encoder = FakeEncoder()
    index = semsearch.build(glossary, index_dir=tmp_path / "index", encoder=encoder)
    report = index.build_report
    assert (report.files, report.terms, report.chunks) == (2, 6, ALL_CHUNKS)
    assert (report.embedded, report.reused, report.written) == (ALL_CHUNKS, 0, True)
    assert report.encoder == "fake/hashed-features-64"
    assert report.index_dir == str(tmp_path / "index")
    assert encoder.passages_embedded == ALL_CHUNKS


def test_editing_one_term_re_embeds_only_that_term(glossary: Path, tmp_path: Path) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    before = read_index(tmp_path / "index")
    old = dict(zip([c.id for c in before.chunks], before.ann.vectors(), strict=True))

    edit_dropout(glossary)
    encoder = FakeEncoder()
    index = semsearch.build(glossary, index_dir=tmp_path / "index", encoder=encoder)
    assert encoder.passages_embedded == 1
    assert encoder.queries_embedded == 0  # the names did not change: their pseudo-query vectors are reused
    report = index.build_report
    assert (report.embedded, report.reused, report.chunks, report.written) == (1, ALL_CHUNKS - 1, ALL_CHUNKS, True)

    after = read_index(tmp_path / "index")
    changed = [c.id for c, v in zip(after.chunks, after.ann.vectors(), strict=True) if (v != old[c.id]).any()]
    assert changed == ["dl.md::ドロップアウト#0"]
    assert "推論時は全ユニットを使う" in index.term(index.search("ドロップアウト", k=1)[0]).body


def test_a_new_term_is_embedded_and_its_name_too(glossary: Path, tmp_path: Path) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    with open(glossary / "sub" / "more.md", "a", encoding="utf-8") as f:
        f.write("\n## 正則化 | Regularization\n- 過学習を抑える工夫の総称。\n")
    encoder = FakeEncoder()
    report = semsearch.build(glossary, index_dir=tmp_path / "index", encoder=encoder).build_report
    assert (report.terms, report.embedded, report.reused) == (7, 1, ALL_CHUNKS)
    assert encoder.queries_embedded == 2  # its two names, as hubness pseudo-queries


def test_unchanged_rebuild_writes_nothing(glossary: Path, tmp_path: Path) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    manifest_bytes = (tmp_path / "index" / "manifest.json").read_bytes()
    entries = sorted(p.name for p in (tmp_path / "index").iterdir())

    encoder = FakeEncoder()
    index = semsearch.build(glossary, index_dir=tmp_path / "index", encoder=encoder)
    report = index.build_report
    assert (report.written, report.embedded, report.reused, report.chunks) == (False, 0, ALL_CHUNKS, ALL_CHUNKS)
    assert encoder.passages_embedded == encoder.queries_embedded == 0
    assert (tmp_path / "index" / "manifest.json").read_bytes() == manifest_bytes
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == entries
    assert index.search("dropout", k=1)[0].term == "ドロップアウト"


def test_force_re_embeds_everything(glossary: Path, tmp_path: Path) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    encoder = FakeEncoder()
    report = semsearch.build(glossary, index_dir=tmp_path / "index", encoder=encoder, force=True).build_report
    assert (report.written, report.embedded, report.reused) == (True, ALL_CHUNKS, 0)
    assert encoder.passages_embedded == ALL_CHUNKS


def test_identical_chunks_are_embedded_once(tmp_path: Path) -> None:
    root = tmp_path / "g"
    root.mkdir()
    for name in ("a.md", "b.md"):  # the same entry in two files: two chunks, one text
        (root / name).write_text("## 過学習 | Overfitting\n- 汎化しない。\n", encoding="utf-8")
    encoder = FakeEncoder()
    report = semsearch.build(root, index_dir=tmp_path / "index", encoder=encoder).build_report
    assert (report.terms, report.chunks, report.embedded) == (2, 2, 1)
    assert encoder.passages_embedded == 1


def test_open_index_builds_a_missing_index_and_announces_it(glossary: Path, tmp_path: Path, told: Told) -> None:
    index_dir = tmp_path / "index"
    index = semsearch.open([glossary], index_dir, encoder=FakeEncoder())
    assert told.notices() == [f"no index at {index_dir} yet; building it from {glossary}"]
    assert index.build_report is not None and index.build_report.embedded == ALL_CHUNKS
    assert read_manifest(index_dir).counts["terms"] == 6


def test_open_index_loads_a_fresh_index_silently(glossary: Path, tmp_path: Path, told: Told) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    index = semsearch.open([glossary], tmp_path / "index")
    assert told == []
    assert index.build_report is None  # loaded, not built
    assert index.scoring.encoder.id == "fake/hashed-features-64"  # rebuilt from the manifest's spec


def test_open_index_rebuilds_a_stale_index_and_says_why(glossary: Path, tmp_path: Path, told: Told) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    edit_dropout(glossary)
    index = semsearch.open([glossary], tmp_path / "index")
    assert told.notices() == [f"index at {tmp_path / 'index'} is stale: dl.md changed; rebuilding"]
    assert (index.build_report.embedded, index.build_report.reused) == (1, ALL_CHUNKS - 1)
    # Without a corpus argument, the index is checked against the folders it was built from.
    edit_dropout(glossary)
    told.clear()
    semsearch.open(None, tmp_path / "index")
    assert told.notices() == [f"index at {tmp_path / 'index'} is stale: dl.md changed; rebuilding"]


def test_open_index_rebuilds_when_the_encoder_changed(
    glossary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, told: Told
) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())

    class NewerFake(FakeEncoder):
        @property
        def id(self) -> str:
            return "fake/hashed-features-64-v2"

    monkeypatch.setitem(registry._BACKENDS, "fake", NewerFake)
    index = semsearch.open([glossary], tmp_path / "index")
    assert told.notices() == [
        f"index at {tmp_path / 'index'} is stale: its encoder changed "
        "(fake/hashed-features-64 -> fake/hashed-features-64-v2); rebuilding"
    ]
    assert (index.build_report.embedded, index.build_report.reused) == (ALL_CHUNKS, 0)  # nothing reusable
    assert read_manifest(tmp_path / "index").encoder["id"] == "fake/hashed-features-64-v2"


def test_open_index_rebuilds_a_tfidf_side_built_under_other_features(
    glossary: Path, tmp_path: Path, told: Told
) -> None:
    index_dir = tmp_path / "index"
    semsearch.build(glossary, index_dir=index_dir, encoder=FakeEncoder())
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    del manifest["lexical"]  # as written before the features were versioned
    (index_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    index = semsearch.open([glossary], index_dir)
    why = "its TF-IDF side was built by another semsearch version"
    assert told.notices() == [f"index at {index_dir} is stale: {why}; rebuilding"]
    assert (index.build_report.embedded, index.build_report.reused) == (0, ALL_CHUNKS)  # only TF-IDF is redone
    assert read_manifest(index_dir).lexical == lexical_spec()
    slip, right = (
        index.scoring.lexical_scores("ドロツプ"),
        index.scoring.lexical_scores("ドロップ"),
    )  # an IME slip: ツ for ッ
    assert right.max() > 0 and np.allclose(slip, right)
    told.clear()
    semsearch.open([glossary], index_dir)
    assert told == []


# -- what a build reads: the manifest once, only the files that changed ---------------------------


def odd_glossary(root: Path) -> Path:
    """Three glossary files, a heading without names, a file without headings, a binary file."""
    root.mkdir()
    (root / "a.md").write_text("## 勾配 | Gradient\n傾き。\n\n## |\n名前のない見出し。\n", encoding="utf-8")
    (root / "b.md").write_text("## ドロップアウト | Dropout\n過学習を防ぐ。\n", encoding="utf-8")
    (root / "c.md").write_text("## 過学習 | Overfitting\n訓練データに合いすぎる。\n", encoding="utf-8")
    (root / "notes.md").write_text("見出しのないメモ。\n", encoding="utf-8")
    (root / "blob.md").write_bytes(b"\x00\x01binary")
    return root


def report_fields(report: semsearch.BuildReport) -> dict[str, object]:
    """What a build report says of the corpus (not what it did: seconds, written, embedded)."""
    data = report.to_dict()
    return {key: data[key] for key in ("files", "terms", "chunks", "skipped", "skipped_files", "skipped_terms")}


def test_a_build_of_an_up_to_date_index_reads_the_manifest_once_and_parses_nothing(
    tmp_path: Path, counted: dict[str, int]
) -> None:
    corpus, index_dir = odd_glossary(tmp_path / "glossary"), tmp_path / "index"
    first = semsearch.build(corpus, index_dir=index_dir, encoder=FakeEncoder()).build_report
    assert counted["parses"] == 4  # a, b, c and notes.md (no heading); blob.md is not text, never parsed
    counted.update(dict.fromkeys(counted, 0))
    again = semsearch.build(corpus, index_dir=index_dir, encoder=FakeEncoder()).build_report
    assert again is not None and first is not None and again.written is False
    assert counted == {"index reads": 1, "corpus walks": 1, "manifest reads": 1, "parses": 0}
    assert report_fields(again) == report_fields(first)  # the same report, from what the index recorded
    assert (again.warnings, again.repeated) == (first.warnings, first.warnings)  # said once, at the first build


def test_a_rebuild_parses_only_the_changed_file_and_indexes_what_a_full_read_does(
    tmp_path: Path, counted: dict[str, int]
) -> None:
    corpus, index_dir = odd_glossary(tmp_path / "glossary"), tmp_path / "index"
    semsearch.build(corpus, index_dir=index_dir, encoder=FakeEncoder())
    (corpus / "b.md").write_text("## ドロップアウト | Dropout\n過学習を防ぐ。推論時は使わない。\n", encoding="utf-8")
    counted.update(dict.fromkeys(counted, 0))
    partial = semsearch.build(corpus, index_dir=index_dir, encoder=FakeEncoder())
    assert counted["parses"] == 1 and counted["manifest reads"] == 1  # b.md alone
    full = semsearch.build(corpus, index_dir=tmp_path / "full", encoder=FakeEncoder(), force=True)
    assert counted["parses"] == 1 + 4  # a forced build parses every text file
    assert partial.build_report is not None and full.build_report is not None
    assert report_fields(partial.build_report) == report_fields(full.build_report)
    assert partial.terms == full.terms  # the same records, in the same order, as a full read gives
    mine, theirs = read_manifest(index_dir), read_manifest(tmp_path / "full")
    assert (mine.files, mine.skipped, mine.counts) == (theirs.files, theirs.skipped, theirs.counts)


def test_an_index_from_another_semsearch_version_is_read_again_whole(
    glossary: Path, tmp_path: Path, counted: dict[str, int]
) -> None:
    """Its parser may have read the same files otherwise: nothing is taken from it on a rebuild."""
    index_dir = tmp_path / "index"
    semsearch.build(glossary, index_dir=index_dir, encoder=FakeEncoder())
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    (index_dir / "manifest.json").write_text(json.dumps({**manifest, "semsearch_version": "0.0.1"}), "utf-8")
    edit_dropout(glossary)
    counted.update(dict.fromkeys(counted, 0))
    semsearch.build(glossary, index_dir=index_dir, encoder=FakeEncoder())
    assert counted["parses"] == 2  # both files of the glossary


def test_semsearch_open_builds_then_opens_without_parsing_then_rebuilds_an_edit(
    glossary: Path, tmp_path: Path, counted: dict[str, int], told: Told
) -> None:
    index_dir, said = tmp_path / "index", []
    first = semsearch.open(glossary, index_dir, encoder=FakeEncoder(), notify=said.append)
    assert said == [f"no index at {index_dir} yet; building it from {glossary}"]
    assert first.build_report is not None and first.build_report.embedded == ALL_CHUNKS
    said.clear()
    counted.update(dict.fromkeys(counted, 0))
    second = semsearch.open(glossary, index_dir, notify=said.append)
    assert said == [] and second.build_report is None  # opened as it is
    assert counted == {"index reads": 1, "corpus walks": 1, "manifest reads": 1, "parses": 0}
    edit_dropout(glossary)
    third = semsearch.open(glossary, index_dir, notify=said.append)
    assert said == [f"index at {index_dir} is stale: dl.md changed; rebuilding"]
    assert third.build_report is not None and (third.build_report.embedded, third.build_report.reused) == (1, 5)
    assert counted["parses"] == 1  # dl.md alone
    assert "推論時は全ユニットを使う" in third.query("ドロップアウト", k=1).hits[0].snippet
    assert told == []  # with `notify`, nothing went to the logger


@pytest.mark.slow
def test_semsearch_open_with_the_embedded_encoder_on_a_real_corpus(
    glossary: Path, tmp_path: Path, counted: dict[str, int], told: Told
) -> None:
    index_dir = tmp_path / "index"
    first = semsearch.open(glossary, index_dir)
    assert told.notices() == [f"no index at {index_dir} yet; building it from {glossary}"]
    assert first.build_report is not None and first.build_report.embedded == ALL_CHUNKS
    told.clear()
    counted.update(dict.fromkeys(counted, 0))
    assert semsearch.open(glossary, index_dir).build_report is None and told == []
    assert counted["parses"] == 0
    edit_dropout(glossary)
    third = semsearch.open(None, index_dir)
    assert told.notices() == [f"index at {index_dir} is stale: dl.md changed; rebuilding"]
    assert third.build_report is not None and third.build_report.embedded == 1 and counted["parses"] == 1
    assert third.query("ドロップアウトとは", k=1).hits[0].term == "ドロップアウト"
