"""The query layer: an opened index answers questions in three modes, one hit per term.

    dense   cosine between the question and each chunk (FAISS), a term scored by its best chunk
    tfidf   the TF-IDF side (Latin words, Japanese character bigrams)
    hybrid  both, fused (see `fuse`)

Every mode first strips question framing ("とは", "what is", "?"), and puts a term whose name or
alias equals the cleaned question first (the name tier).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .corpus import Term, ref_names, source_prefixes
from .encoders import Encoder, load_encoder
from .errors import EncoderError, QueryError
from .modes import DEFAULT_MODE, MODES
from .names import NameIndex
from .store import Manifest, StoredIndex, read_index
from .text import clean_query, lexical_features, name_key

__all__ = ["MODES", "DEFAULT_MODE", "Hit", "Answer", "Index", "load", "fuse"]

log = logging.getLogger(__name__)

# Chunks fetched from FAISS per question when the index is too big to score every chunk.
DENSE_CANDIDATES = 256
EXACT_SCORING_MAX_CHUNKS = 50_000
# Hybrid fusion weight on the dense side, after both sides are min-max scaled over the candidates:
# dense 1 : lexical 0.1, chosen on the dev halves of bench/queries (README, "Ranking"). A strong
# dense side wants a light lexical touch; equal weights or RRF lowered MRR@10 there.
DENSE_WEIGHT = 0.91
SNIPPET_CHARS = 160
# "No confident match" when the best hit is not named by the question, has too little lexical
# support, and its dense score (cosine minus hubness prior) is below the encoder's calibrated
# minimum (`Encoder.confident_min`, recorded in the manifest). Calibrated on the dev halves of
# bench/queries, off-topic questions included; see README, "Confidence".
LEXICAL_SUPPORT = 0.05  # TF-IDF cosine of the best hit that vouches for it in dense modes
TFIDF_CONFIDENT_MIN = 0.10  # in tfidf mode (or the fallback), the best hit's TF-IDF cosine


@dataclass(frozen=True)
class Hit:
    """One ranked glossary entry."""

    rank: int
    term: str  # first name
    names: tuple[str, ...]
    score: float
    source: str
    line: int
    snippet: str
    path: str = ""  # absolute path of the source file, when known
    related: tuple[str, ...] = ()
    id: str = ""  # the term's id in the index ("<source>::<first name>")
    named: bool = False  # first because the question names it (the name tier), whatever its score

    def to_dict(self) -> dict[str, object]:
        return {
            "rank": self.rank,
            "term": self.term,
            "names": list(self.names),
            "score": round(self.score, 4),
            "source": self.source,
            "line": self.line,
            "snippet": self.snippet,
            "related": list(self.related),
            "id": self.id,
            "named": self.named,
        }


@dataclass(frozen=True)
class Answer:
    """The hits for one question, and how they were found."""

    query: str
    cleaned: str
    mode: str  # the mode actually used (a dense mode falls back to "tfidf" without an encoder)
    hits: list[Hit]
    confident: bool = True
    notices: tuple[str, ...] = field(default=())


def _scale(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Min-max over the candidates in `mask`; everything else 0."""
    out = np.zeros_like(scores)
    if not mask.any():
        return out
    lo, hi = float(scores[mask].min()), float(scores[mask].max())
    out[mask] = (scores[mask] - lo) / (hi - lo) if hi > lo else 1.0
    return out


def fuse(dense: np.ndarray, lexical: np.ndarray, dense_weight: float = DENSE_WEIGHT) -> np.ndarray:
    """Hybrid score per term: a weighted blend of both sides, each min-max scaled over candidates.

    `dense` holds NaN for terms the dense side did not retrieve; they count as its minimum.
    A term is a candidate when either side retrieved it (dense) or matched it at all (lexical > 0).
    """
    retrieved = ~np.isnan(dense)
    candidates = retrieved | (lexical > 0)
    dense_filled = np.where(retrieved, dense, np.nanmin(dense) if retrieved.any() else 0.0)
    fused = dense_weight * _scale(dense_filled, candidates) + (1 - dense_weight) * _scale(lexical, candidates)
    return np.where(candidates, fused, -np.inf)


