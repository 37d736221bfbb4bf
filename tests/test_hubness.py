"""hubness.py: chunk priors (mean of the top-k cosines to pseudo-queries) against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from semsearch import hubness
from semsearch.encoders import normalize_rows
from semsearch.hubness import chunk_priors, pseudo_queries


def unit_rows(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    return normalize_rows(np.random.default_rng(seed).normal(size=(n, dim)))


def brute_force(chunks: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    sims = chunks.astype(np.float64) @ queries.astype(np.float64).T
    top = -np.sort(-sims, axis=1)[:, : min(k, len(queries))]
    return top.mean(axis=1)


@pytest.mark.parametrize("k", [1, 5, 30])
def test_priors_equal_brute_force(k: int) -> None:
    chunks, queries = unit_rows(50, seed=1), unit_rows(40, seed=2)
    priors = chunk_priors(chunks, queries, k=k)
    assert priors.dtype == np.float32 and priors.shape == (50,)
    np.testing.assert_allclose(priors, brute_force(chunks, queries, k), atol=1e-6)


def test_blocked_path_equals_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    chunks, queries = unit_rows(23, seed=3), unit_rows(12, seed=4)
    whole = chunk_priors(chunks, queries, k=4)
    monkeypatch.setattr(hubness, "_BLOCK", 5)  # 23 chunks in blocks of 5: the last block is partial
    blocked = chunk_priors(chunks, queries, k=4)
    np.testing.assert_allclose(blocked, brute_force(chunks, queries, 4), atol=1e-6)
    # Blocks of 5 rows are another matrix product than one of 23: BLAS may sum them in another
    # order (3e-8 apart on an AVX2-only EPYC), so not bit for bit.
    np.testing.assert_allclose(blocked, whole, rtol=0, atol=1e-6)


def test_k_larger_than_the_pseudo_queries_averages_all_of_them() -> None:
    chunks, queries = unit_rows(7, seed=5), unit_rows(3, seed=6)
    expected = (chunks.astype(np.float64) @ queries.T.astype(np.float64)).mean(axis=1)
    np.testing.assert_allclose(chunk_priors(chunks, queries, k=30), expected, atol=1e-6)


def test_a_chunk_near_every_query_gets_the_highest_prior() -> None:
    queries = unit_rows(20, seed=7)
    hub = normalize_rows(queries.mean(axis=0))  # the centroid is close to everything
    chunks = np.vstack([unit_rows(5, seed=8), hub])
    assert int(np.argmax(chunk_priors(chunks, queries, k=10))) == 5


def test_no_queries_or_no_chunks() -> None:
    assert chunk_priors(unit_rows(3), np.zeros((0, 16), np.float32)).tolist() == [0.0, 0.0, 0.0]
    assert chunk_priors(np.zeros((0, 16), np.float32), unit_rows(3)).shape == (0,)


def test_pseudo_queries_are_distinct_names_in_order() -> None:
    names = ["Dropout", "過学習", "Dropout", " ", "", "過学習", "RNN"]
    assert pseudo_queries(names) == ["Dropout", "過学習", "RNN"]


def test_pseudo_queries_are_sampled_evenly_above_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hubness, "MAX_PSEUDO_QUERIES", 4)
    names = [f"n{i}" for i in range(10)] + ["n0", "n3"]  # repeats do not count towards the limit
    # 10 distinct names, step 2.5: positions 0, 2.5, 5, 7.5 -> 0, 2, 5, 7.
    assert pseudo_queries(names) == ["n0", "n2", "n5", "n7"]
    assert pseudo_queries(names) == pseudo_queries(list(names))  # deterministic
    assert pseudo_queries(names[:4]) == ["n0", "n1", "n2", "n3"]  # at the limit: all of them
