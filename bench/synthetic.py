"""Synthetic embedding-like vectors for the FAISS benchmark.

Uniform random unit vectors are an unrealistic worst case (every point is about equally far from
every other one). Real e5 embeddings are clustered, share a large common direction and have a
covariance spectrum that decays like a power law. This generator mimics those three properties,
with constants fitted to the multilingual-e5-small vectors of the tech-glossary corpus
(`python -m bench` prints the same statistics for the real vectors next to the synthetic ones):

    x = normalise(m + A (t_topic(f) + u_f + w))

    m     a fixed common direction, |m| = 0.915 (the norm of the mean e5 chunk vector)
    A     a random rotation times sqrt(eigenvalues), eigenvalue_i ~ i^-0.82, summing to 0.163
          (the slope and the total residual variance of the real vectors)
    t     topic centres, ~ N(0, 0.5 I): n / 1000 topics, drawn with Zipf-like weights (rank^-0.7):
          some topics are much bigger than others
    u_f   family offsets, ~ N(0, 0.2 I): n / 10 families (a term and its near-synonyms) spread
          evenly over the topics; a point picks its topic by weight, then one of its families
    w     ~ N(0, 0.3 I): the spread of the points of one family

With one level only (families of 100, no tight families) the local intrinsic dimensionality of
300-point samples is ~36; the real vectors measure ~15, the two levels ~14.

Queries are fresh draws from the same mixture: near the data, but never a stored point.
Everything is seeded, so every run and every size sees the same kind of data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MixtureSpec", "mixture", "spectrum_slope"]


@dataclass(frozen=True)
class MixtureSpec:
    """The generator's constants (see the module docstring)."""

    dim: int = 384
    mean_norm: float = 0.915
    residual_variance: float = 0.163
    spectrum_slope: float = 0.82
    topic_fraction: float = 0.5  # of the residual variance: between topics
    family_fraction: float = 0.2  # between families of one topic; the rest is per point
    points_per_topic: int = 1000
    points_per_family: int = 10
    zipf: float = 0.7

    def describe(self) -> str:
        families = f"families of ~{self.points_per_family} points" if self.family_fraction else "no families"
        return (
            f"two-level Gaussian mixture in {self.dim} dimensions: topics of ~{self.points_per_topic} points on "
            f"average (Zipf weights, rank^-{self.zipf}), {families} inside them; variance shares topic "
            f"{self.topic_fraction:.0%}, family {self.family_fraction:.0%}, point "
            f"{1 - self.topic_fraction - self.family_fraction:.0%} of a residual covariance with power-law "
            f"eigenvalues (i^-{self.spectrum_slope}, total {self.residual_variance}), plus a common direction of "
            f"norm {self.mean_norm}; rows L2-normalised; queries are fresh draws from the same mixture"
        )


def mixture(n: int, n_queries: int, seed: int = 0, spec: MixtureSpec | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(data (n, dim), queries (n_queries, dim)), float32, rows L2-normalised."""
    spec = spec or MixtureSpec()
    dim = spec.dim
    rng = np.random.default_rng(seed)
    topics = max(4, n // spec.points_per_topic)
    families = max(topics, n // spec.points_per_family)
    rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    eigen = np.arange(1, dim + 1, dtype=np.float64) ** (-spec.spectrum_slope)
    eigen *= spec.residual_variance / eigen.sum()
    shape = (rotation * np.sqrt(eigen)).astype(np.float32)
    common = rng.standard_normal(dim)
    common = (common / np.linalg.norm(common) * spec.mean_norm).astype(np.float32)
    topic_centres = rng.standard_normal((topics, dim)).astype(np.float32) * np.sqrt(spec.topic_fraction)
    family_topic = np.arange(families) % topics  # every topic gets families; sizes come from the weights
    family_offsets = rng.standard_normal((families, dim)).astype(np.float32) * np.sqrt(spec.family_fraction)
    centres = (topic_centres[family_topic] + family_offsets) @ shape.T
    # Topics are unbalanced (Zipf-like weights); the families of one topic share its weight evenly.
    topic_weights = np.arange(1, topics + 1, dtype=np.float64) ** (-spec.zipf)
    topic_weights = topic_weights[rng.permutation(topics)]
    weights = topic_weights[family_topic] / np.bincount(family_topic, minlength=topics)[family_topic]
    weights /= weights.sum()
    within = np.sqrt(1.0 - spec.topic_fraction - spec.family_fraction)

    def draw(count: int, generator: np.random.Generator) -> np.ndarray:
        out = np.empty((count, dim), dtype=np.float32)
        for start in range(0, count, 65_536):  # in slices: 1M x 384 temporaries would double the memory
            size = min(65_536, count - start)
            labels = generator.choice(families, size, p=weights)
            noise = generator.standard_normal((size, dim), dtype=np.float32) * within
            rows = common + centres[labels] + noise @ shape.T
            out[start : start + size] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        return out

    return draw(n, rng), draw(n_queries, np.random.default_rng(seed + 1))


def spectrum_slope(vectors: np.ndarray, first: int = 5, last: int = 100) -> float:
    """The power-law exponent of the covariance eigenvalues i = first..last (log-log fit)."""
    centred = vectors - vectors.mean(axis=0)
    eigen = np.sort(np.linalg.eigvalsh(np.cov(centred.T)))[::-1]
    last = min(last, len(vectors) - 1, len(eigen))
    ranks = np.arange(first, last + 1)
    slope = np.polyfit(np.log(ranks), np.log(np.maximum(eigen[first - 1 : last], 1e-20)), 1)[0]
    return float(-slope)