class Index:
    """An opened semsearch index: terms, vectors, the TF-IDF side, and (lazily) its encoder."""

    #: Set by `semsearch.build`: what the build did (an `indexer.BuildReport`).
    build_report = None

    def __init__(self, stored: StoredIndex, encoder: Encoder | None = None) -> None:
        self._stored = stored
        self._encoder = encoder
        self._encoder_error: EncoderError | None = None
        self._last_question: tuple[str, np.ndarray] | None = None
        self._chunk_terms = np.array([c.term for c in stored.chunks], dtype=np.int64)
        self._positions = {term_id: i for i, term_id in enumerate(stored.term_ids)}
        # The row of each term's first chunk (its vector stands for the term among neighbours).
        self._first_chunk = np.full(len(stored.terms), -1, dtype=np.int64)
        for row in range(len(stored.chunks) - 1, -1, -1):
            self._first_chunk[self._chunk_terms[row]] = row
        self._names = NameIndex(stored.terms)

    # -- what it is -------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._stored.path

    @property
    def manifest(self) -> Manifest:
        return self._stored.manifest

    @property
    def terms(self) -> list[Term]:
        return self._stored.terms

    def find(self, name: str, source: str | None = None) -> list[int]:
        """Positions of the terms one of whose names is `name` (case-, width-, kana-insensitive),
        optionally only those from the file `source`."""
        return [t for t in self._names.exact(name) if source is None or self.terms[t].source == source]

    def term_id(self, position: int) -> str:
        return self._stored.term_ids[position]

    def chunk_counts(self) -> list[int]:
        """How many vectors each term has."""
        return np.bincount(self._chunk_terms, minlength=len(self.terms)).tolist()

    def related(self, position: int, n: int = 3) -> tuple[str, ...]:
        """Up to `n` related terms (first names): the entry's own cross-references that name a term
        in the index, then its nearest neighbours among the vectors. An entry of the same term in
        another file (one sharing a name with it) is the term itself, not a related one."""
        names: list[str] = []
        seen = {name_key(name) for name in self.terms[position].names}

        def add(other: int) -> None:
            keys = {name_key(name) for name in self.terms[other].names}
            if not keys & seen:
                names.append(self.terms[other].name)
                seen.update(keys)

        for ref in self.terms[position].refs:
            for target in ref_names(ref)[:1]:
                for other in self.find(target)[:1]:
                    add(other)
        if len(names) < n and len(self._first_chunk):
            ann = self._stored.ann
            vector = ann.vector(int(self._first_chunk[position]))[None, :]
            _, ids = ann.search(vector, 4 * n + 4)
            for chunk in ids[0]:
                if chunk >= 0 and len(names) < n:
                    add(int(self._chunk_terms[chunk]))
        return tuple(names[:n])

    def similarity(self, position: int, other: int) -> float:
        """How near `other` is to the term at `position`, as `related` ranks neighbours: the best
        cosine between the term's first chunk and any chunk of `other`."""
        ann = self._stored.ann
        vector = ann.vector(int(self._first_chunk[position]))
        rows = np.flatnonzero(self._chunk_terms == other)
        return max((float(ann.vector(int(row)) @ vector) for row in rows), default=float("nan"))

    def term(self, hit: Hit | str) -> Term:
        """The full entry behind a hit (or a term id)."""
        return self.terms[self._positions[hit.id if isinstance(hit, Hit) else hit]]

    @property
    def encoder_id(self) -> str:
        return str(self.manifest.encoder.get("id", ""))

    def __len__(self) -> int:
        return len(self._stored.terms)

    def __repr__(self) -> str:
        return f"Index({str(self.path)!r}, terms={len(self)}, chunks={len(self._stored.chunks)})"

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

    # -- scoring ----------------------------------------------------------------------------

    def dense_scores(self, query: str) -> np.ndarray:
        """Best chunk score per term (cosine minus the chunk's hubness prior); NaN for terms with
        no chunk among the candidates."""
        # `compare` and `eval` ask the same question in dense and hybrid mode: embed it once.
        if self._last_question is None or self._last_question[0] != query:
            self._last_question = (query, self.encoder.encode_queries([query]))
        vector = self._last_question[1]
        ann = self._stored.ann
        k = ann.ntotal if ann.ntotal <= EXACT_SCORING_MAX_CHUNKS else DENSE_CANDIDATES
        scores, ids = ann.search(vector, k)
        scores, ids = scores[0], ids[0]
        keep = ids >= 0
        ids = ids[keep]
        # Hubness correction: a chunk close to every question counts for less (see hubness.py).
        beta = float(self.manifest.encoder.get("hubness_beta") or 0.0)
        corrected = scores[keep] - beta * self._stored.dense.priors[ids]
        out = np.full(len(self.terms), -np.inf, dtype=np.float32)
        np.maximum.at(out, self._chunk_terms[ids], corrected)
        out[np.isneginf(out)] = np.nan
        return out

    def lexical_scores(self, query: str) -> np.ndarray:
        """TF-IDF cosine per term."""
        return self._stored.lexical.scores(query)

    def _truncate(self, query: str, notices: list[str], dense: bool) -> str:
        """The longest prefix of `query` that fits the encoder's window (a notice when cut)."""
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
        return text

    def _signals(self, query: str, mode: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(ranking score, dense scores, lexical scores) per term; -inf where a term is not a candidate."""
        dense = self.dense_scores(query) if mode != "tfidf" else None
        lexical = self.lexical_scores(query) if mode != "dense" else None
        if mode == "dense":
            assert dense is not None
            return np.where(np.isnan(dense), -np.inf, dense), dense, None
        if mode == "tfidf":
            assert lexical is not None
            return np.where(lexical > 0, lexical, -np.inf), None, lexical
        assert dense is not None and lexical is not None
        return fuse(dense, lexical), dense, lexical

    def _confident(self, top: int | None, named: bool, dense: np.ndarray | None, lexical: np.ndarray | None) -> bool:
        """Whether the best hit is a real answer, not merely the nearest thing (see LEXICAL_SUPPORT)."""
        if top is None:
            return False
        if named:
            return True
        lexical_min = LEXICAL_SUPPORT if dense is not None else TFIDF_CONFIDENT_MIN
        if lexical is not None and lexical[top] >= lexical_min:
            return True
        if dense is None:
            return False
        dense_min = self.manifest.encoder.get("confident_min")
        return dense_min is None or bool(dense[top] >= float(dense_min))

    def query(self, question: str, k: int = 5, mode: str | None = None, related: bool = False) -> Answer:
        """Answer a question: the top `k` terms in `mode` (default: the best measured mode).

        With `related`, each hit also lists up to 3 related terms (see `Index.related`).
        """
        mode = mode or DEFAULT_MODE
        if mode not in MODES:
            raise QueryError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if k < 1:
            raise QueryError("k must be at least 1")
        if not isinstance(question, str) or not question.strip():
            raise QueryError("the question is empty")
        cleaned = clean_query(question)
        notices: list[str] = []
        used = mode
        if mode != "tfidf":
            try:
                self.encoder  # noqa: B018 - load now so a failure falls back before scoring
            except EncoderError as error:
                used = "tfidf"
                notices.append(f"dense encoder unavailable ({error}); answering from TF-IDF")
                log.warning("dense encoder unavailable (%s); answering from TF-IDF", error)
        # From here on the question as searched: a 200,000-character question is cut once, here,
        # and never matched against names or snippets whole.
        text = self._truncate(cleaned, notices, dense=used != "tfidf")
        scores, dense, lexical = self._signals(text, used)
        named = self._names.tier(text)
        order = self._rank(scores, named)[:k]
        hits = [
            self._hit(rank, int(t), float(scores[t]), text, related, named=t in named)
            for rank, t in enumerate(order, start=1)
        ]
        top = order[0] if order else None
        confident = self._confident(top, top in named, dense, lexical)
        return Answer(question, text, used, hits, confident, tuple(notices))

    def search(self, question: str, k: int = 5, mode: str | None = None) -> list[Hit]:
        """The top `k` hits for a question (see `query` for how they were found)."""
        return self.query(question, k=k, mode=mode).hits

    def _rank(self, scores: np.ndarray, named: list[int]) -> list[int]:
        """Term positions best first: the terms the question names (see names.py), then by score
        (ties by position)."""
        ranked = [int(t) for t in np.lexsort((np.arange(len(scores)), -scores)) if np.isfinite(scores[t])]
        tier = sorted(named, key=lambda t: -scores[t] if np.isfinite(scores[t]) else np.inf)
        first = set(tier)
        return tier + [t for t in ranked if t not in first]

    def source_path(self, term: Term) -> str:
        """The absolute path of the file a term came from, when it is still there ("" otherwise)."""
        roots = self.manifest.roots
        for root, prefix in zip(roots, source_prefixes(roots), strict=True):
            base = Path(root)
            if not term.source.startswith(prefix):
                continue
            candidate = base / term.source[len(prefix) :] if base.is_dir() else base
            if candidate.is_file():
                return str(candidate)
        return ""

    def _hit(self, rank: int, position: int, score: float, query: str, related: bool, named: bool = False) -> Hit:
        term = self.terms[position]
        score = score if np.isfinite(score) else 0.0
        return Hit(
            rank,
            term.name,
            term.names,
            score,
            term.source,
            term.line,
            snippet(term.body, query, names=term.names),
            self.source_path(term),
            self.related(position) if related else (),
            self._stored.term_ids[position],
            named,
        )


def snippet(body: str, query: str, width: int = SNIPPET_CHARS, names: Sequence[str] = ()) -> str:
    """The body line that shares most features with the query (the first line when none does).

    Features of the term's own `names` do not count: every line of an entry is about its term, so a
    question that names it ("コーパスって何？") gets the definition, not the line that repeats the name.
    """
    lines = [line.strip(" \t-*") for line in body.split("\n") if line.strip(" \t-*$")]
    if not lines:
        return ""
    wanted = set(lexical_features(query)).difference(*(lexical_features(name) for name in names))
    # Ties go to the earliest line (by position: `lines.index` would make a long body quadratic).
    _, best = max(enumerate(lines), key=lambda item: (len(wanted & set(lexical_features(item[1]))), -item[0]))
    return best if len(best) <= width else best[: width - 1] + "…"


def load(index_dir: str | Path = "index", encoder: Encoder | None = None) -> Index:
    """Open an index directory built by `semsearch.build` or `semsearch build`."""
    return Index(read_index(Path(index_dir)), encoder)
