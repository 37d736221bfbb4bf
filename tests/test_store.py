"""stores/files.py: the index directory round trip (FAISS against NumPy), the manifest, staleness."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEncoder

import semsearch
from semsearch.chunking import chunk_terms
from semsearch.corpus import read_corpus
from semsearch.manifest import FORMAT, FORMAT_VERSION
from semsearch.staleness import stale_reason
from semsearch.stores.files import read_index, read_manifest

WORDS = (
    "gradient loss weight bias layer neuron kernel stride token vector matrix tensor batch epoch "
    "optimizer momentum dropout attention encoder decoder embedding softmax sigmoid relu pooling"
).split()


def synthetic_glossary(root: Path, n_terms: int = 40) -> Path:
    """Terms with overlapping vocabulary and some long bodies (several chunks each)."""
    rng = np.random.default_rng(7)
    root.mkdir(parents=True, exist_ok=True)
    for f in range(2):
        lines = []
        for t in range(f, n_terms, 2):
            bullets = 40 if t % 7 == 0 else 3  # every 7th term is long enough to be split
            lines.append(f"## 用語{t} | Term {t}")
            lines += ["- " + " ".join(rng.choice(WORDS, size=12)) for _ in range(bullets)]
            lines.append("")
        (root / f"part{f}.md").write_text("\n".join(lines), encoding="utf-8")
    return root


@pytest.fixture
def built(tmp_path: Path) -> tuple[semsearch.Index, Path, Path]:
    corpus = synthetic_glossary(tmp_path / "glossary")
    index = semsearch.build(corpus, index_dir=tmp_path / "index", encoder=FakeEncoder())
    return index, corpus, tmp_path / "index"


def test_round_trip_faiss_ranking_equals_numpy_brute_force(built: tuple[semsearch.Index, Path, Path]) -> None:
    _, corpus, index_dir = built
    stored = read_index(index_dir)
    encoder = FakeEncoder()
    chunks = chunk_terms(read_corpus([corpus]).terms)
    assert len(chunks) > stored.manifest.counts["terms"]  # some terms were split
    assert [c.id for c in stored.chunks] == [c.id for c in chunks]
    vectors = stored.ann.vectors()
    # What was stored is exactly what the encoder gives for the chunk texts.
    np.testing.assert_allclose(vectors, encoder.encode_passages([c.text for c in chunks]), atol=1e-6)

    queries = ["gradient of the loss", "dropout attention", "用語3", "softmax relu sigmoid pooling", "unknown"]
    q = encoder.encode_queries(queries)
    scores, ids = stored.ann.search(q, stored.ann.ntotal)
    brute = q @ vectors.T
    for row in range(len(queries)):
        expected_scores = np.sort(brute[row])[::-1]
        np.testing.assert_allclose(scores[row], expected_scores, atol=1e-5)
        # Same order, except where two chunks tie (then either order is right).
        np.testing.assert_allclose(brute[row][ids[row]], expected_scores, atol=1e-5)
        assert sorted(ids[row].tolist()) == list(range(len(chunks)))


def test_loaded_index_answers_like_the_built_one(built: tuple[semsearch.Index, Path, Path]) -> None:
    index, _, index_dir = built
    loaded = semsearch.load(index_dir, encoder=FakeEncoder())
    assert [t.names for t in loaded.terms] == [t.names for t in index.terms]
    for mode in ("dense", "tfidf", "hybrid"):
        assert loaded.search("gradient loss", k=5, mode=mode) == index.search("gradient loss", k=5, mode=mode)


def test_manifest_contents(built: tuple[semsearch.Index, Path, Path]) -> None:
    index, corpus, index_dir = built
    manifest = read_manifest(index_dir)
    raw = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert raw["format"] == FORMAT and raw["format_version"] == FORMAT_VERSION == 1
    assert manifest.encoder == {
        "backend": "fake",
        "id": "fake/hashed-features-64",
        "dim": 64,
        "max_tokens": 512,
        "query_prompt": "",
        "passage_prompt": "",
        "hubness_beta": 0.5,
        "calibration": None,
        "estimate": FakeEncoder.estimate,
    }
    assert manifest.chunking == {"max_tokens": 512, "max_chunks": 32, "version": 3}
    assert manifest.roots == (str(corpus.resolve()),)
    assert sorted(manifest.files) == ["part0.md", "part1.md"]
    for source, entry in manifest.files.items():
        data = (corpus / source).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["size"] == len(data)
        assert entry["mtime_ns"] == (corpus / source).stat().st_mtime_ns
    assert manifest.counts == {
        "files": 2,
        "terms": 40,
        "distinct_terms": 40,
        "chunks": len(index._stored.chunks),
        "skipped": 0,
    }
    assert manifest.ann["kind"] == "flat" and manifest.ann["ntotal"] == manifest.counts["chunks"]
    assert datetime.fromisoformat(manifest.built_at).tzinfo is not None
    assert manifest.build_seconds >= 0
    assert manifest.semsearch_version == semsearch.__version__
    # Every data file the manifest lists is inside its generation, with the recorded size and hash.
    for entry in manifest.data_files.values():
        data = (index_dir / manifest.data / entry["path"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"])


def test_unchanged_corpus_is_fresh(glossary: Path, tmp_path: Path) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    assert stale_reason(read_manifest(tmp_path / "index"), [glossary]) is None


def test_touching_a_file_without_changing_it_stays_fresh(glossary: Path, tmp_path: Path) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    later = (glossary / "dl.md").stat().st_mtime_ns + 5_000_000_000
    os.utime(glossary / "dl.md", ns=(later, later))
    assert stale_reason(read_manifest(tmp_path / "index"), [glossary]) is None


def test_editing_a_file_is_stale_naming_the_file(glossary: Path, tmp_path: Path) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    path = glossary / "sub" / "more.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n## 新語 | New\n", encoding="utf-8")
    assert stale_reason(read_manifest(tmp_path / "index"), [glossary]) == "sub/more.md changed"


def test_a_same_size_edit_is_stale_by_its_content_hash(glossary: Path, tmp_path: Path) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    path = glossary / "dl.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Dropout", "DropOut"), encoding="utf-8")  # same size, new content
    assert stale_reason(read_manifest(tmp_path / "index"), [glossary]) == "dl.md changed"


def test_adding_or_removing_a_file_is_stale(glossary: Path, tmp_path: Path) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    manifest = read_manifest(tmp_path / "index")
    (glossary / "sub" / "new.md").write_text("## 新語\n", encoding="utf-8")
    assert stale_reason(manifest, [glossary]) == "sub/new.md was added"
    (glossary / "sub" / "new.md").unlink()
    (glossary / "dl.md").unlink()
    assert stale_reason(manifest, [glossary]) == "dl.md was removed"


def test_other_corpus_folders_are_stale(glossary: Path, tmp_path: Path) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    other = synthetic_glossary(tmp_path / "other", n_terms=2)
    reason = stale_reason(read_manifest(tmp_path / "index"), [other])
    assert reason == "the corpus folders differ from the ones it was built from"


def test_several_roots_with_the_same_folder_name_stay_fresh(tmp_path: Path) -> None:
    roots = []
    for team, text in (("a", "## Dropout\n- a\n"), ("b", "## Overfitting\n- b\n")):
        (tmp_path / team / "docs").mkdir(parents=True)
        (tmp_path / team / "docs" / "g.md").write_text(text, encoding="utf-8")
        roots.append(tmp_path / team / "docs")
    semsearch.build(roots, index_dir=tmp_path / "index", encoder=FakeEncoder())
    manifest = read_manifest(tmp_path / "index")
    assert sorted(manifest.files) == ["a/docs/g.md", "b/docs/g.md"]
    assert stale_reason(manifest, roots) is None
    again = semsearch.build(roots, index_dir=tmp_path / "index", encoder=FakeEncoder())
    assert again.build_report.written is False
