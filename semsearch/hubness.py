"""Hubness correction for the dense side (CSLS, Conneau et al. 2018, "Word translation without
parallel data").

Long, general entries (深層学習, 活性化関数) sit close to almost every question in embedding space
and "attract" questions meant for other terms. Each chunk gets a prior: its mean cosine to the K
nearest pseudo-questions, where the pseudo-questions are the glossary's own term names embedded as
queries. A chunk that is near everything has a high prior, and its score is lowered by
`beta * prior`, beta being the encoder's `hubness_beta` (recorded in the manifest; 0.5 for the
embedded e5, where it was measured on bench/queries, see docs/ranking.md; 0 elsewhere).
"""

from __future__ import annotations

import numpy as np

__all__ = ["K", "MAX_PSEUDO_QUERIES", "pseudo_queries", "chunk_priors"]

K = 30
#: Above this many names, a deterministic sample is used (the prior is a mean; it does not need all).
MAX_PSEUDO_QUERIES = 4096
_BLOCK = 16384


def pseudo_queries(names: list[str]) -> list[str]:
    """The distinct names, sampled evenly down to MAX_PSEUDO_QUERIES."""
    unique = list(dict.fromkeys(n for n in names if n.strip()))
    if len(unique) <= MAX_PSEUDO_QUERIES:
        return unique
    step = len(unique) / MAX_PSEUDO_QUERIES
    return [unique[int(i * step)] for i in range(MAX_PSEUDO_QUERIES)]


def chunk_priors(chunks: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Mean of each chunk's top-k cosines to the pseudo-queries, (len(chunks),) float32.

    Both inputs are L2-normalised rows. Computed in blocks, so memory stays bounded for large indexes.
    """
    out = np.zeros(len(chunks), dtype=np.float32)
    if len(queries) == 0 or len(chunks) == 0:
        return out
    k = min(k, len(queries))
    for start in range(0, len(chunks), _BLOCK):
        sims = chunks[start : start + _BLOCK] @ queries.T
        top = np.partition(sims, len(queries) - k, axis=1)[:, len(queries) - k :]
        out[start : start + len(sims)] = top.mean(axis=1)
    return out
