"""One store at one size, in a fresh process: commit a synthetic generation, open it, answer
questions, then edit one term and bring the index up to date. Prints one JSON object.

    python -m bench.children.store_ops LOCATION CHUNKS QUESTIONS build|query|edit

LOCATION is an index location (a directory, qdrant+local://…, qdrant+edge://…) that does not exist
yet. The generation is what a build would hand its store (stores/base.py `Generation`): synthetic
e5-like vectors (bench/synthetic.py), one chunk per term, terms of synthetic words (Latin and
Japanese, so both TF-IDF feature kinds occur), hubness priors from the glossary's names. Questions
are answered through `Index.query` in hybrid mode with a replay encoder that hands out the
synthetic question vectors, so the figures are the store's, not an encoder's.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.synthetic import mixture

DIM = 384
WORDS = 4000


class Replay:
    """Question vectors, one per question, in order (stands in for the encoder)."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.next = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = self.vectors[self.next : self.next + len(texts)]
        self.next = (self.next + len(texts)) % len(self.vectors)
        return out


def replay_encoder(vectors: np.ndarray) -> Any:
    from semsearch.encoders import Encoder

    class ReplayEncoder(Encoder):
        backend = "bench-replay"
        hubness_beta = 0.5

        def __init__(self) -> None:
            self.replay = Replay(vectors)

        @property
        def id(self) -> str:
            return "bench/synthetic-e5-like-384"

        @property
        def dim(self) -> int:
            return DIM

        @property
        def max_tokens(self) -> int:
            return 512

        def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
            return self.replay(texts)

        def encode_passages(self, texts: Sequence[str], progress: Any = None) -> np.ndarray:
            raise AssertionError("the benchmark embeds nothing")

    return ReplayEncoder()


def vocabulary(rng: np.random.Generator) -> list[str]:
    latin = [f"w{i:04d}" for i in range(WORDS // 2)]
    kana = [chr(c) for c in range(0x30A2, 0x30F3)]
    japanese = ["".join(rng.choice(kana, 3)) for _ in range(WORDS // 2)]
    return latin + japanese


def generation(chunks: int, encoder: Any, seed: int = 0, edited: int | None = None) -> Any:
    """A Generation of `chunks` one-chunk terms; `edited`: that term's body has one more word."""
    import hashlib

    from semsearch.chunking import ChunkSettings
    from semsearch.corpus import Term
    from semsearch.hubness import chunk_priors
    from semsearch.lexical import LexicalIndex, lexical_spec, term_document
    from semsearch.stores import Generation
    from semsearch.stores.files import ChunkRecord, DenseExtras

    rng = np.random.default_rng(seed)
    words = vocabulary(rng)
    vectors, pseudo = mixture(chunks, min(4096, chunks), seed=seed)
    terms, ids, records = [], [], []
    for i in range(chunks):
        body = " ".join(rng.choice(words, 12))
        if i == edited:
            body += " edited"
        term = Term((f"term{i:06d}", f"用語{i}"), f"- {body}", f"part{i % 20:02d}.md", 1 + 3 * (i // 20))
        terms.append(term)
        ids.append(f"{term.source}::{term.name}")
        text = f"{' | '.join(term.names)}\n{body}"
        records.append(ChunkRecord(f"{ids[-1]}#0", i, 0, hashlib.sha256(text.encode()).hexdigest()))
    if edited is not None:  # its text changed: so does its vector
        vectors[edited] = np.roll(vectors[edited], 1)
    lexical = LexicalIndex.build([term_document(t.names, t.body) for t in terms])
    pseudo_hashes = [hashlib.sha256(f"query\0{i}".encode()).hexdigest() for i in range(len(pseudo))]
    dense = DenseExtras(chunk_priors(vectors, pseudo), pseudo_hashes, pseudo)
    spec = {**encoder.spec(), "backend": "bench-replay"}
    fields = {
        "encoder": spec,
        "chunking": ChunkSettings().to_dict(),
        "lexical": lexical_spec(),
        "roots": ("/synthetic",),
        "files": {},
        "counts": {"files": 20, "terms": chunks, "chunks": chunks, "skipped": 0},
        "built_at": "",
        "build_seconds": 0.0,
        "semsearch_version": "bench",
    }
    return Generation(terms, ids, records, vectors, lexical, dense, fields), words


def main(location: str, chunks: int, questions: int, phase: str) -> dict[str, Any]:
    """One phase, each in its own process: "build" (commit a new generation), "query" (open the
    index, engine client import included, then answer), "edit" (one term changed: reread the stored
    vectors for reuse and commit the new generation, in place for Qdrant)."""
    from semsearch.encoders import register_backend
    from semsearch.search import Index
    from semsearch.stores import open_store

    _, question_vectors = mixture(chunks, questions, seed=7)
    encoder = replay_encoder(question_vectors)
    register_backend("bench-replay", lambda spec: encoder)
    if phase == "build":
        made, _ = generation(chunks, encoder)
        store = open_store(location)
        store.prepare()
        began = time.perf_counter()
        store.commit(made, None)
        return {"build": time.perf_counter() - began}
    if phase == "query":
        words = vocabulary(np.random.default_rng(0))
        began = time.perf_counter()
        index = Index(open_store(location).read(), encoder)
        opened = time.perf_counter() - began
        rng = np.random.default_rng(3)
        texts = [" ".join(rng.choice(words, 3)) for _ in range(questions)]
        index.query(texts[0])  # warm: the first question pays one-time costs (caches)
        latencies = []
        for text in texts:
            began = time.perf_counter()
            index.query(text, k=5)
            latencies.append(time.perf_counter() - began)
        return {"open": opened, "p50": statistics.median(latencies), "p90": float(np.percentile(latencies, 90))}
    # An edit: one term's text changes. What a rebuild does with the store, embedding aside:
    # reuse the stored vectors (read back), then commit the new generation.
    store = open_store(location)
    previous = store.read()
    edited, _ = generation(chunks, encoder, edited=chunks // 2)
    began = time.perf_counter()
    store.vectors_by_hash(previous)
    reread = time.perf_counter() - began
    store.commit(edited, previous)
    return {"edit": time.perf_counter() - began, "edit_reread": reread}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))
