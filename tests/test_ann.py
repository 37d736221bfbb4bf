"""semsearch.ann: every FAISS index kind checked against NumPy brute force."""

from __future__ import annotations

import json

import numpy as np
import pytest

from semsearch import ann
from semsearch.ann import AnnIndex, build_ann


def unit_rows(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def random_unit(n: int, dim: int, seed: int) -> np.ndarray:
    return unit_rows(np.random.default_rng(seed).standard_normal((n, dim)))


def clustered(
    n: int, n_queries: int, dim: int = 64, clusters: int = 40, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Points and queries from one Gaussian mixture: queries near the data, not on it."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    data = centres[rng.integers(0, clusters, n)] + 0.5 * rng.standard_normal((n, dim))
    queries = centres[rng.integers(0, clusters, n_queries)] + 0.5 * rng.standard_normal((n_queries, dim))
    return unit_rows(data), unit_rows(queries)


def brute_force(data: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ data.T
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, ids, axis=1), ids


# Two float32 dot products of the same vectors, summed in another order (another BLAS kernel,
# FAISS's or NumPy's), differ by a few 1e-8; a ranking may swap two ids only when their exact
# scores are this close.
TIE = 1e-5


def assert_ranked_alike(ids: np.ndarray, want_ids: np.ndarray, data: np.ndarray, queries: np.ndarray) -> None:
    """The same ranking, except that ids whose exact (float64) scores are within TIE may trade places."""
    exact = queries.astype(np.float64) @ data.astype(np.float64).T
    got = np.take_along_axis(exact, ids, axis=1)
    want = np.take_along_axis(exact, want_ids, axis=1)
    np.testing.assert_allclose(got, want, rtol=0, atol=TIE)  # rank by rank, the same score
    for row, (found, wanted) in enumerate(zip(ids, want_ids, strict=True)):
        for position in np.flatnonzero(found != wanted):  # a swap only among near-ties
            assert abs(exact[row, found[position]] - exact[row, wanted[position]]) <= TIE, (row, position)


def recall_at_10(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10]) & set(e[:10])) / 10 for f, e in zip(found, exact, strict=True)]))


@pytest.fixture(scope="module")
def mixture() -> tuple[np.ndarray, np.ndarray]:
    # Hard enough to notice a broken search: here IVF scanning 1 list, or HNSW with efSearch 10,
    # stays below 0.99.
    return clustered(3000, 200)


@pytest.fixture(scope="module")
def built(mixture) -> dict[str, AnnIndex]:
    """One index of each kind over `mixture`, built once (HNSW takes a second or two)."""
    return {kind: build_ann(mixture[0], kind=kind) for kind in ann.KINDS}


def test_flat_ranking_equals_numpy_brute_force():
    data, queries = random_unit(1000, 48, seed=1), random_unit(25, 48, seed=2)
    index = build_ann(data, kind="flat")
    scores, ids = index.search(queries, 10)
    want_scores, want_ids = brute_force(data, queries, 10)
    assert_ranked_alike(ids, want_ids, data, queries)
    np.testing.assert_allclose(scores, want_scores, rtol=0, atol=1e-5)


def test_flat_k_is_capped_at_the_index_size():
    data = random_unit(7, 16, seed=3)
    scores, ids = build_ann(data, kind="flat").search(data[:2], 50)
    assert ids.shape == scores.shape == (2, 7)
    assert sorted(ids[0]) == list(range(7)) and ids[0][0] == 0 and ids[1][0] == 1


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_recall_at_10_against_exact(kind, mixture, built):
    data, queries = mixture
    _, exact = brute_force(data, queries, 10)
    _, found = built[kind].search(queries, 10)
    assert recall_at_10(found, exact) >= 0.99


def test_ivf_asked_for_most_of_the_index_is_exact(mixture, built):
    data, queries = mixture
    index = built["ivf"]
    k = len(data) // 2 + 1
    scores, ids = index.search(queries[:3], k)
    want_scores, want_ids = brute_force(data, queries[:3], k)
    assert (ids >= 0).all()
    assert_ranked_alike(ids[:, :50], want_ids[:, :50], data, queries[:3])
    np.testing.assert_allclose(scores, want_scores, rtol=0, atol=1e-5)


def test_build_ann_picks_the_kind_by_size(monkeypatch):
    monkeypatch.setattr(ann, "APPROX_MIN_VECTORS", 300)
    assert build_ann(random_unit(299, 16, seed=4)).kind == "flat"
    approx = build_ann(random_unit(300, 16, seed=5))
    assert approx.kind == "ivf"
    assert approx.info()["kind"] == "ivf" and approx.info()["faiss"] == "IndexIVFFlat"


