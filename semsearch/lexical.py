"""The TF-IDF side: a fallback when the dense encoder is unavailable, and one half of hybrid ranking.

Plain NumPy (no scikit-learn: its import alone costs about a second on the `ask` path). Features
come from `text.lexical_features` (Latin words, CJK character bigrams). Documents are terms.
Stored as postings (feature -> documents) in one `.npz` without pickle, plus the vocabulary as JSON.
"""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .text import lexical_features

__all__ = ["FEATURES_VERSION", "LexicalIndex", "lexical_spec", "term_document", "query_weights"]

#: Bumped when `text.lexical_features` or the weighting changes: the manifest records it, and an index
#: built under another version has its TF-IDF side rebuilt (its vectors are reused).
#: 2: small kana fold to full size (シヨン = ション).
FEATURES_VERSION = 2


def lexical_spec() -> dict[str, int]:
    """What the manifest records of how the TF-IDF side was built."""
    return {"features": FEATURES_VERSION}


def _weights(counts: Counter[str]) -> dict[str, float]:
    # Sublinear tf: a word said five times is not five times as relevant.
    return {f: 1.0 + math.log(c) for f, c in counts.items()}


def query_weights(query: str, idf: Callable[[Collection[str]], Mapping[str, float]]) -> dict[str, float]:
    """The question's TF-IDF vector, cosine-normalised, over the features the index knows: `idf`
    gives the IDF of those of the features it is asked about that are in the vocabulary (an
    engine-backed store looks them up there). The same weighting as `LexicalIndex.scores`."""
    counts = Counter(lexical_features(query))
    known = idf(counts.keys()) if counts else {}
    weighted = {f: w * float(known[f]) for f, w in _weights(Counter({f: counts[f] for f in known})).items()}
    norm = math.sqrt(sum(v * v for v in weighted.values()))
    return {f: v / norm for f, v in weighted.items()} if norm else {}


@dataclass
class LexicalIndex:
    """TF-IDF postings over documents (one per term), cosine-normalised."""

    vocab: dict[str, int]
    idf: np.ndarray  # (V,) float32
    indptr: np.ndarray  # (V + 1,) int64: postings of feature f are [indptr[f], indptr[f + 1])
    docs: np.ndarray  # (nnz,) int32
    weights: np.ndarray  # (nnz,) float32, tf * idf / ||doc||
    n_docs: int

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        doc_counts = [Counter(lexical_features(t)) for t in texts]
        df: Counter[str] = Counter()
        for counts in doc_counts:
            df.update(counts.keys())
        features = sorted(df)
        vocab = {f: i for i, f in enumerate(features)}
        n = len(texts)
        idf = np.array([math.log((1 + n) / (1 + df[f])) + 1.0 for f in features], dtype=np.float32)
        postings: list[list[tuple[int, float]]] = [[] for _ in features]
        for doc, counts in enumerate(doc_counts):
            weighted = {f: w * float(idf[vocab[f]]) for f, w in _weights(counts).items()}
            norm = math.sqrt(sum(v * v for v in weighted.values())) or 1.0
            for f, v in weighted.items():
                postings[vocab[f]].append((doc, v / norm))
        indptr = np.zeros(len(features) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(p) for p in postings])
        flat = [entry for p in postings for entry in p]
        docs = np.array([d for d, _ in flat], dtype=np.int32)
        weights = np.array([w for _, w in flat], dtype=np.float32)
        return cls(vocab, idf, indptr, docs, weights, n)

    def idf_of(self, features: Collection[str]) -> dict[str, float]:
        """The IDF of each of `features` that is in the vocabulary."""
        return {f: float(self.idf[self.vocab[f]]) for f in features if f in self.vocab}

    def scores(self, query: str) -> np.ndarray:
        """Cosine similarity of the query to every document, (n_docs,) float32."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        for f, v in query_weights(query, self.idf_of).items():
            i = self.vocab[f]
            lo, hi = self.indptr[i], self.indptr[i + 1]
            np.add.at(out, self.docs[lo:hi], self.weights[lo:hi] * v)
        return out

    def documents(self) -> list[dict[str, float]]:
        """Each document's stored TF-IDF vector (cosine-normalised), feature -> weight."""
        out: list[dict[str, float]] = [{} for _ in range(self.n_docs)]
        for feature, i in self.vocab.items():
            lo, hi = self.indptr[i], self.indptr[i + 1]
            for doc, weight in zip(self.docs[lo:hi].tolist(), self.weights[lo:hi].tolist(), strict=True):
                out[doc][feature] = weight
        return out

    def to_bytes(self) -> tuple[bytes, bytes]:
        """(the arrays as `.npz`, the vocabulary as JSON): what the index directory stores."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            idf=self.idf,
            indptr=self.indptr,
            docs=self.docs,
            weights=self.weights,
            n_docs=np.array([self.n_docs], dtype=np.int64),
        )
        features = sorted(self.vocab, key=self.vocab.__getitem__)
        return buffer.getvalue(), json.dumps(features, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_bytes(cls, arrays: bytes, vocab: bytes) -> LexicalIndex:
        """Raises ValueError when the data is damaged or its parts disagree."""
        features = json.loads(vocab.decode("utf-8"))
        with np.load(io.BytesIO(arrays), allow_pickle=False) as data:
            idf, indptr, docs, weights = (data[k] for k in ("idf", "indptr", "docs", "weights"))
            n_docs = int(data["n_docs"][0])
        if not isinstance(features, list) or len(features) != len(idf) or len(indptr) != len(idf) + 1:
            raise ValueError("lexical index vocabulary and arrays disagree")
        if len(docs) != len(weights) or int(indptr[-1]) != len(docs):
            raise ValueError("lexical index postings are inconsistent")
        if len(docs) and (int(docs.max()) >= n_docs or int(docs.min()) < 0):
            raise ValueError("lexical index points at documents that do not exist")
        return cls({f: i for i, f in enumerate(features)}, idf, indptr, docs, weights, n_docs)


def term_document(names: Sequence[str], body: str) -> str:
    """The text the TF-IDF side indexes for a term: its names twice (they matter most), then its body."""
    header = " ".join(names)
    return f"{header}\n{header}\n{body}"
