"""indexer.py: incremental builds (only new content is embedded) and open_index's build/rebuild."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEncoder, Told

import semsearch
from semsearch.encoders import registry
from semsearch.indexer import open_index
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
    index = open_index([glossary], index_dir, encoder=FakeEncoder())
    assert told.notices() == [f"no index at {index_dir} yet; building it from {glossary}"]
    assert index.build_report is not None and index.build_report.embedded == ALL_CHUNKS
    assert read_manifest(index_dir).counts["terms"] == 6


def test_open_index_loads_a_fresh_index_silently(glossary: Path, tmp_path: Path, told: Told) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    index = open_index([glossary], tmp_path / "index")
    assert told == []
    assert index.build_report is None  # loaded, not built
    assert index.encoder.id == "fake/hashed-features-64"  # rebuilt from the manifest's spec


def test_open_index_rebuilds_a_stale_index_and_says_why(glossary: Path, tmp_path: Path, told: Told) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    edit_dropout(glossary)
    index = open_index([glossary], tmp_path / "index")
    assert told.notices() == [f"index at {tmp_path / 'index'} is stale: dl.md changed; rebuilding"]
    assert (index.build_report.embedded, index.build_report.reused) == (1, ALL_CHUNKS - 1)
    # Without a corpus argument, the index is checked against the folders it was built from.
    edit_dropout(glossary)
    told.clear()
    open_index(None, tmp_path / "index")
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
    index = open_index([glossary], tmp_path / "index")
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
    index = open_index([glossary], index_dir)
    why = "its TF-IDF side was built by another semsearch version"
    assert told.notices() == [f"index at {index_dir} is stale: {why}; rebuilding"]
    assert (index.build_report.embedded, index.build_report.reused) == (0, ALL_CHUNKS)  # only TF-IDF is redone
    assert read_manifest(index_dir).lexical == lexical_spec()
    slip, right = index.lexical_scores("ドロツプ"), index.lexical_scores("ドロップ")  # an IME slip: ツ for ッ
    assert right.max() > 0 and np.allclose(slip, right)
    told.clear()
    open_index([glossary], index_dir)
    assert told == []
