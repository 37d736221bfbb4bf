"""How alike two entries are, from the vectors their index already holds (no embedding here), and
the lines drawn on that likeness: near-duplicates above one, homonyms below another.

With the embedded encoders (e5 and the Universal Sentence Encoder's side), an entry has three
vectors: e5's of its first chunk (names and the start of the body), USE's of the whole entry, and
USE's of its names alone. The likeness of two entries is the mean of the three cosines; without the
USE side, e5's cosine alone. Both lines were chosen on the larger glossary by bench/lint_thresholds.py
(docs/lint.md, "How the thresholds were chosen"); for another encoder there is no measured line, and
the rules that need one run only when the glossary's settings give it.

Two terms whose names share a word or a Japanese character pair ("GPT-2" and "GPT-3", "教師あり学習"
and "教師なし学習", "Regression" and "Multiple Regression") are siblings or a concept and its kind:
their entries read alike because they are written alike, and they are not near-duplicates (`kin`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..encoders.embedded import EmbeddedE5
from ..encoders.use import EmbeddedUSE
from ..manifest import Manifest
from ..search import EntryVectors
from ..text import is_cjk, latin_words, name_key

__all__ = ["NEAR_DUPLICATE", "HOMONYM", "Likeness", "setup_of", "kin"]

#: The likeness at or above which two terms are reported as near-duplicates, per setup: "ensemble"
#: (e5 and USE: the mean of the three cosines). e5 alone has none: its cosines put siblings
#: ("GPT-2", "GPT-3") above every one-concept pair, so no line reported them with any precision.
#: Measured: docs/lint.md.
NEAR_DUPLICATE = {"ensemble": 0.77}
#: The similarity below which two entries of one name are reported as far apart in meaning (homonym):
#: USE's cosine of what the entries say beyond their names ("ensemble", `Likeness.apart`), e5's
#: cosine of their first chunks ("e5"). Measured: docs/lint.md.
HOMONYM = {"ensemble": 0.24, "e5": 0.87}

_DIGITS = re.compile(r"\d+")


def setup_of(manifest: Manifest, vectors: EntryVectors | None) -> str | None:
    """Which measured setup an index is: "ensemble", "e5", or None (another encoder, or no vectors)."""
    if vectors is None or manifest.encoder.get("backend") != EmbeddedE5.backend:
        return None
    if vectors.whole is not None and manifest.second.get("backend") == EmbeddedUSE.backend:
        return "ensemble"
    return "e5"


class Likeness:
    """Cosines between the entries of a glossary, from their stored vectors (rows in entry order;
    `present[i]` is false for an entry the index does not hold)."""

    def __init__(self, vectors: EntryVectors, present: np.ndarray) -> None:
        self.vectors = vectors
        self.present = present
        self.ensemble = vectors.whole is not None and vectors.names is not None
        self.bodies: np.ndarray | None = None
        if vectors.whole is not None and vectors.names is not None:
            # What an entry says beyond its names: its whole vector less its part along its names'
            # vector. Two entries of one heading share that part; left in, it makes any two
            # bodies under "エポック | Epoch" look alike (docs/lint.md).
            rest = vectors.whole - (vectors.whole * vectors.names).sum(axis=1, keepdims=True) * vectors.names
            norm = np.linalg.norm(rest, axis=1, keepdims=True)
            self.bodies = np.where(norm > 1e-6, rest / np.maximum(norm, 1e-6), 0.0).astype(np.float32)

    def cosines(self, a: int, b: int) -> dict[str, float]:
        """Every cosine between two entries: "cosine" (the index's encoder, first chunks), and with
        the second encoder's side "cosine_use" (whole entries) and "cosine_names" (names alone)."""
        v = self.vectors
        out = {"cosine": float(v.dense[a] @ v.dense[b])}
        if v.whole is not None and v.names is not None and self.bodies is not None:
            out["cosine_use"] = float(v.whole[a] @ v.whole[b])
            out["cosine_names"] = float(v.names[a] @ v.names[b])
            out["cosine_bodies"] = float(self.bodies[a] @ self.bodies[b])
        return {key: round(value, 4) for key, value in out.items()}

    def apart(self, a: int, b: int) -> float:
        """How alike two entries' meanings are, for the homonym line: with the USE side, the cosine
        of what they say beyond their names (`bodies`; USE's cosines spread far wider than e5's),
        else e5's cosine of their first chunks."""
        if self.bodies is not None:
            return float(self.bodies[a] @ self.bodies[b])
        return float(self.vectors.dense[a] @ self.vectors.dense[b])

    def matrix(self, rows: Sequence[int], columns: Sequence[int]) -> np.ndarray:
        """The likeness of every entry in `rows` to every entry in `columns`: the mean of the three
        cosines (ensemble), else e5's cosine."""
        v = self.vectors
        r, c = np.asarray(rows, dtype=np.int64), np.asarray(columns, dtype=np.int64)
        out = v.dense[r] @ v.dense[c].T
        if self.ensemble:
            assert v.whole is not None and v.names is not None
            out = (out + v.whole[r] @ v.whole[c].T + v.names[r] @ v.names[c].T) / 3
        return out


def _words(names: Sequence[str]) -> set[str]:
    """The Latin words of names, digits dropped ("FP16" and "FP32" share "fp"), two letters or more."""
    return {w for name in names for word in latin_words(name) if len(w := _DIGITS.sub("", word)) >= 2}


def _pairs(names: Sequence[str]) -> set[str]:
    """The adjacent character pairs of the Japanese names."""
    out: set[str] = set()
    for name in names:
        key = name_key(name)
        if any(is_cjk(c) for c in key):
            out.update(key[i : i + 2] for i in range(len(key) - 1) if is_cjk(key[i]) and is_cjk(key[i + 1]))
    return out


def kin(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether two terms' names say they are of one family: a Latin word (digits aside) or a pair of
    Japanese characters in common. Siblings ("偽陽性", "偽陰性") and kinds ("回帰", "重回帰")."""
    return bool(_words(a) & _words(b)) or bool(_pairs(a) & _pairs(b))