def test_default_threshold_leaves_exact_scoring_to_a_flat_index():
    # The NumPy engine asks for every chunk's score up to EXACT_SCORING_MAX_CHUNKS chunks.
    from semsearch.stores.arrays import EXACT_SCORING_MAX_CHUNKS

    assert ann.APPROX_MIN_VECTORS == EXACT_SCORING_MAX_CHUNKS + 1


def test_ivf_parameters_follow_the_documented_policy():
    assert ann.ivf_nlist(1_000_000) == 2048 and ann.ivf_nlist(100_000) == 512
    assert ann.ivf_nlist(1000) == 1000 // ann.IVF_TRAIN_PER_LIST  # never fewer than 40 vectors per list
    assert ann.ivf_nprobe(2048) == 64 and ann.ivf_nprobe(512) == 16 and ann.ivf_nprobe(8) == 8


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_serialize_round_trip_keeps_results_and_info(kind, mixture, built):
    data, queries = mixture
    index = built[kind]
    again = AnnIndex.from_bytes(index.to_bytes(), kind)
    before, after = index.search(queries[:20], 10), again.search(queries[:20], 10)
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_array_equal(before[0], after[0])
    assert again.info() == index.info() and again.ntotal == len(data) and again.dim == data.shape[1]
    json.dumps(again.info())  # the manifest stores it as JSON


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_vectors_returns_the_inserted_vectors_in_order(kind, mixture, built):
    data, _ = mixture
    index = built[kind]
    np.testing.assert_array_equal(index.vectors(), data)
    np.testing.assert_array_equal(AnnIndex.from_bytes(index.to_bytes(), kind).vectors(), data)


def test_a_flat_index_file_is_faiss_own_and_numpy_reads_it_as_faiss_does():
    import faiss

    data, queries = random_unit(500, 32, seed=8), random_unit(20, 32, seed=9)
    written = build_ann(data, kind="flat").to_bytes()
    reference = faiss.deserialize_index(np.frombuffer(written, dtype=np.uint8))
    assert type(reference).__name__ == "IndexFlatIP" and reference.ntotal == 500
    loaded = AnnIndex.from_bytes(written, "flat")
    assert loaded.index is None  # read without faiss
    np.testing.assert_array_equal(loaded.vectors(), reference.reconstruct_n(0, 500))
    for k in (1, 10, 500):
        want_scores, want_ids = reference.search(queries, k)
        scores, ids = loaded.search(queries, k)
        assert_ranked_alike(ids, want_ids, data, queries)
        np.testing.assert_allclose(scores, want_scores, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(loaded.vector(7), data[7])


def test_ties_rank_by_position_whatever_k():
    data = unit_rows(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]))
    for k in (2, 3, 4):
        _, ids = build_ann(data, kind="flat").search(data[:1], k)
        assert ids[0].tolist() == [0, 2, 3, 1][:k]


@pytest.mark.parametrize("damage", ["truncate", "extra", "l2"])
def test_a_flat_file_of_another_layout_is_left_to_faiss(damage):
    import faiss

    data = random_unit(50, 16, seed=10)
    written = build_ann(data, kind="flat").to_bytes()
    if damage == "l2":  # another metric: not the layout the NumPy reader takes
        other = faiss.IndexFlatL2(16)
        other.add(data)
        AnnIndex.from_bytes(faiss.serialize_index(other).tobytes(), "flat")  # faiss reads it
        assert ann._flat_vectors(faiss.serialize_index(other).tobytes()) is None
        return
    bad = written[:-4] if damage == "truncate" else written + b"\0" * 4
    assert ann._flat_vectors(bad) is None
    if damage == "truncate":
        with pytest.raises(RuntimeError):  # faiss refuses it too (stores/files.py: "damaged")
            AnnIndex.from_bytes(bad, "flat")
    else:  # faiss ignores trailing bytes
        np.testing.assert_array_equal(AnnIndex.from_bytes(bad, "flat").vectors(), data)


def test_empty_flat_index():
    index = build_ann(np.zeros((0, 8), dtype=np.float32))
    assert index.kind == "flat" and index.ntotal == 0
    assert index.vectors().shape == (0, 8)
    again = AnnIndex.from_bytes(index.to_bytes(), "flat")
    assert again.ntotal == 0 and again.dim == 8 and again.index is None


def test_unknown_kind_and_untrainable_ivf_are_refused():
    with pytest.raises(ValueError, match="unknown index kind"):
        build_ann(random_unit(10, 8, seed=6), kind="lsh")
    with pytest.raises(ValueError, match="at least 40 vectors"):
        build_ann(random_unit(10, 8, seed=7), kind="ivf")
