"""The Encoder interface, and what every backend shares: row normalisation and length-sorted batching.

An encoder turns questions and passages into L2-normalised float32 vectors of one dimension. Its
`spec()` is what an index's manifest records, so that `registry.load_encoder` can rebuild it: queries
are always embedded by the model (and prompts) that embedded the passages.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, ClassVar

import numpy as np

__all__ = ["Encoder", "Progress", "normalize_rows", "length_sorted_batches", "encode_in_batches"]

#: Called after each batch of passages with the number of texts just encoded.
Progress = Callable[[int], None]


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """float32, each row L2-normalised (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def length_sorted_batches(texts: Sequence[str], batch_size: int, longest_first: bool = False) -> list[list[int]]:
    """Row numbers of `texts` in batches of `batch_size`, shortest texts first (or longest): similar
    lengths share a batch, so little work is spent on padding."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=longest_first)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def encode_in_batches(
    texts: Sequence[str],
    dim: int,
    batch_size: int,
    encode_batch: Callable[[list[str]], np.ndarray],
    progress: Progress | None = None,
    workers: int = 1,
    longest_first: bool = False,
) -> np.ndarray:
    """(len(texts), dim) float32 rows, L2-normalised: `encode_batch` over length-sorted batches, on
    up to `workers` threads (for engines that release the GIL), rows back in the order of `texts`.
    `longest_first` hands the longest batches out first, so that parallel workers finish together
    (the last batches handed out are the shortest)."""
    out = np.zeros((len(texts), dim), dtype=np.float32)

    def encode(batch: list[int]) -> tuple[list[int], np.ndarray]:
        return batch, encode_batch([texts[i] for i in batch])

    def store(batch: list[int], vectors: np.ndarray) -> None:
        out[batch] = vectors
        if progress:
            progress(len(batch))

    batches = length_sorted_batches(texts, batch_size, longest_first)
    if workers <= 1:
        for batch in batches:
            store(*encode(batch))
    else:
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            for future in as_completed([pool.submit(encode, batch) for batch in batches]):
                store(*future.result())
        except BaseException:
            # Ctrl-C (or a failed batch): the queued batches are dropped, not waited for; the ones
            # running finish in the background (a C call cannot be stopped) and are thrown away.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    return normalize_rows(out) if len(texts) else out


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
    #: Whether `encode_queries` and `count_tokens` may run in several threads at once on one instance
    #: (`semsearch serve` answers concurrent questions). Off unless known: a Hugging Face fast
    #: tokenizer, for one, refuses concurrent use ("Already borrowed").
    reentrant: bool = False
    #: How a mode's raw relevance becomes the score users see, per mode ("dense", "hybrid"):
    #: (center, slope) for score = 1 / (1 + exp(-slope * (raw - center))) (scoring.py). None when
    #: not calibrated for the model: scores are then the raw relevance.
    calibration: ClassVar[dict[str, tuple[float, float]] | None] = None
    #: The estimates that give a mode's answers their state (sure, possible, no match), per mode, as
    #: confidence.Judge.to_spec writes them. None when not measured for the model: its answers are
    #: then "possible" unless the question names a term.
    estimate: ClassVar[dict[str, dict[str, Any]] | None] = None

    @abstractmethod
    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised; the query prompt is applied."""

    @abstractmethod
    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised; the passage prompt is applied.

        `progress(n)` is called after each batch with the number of texts just encoded.
        """

    def install(self, *, force: bool = False) -> None:  # noqa: B027 - most encoders have nothing to install
        """Write what makes this encoder load fast (converted weights, shared by every index of the
        user) when it is missing or damaged, and load from there from now on (nothing to write by
        default). `force` (`build --force`): check all of it first, and write it again when it
        differs from what was written."""

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`; backends with a tokenizer override this estimate."""
        from ..chunking import estimate_tokens

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
            "estimate": dict(self.estimate) if self.estimate else None,
        }
