"""Parity: on the project's query sets (bench/queries), an index in Qdrant answers as the default
index directory does (the ensemble: e5, the Universal Sentence Encoder, TF-IDF), with the real
encoders: every mode, the same Recall@1 and MRR@10, the same states, the same top 10 names per
question, every score within SCORE_TOLERANCE. Qdrant's local mode always (the bundled glossary);
Qdrant Edge (its Rust engine) where qdrant-edge-py installs, and a Qdrant server when
$SEMSEARCH_TEST_QDRANT_URL names one (both glossaries).
The directory is the session's index of each glossary; its e5 vectors are reused by the Qdrant
builds as an embedding cache (the USE side is embedded again: the same NumPy, the same vectors)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from test_stores import location_of

import semsearch
from semsearch.evaluation import evaluate, read_queries
from semsearch.ray_embed import Embeddings
from semsearch.search import Index
from semsearch.stores.files import read_index, vectors_by_hash

QUERIES = ROOT / "bench" / "queries"
#: The largest difference between a Qdrant score and the directory's, over the top 10 hits of every
#: question of both glossaries in every mode, was 2.3e-6 here (`python -m bench.parity`; the engines
#: sum floats in their own order); about nine times that leaves room for another CPU's rounding.
SCORE_TOLERANCE = 2e-5

pytestmark = pytest.mark.slow


#: (glossary, store) pairs. Local mode is a Python emulation (seconds per question on the larger
#: glossary): it is held to the bundled one here, and to both by `python -m bench.parity`.
PAIRS = [
    ("deep-learning", "local"),
    ("deep-learning", "edge"),
    ("deep-learning", "server"),
    ("tech-glossary", "edge"),
    ("tech-glossary", "server"),
]


def cache_of(index: Index) -> Embeddings:
    """The directory's vectors as an embedding cache (chunks and pseudo-questions, by content hash)."""
    chunks, pseudo = vectors_by_hash(read_index(index.path))  # type: ignore[arg-type]
    rows = {**chunks, **pseudo}
    return Embeddings(index.scoring.encoder_id, tuple(rows), np.array(list(rows.values()), dtype=np.float32))


@pytest.fixture(scope="module", params=PAIRS, ids=["-".join(pair) for pair in PAIRS])
def stores(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, e5
) -> Iterator[tuple[Index, Index]]:
    """(the default index directory of the glossary, the session's; the same glossary in the store)."""
    glossary, kind = request.param
    where = location_of(kind, tmp_path_factory.mktemp(kind))
    directory = request.getfixturevalue("bundled_index" if glossary == "deep-learning" else "tech_index")
    corpus = [Path(root) for root in directory.manifest.roots]
    index = semsearch.build(corpus, index_dir=where, encoder=e5, embeddings=cache_of(directory))
    assert index.build_report is not None and index.build_report.embedded == 0  # the cache had every vector
    yield directory, index
    if kind == "server":
        from semsearch.stores import open_store

        engine = open_store(where).engine()
        engine.client.delete_alias(index.path.name)  # type: ignore[attr-defined, union-attr]
        for name in engine.generations():
            engine.drop(name)


def glossary_of(index: Index) -> str:
    return "deep-learning" if any(Path(root).name == "corpus" for root in index.manifest.roots) else "tech-glossary"


def query_sets(glossary: str) -> list[list]:
    return [
        [*read_queries(QUERIES / f"{glossary}.{part}.jsonl"), *read_queries(QUERIES / f"offtopic.{part}.jsonl")]
        for part in ("dev", "heldout")
    ]


def test_qdrant_answers_the_query_sets_as_the_directory_does(stores: tuple[Index, Index]) -> None:
    """Every question of the query sets, every mode: the same top 10 names, state and best score."""
    directory, qdrant = stores
    assert qdrant.modes == directory.modes == ("dense", "use", "tfidf", "hybrid")  # `use` is not dense in disguise
    for queries in query_sets(glossary_of(directory)):
        want, got = evaluate(directory, queries), evaluate(qdrant, queries)
        for mode, expected in want.modes.items():
            result = got.modes[mode]
            assert result.overall.recall_at_1 == expected.overall.recall_at_1, mode
            assert result.overall.mrr_at_10 == expected.overall.mrr_at_10, mode
            assert result.states == expected.states, mode
            differ = [
                (r.query.q, r.ranked[:10], e.ranked[:10], r.state, e.state)
                for r, e in zip(result.results, expected.results, strict=True)
                if (r.ranked[:10], r.state) != (e.ranked[:10], e.state)
                or abs(r.top_score - e.top_score) > SCORE_TOLERANCE
            ]
            assert differ == [], (mode, differ)


def test_every_score_is_the_directorys_within_the_tolerance(stores: tuple[Index, Index]) -> None:
    directory, qdrant = stores
    for question in ("勾配消失とは", "how do I stop overfitting?", "プロンプトインジェクション 対策", "chicken curry"):
        for mode in directory.modes:
            want, got = directory.query(question, k=10, mode=mode), qdrant.query(question, k=10, mode=mode)
            assert (got.state, [h.id for h in got.hits]) == (want.state, [h.id for h in want.hits]), (question, mode)
            np.testing.assert_allclose(
                [h.score for h in got.hits], [h.score for h in want.hits], atol=SCORE_TOLERANCE, rtol=0
            )
