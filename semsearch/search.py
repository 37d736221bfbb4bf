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

import numpy as np

from .confidence import NO_MATCH, POSSIBLE, STATES, SURE, by_term, evidence
from .corpus import Term
from .encoders import Encoder
from .entries import Entries
from .errors import EncoderError, QueryError
from .limits import QUESTION_LIMIT
from .location import IndexLocation
from .manifest import Manifest
from .modes import DEFAULT_MODE, MODES, check_mode
from .reports import BuildReport, IndexDescription
from .scoring import LEXICAL_WEIGHT, TFIDF_CALIBRATION, USE_CAP, USE_WEIGHT, Scoring, calibrated, fuse
from .stores import EngineIndex, EntryVectors, Opened, open_store
from .stores.arrays import ArrayIndex
from .text import clean_query, has_content, lexical_features

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
    "calibrated",
    "LEXICAL_WEIGHT",
    "USE_WEIGHT",
    "USE_CAP",
    "TFIDF_CALIBRATION",
]

log = logging.getLogger(__name__)

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


class Index:
    """An opened semsearch index: ask it questions (`query`, `search`), read an entry (`term`), list
    them (`terms`), say what it is (`describe`).

    The index is an index directory read into memory and scored by NumPy, or a Qdrant store scored
    by its engine (stores/); either gives each side's scores per entry, and fusion, names, ranking,
    states, calibration and presentation are the same for both. `scoring` is how it scores
    (encoders, each side, calibration, estimates: scoring.py), `entries` how its entries group into
    terms and relate (entries.py). `build_report` is what the build that produced it did
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
        engine = stored if isinstance(stored, EngineIndex) else ArrayIndex(stored)
        self._build_report = build_report
        self._positions = {term_id: i for i, term_id in enumerate(stored.term_ids)}
        self.entries = Entries(engine)
        self.scoring = Scoring(engine, self.entries.names, encoder, use)

    @property
    def path(self) -> IndexLocation:
        """Where the index is: its directory, or the Qdrant store (location.py)."""
        return self._stored.path

    @property
    def manifest(self) -> Manifest:
        return self._stored.manifest

    @property
    def terms(self) -> list[Term]:
        """Every entry, in index order."""
        return self._stored.terms

    @property
    def modes(self) -> tuple[str, ...]:
        """The modes this index answers in without falling back (MODES less "use" without that side)."""
        return self.scoring.modes

    @property
    def build_report(self) -> BuildReport | None:
        """What the build that produced this index did; None when it was loaded as it was."""
        return self._build_report

    def term(self, hit: Hit | str) -> Term:
        """The full entry behind a hit (or a term id)."""
        return self.terms[self._positions[hit.id if isinstance(hit, Hit) else hit]]

    def describe(self, corpus: Sequence[str | os.PathLike[str]] | None = None) -> IndexDescription:
        """What this index is: where, built from what and with what, and whether it is stale for
        `corpus` (default: the folders it was built from)."""
        return IndexDescription.of(self.path, self.manifest, corpus)

    def __len__(self) -> int:
        return len(self._stored.terms)

    def __repr__(self) -> str:
        return f"Index({str(self.path)!r}, terms={len(self)}, chunks={self.manifest.counts.get('chunks', 0)})"

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

        With `related`, each hit also lists up to 3 related terms (see `Entries.related`). With
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
        if mode == "use" and self.scoring.use_encoder is None:
            used = "dense"
            notices.append(f"the second encoder is unavailable ({self.scoring.use_unavailable}); answering from dense")
            log.warning("%s", notices[-1])
        if used != "tfidf":
            try:
                self.scoring.encoder  # noqa: B018 - load now so a failure falls back before scoring
            except EncoderError as error:
                used = "tfidf"
                notices.append(f"dense encoder unavailable ({error}); answering from TF-IDF")
                log.warning("dense encoder unavailable (%s); answering from TF-IDF", error)
        # From here on the question as searched: a 200,000-character question is cut once, here,
        # and never matched against names or snippets whole.
        text = self.scoring.truncate(cleaned, notices, dense=used != "tfidf", cut=cut)
        named = self.entries.names.tier(text)
        if not named and not has_content(question if text == cleaned else text):
            # Punctuation, a lone framing word, one letter repeated: nothing to search for, and
            # whatever is nearest would be noise.
            notices.append(NOTHING_TO_SEARCH)
            return Answer(question, text, used, [], NO_MATCH, tuple(notices), 0.0)
        raw, sides = self.scoring.scores(text, used)
        scores = calibrated(raw, self.scoring.calibration(used))
        named_terms = {self.entries.group[t] for t in named}
        scores[[t for t in range(len(scores)) if self.entries.group[t] in named_terms]] = NAMED_SCORE
        order = self._one_per_term(self._rank(raw, named), raw)
        surely = bool(named) and self.entries.names.names_surely(text)
        state, probability = self._state(used, raw, sides, order, named_terms, surely)
        if probability is None and self.scoring.predates_states(used):
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
            self._hit(rank, shown, float(scores[best]), text, related, named=self.entries.group[best] in named_terms)
            for rank, (best, shown) in enumerate(order, start=1)
        ]
        slips = self.entries.near_names(text) if state != SURE else ()
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
        judge = self.scoring.judge(mode)
        if judge is None:
            return POSSIBLE, None
        terms = len(self.entries)
        group = np.asarray(self.entries.group)
        best = self.entries.group[order[0][0]]
        values = evidence(
            by_term(raw, group, terms),
            {side: None if v is None else by_term(v, group, terms) for side, v in sides.items()},
            best,
        )
        state, right, _ = judge.judge(values, has_body=self.entries.has_body(best), named=bool(named_terms))
        return state, right

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
        bodied = [t for t in rest if self.entries.has_body(self.entries.group[t])]
        return tier + bodied + [t for t in rest if not self.entries.has_body(self.entries.group[t])]

    def _one_per_term(self, ranked: list[int], scores: np.ndarray) -> list[tuple[int, int]]:
        """One (best entry, shown entry) per term, in the order of each term's best entry. The term
        scores as its best entry; it is shown by that entry or, when its body is empty, by the term's
        best-scoring entry that has one (an empty entry never hides a full one)."""
        out: list[tuple[int, int]] = []
        seen: set[int] = set()
        for best in ranked:
            group = self.entries.group[best]
            if group in seen:
                continue
            seen.add(group)
            shown = best
            if not self.terms[best].body.strip():
                bodied = [m for m in self.entries.members(group) if self.terms[m].body.strip()]
                if bodied:
                    shown = max(bodied, key=lambda m: (np.nan_to_num(scores[m], nan=-np.inf), -m))
            out.append((best, shown))
        return out

    def _hit(self, rank: int, position: int, score: float, query: str, related: bool, named: bool = False) -> Hit:
        term = self.terms[position]
        score = score if np.isfinite(score) else 0.0
        return Hit(
            rank,
            term.name,
            self.entries.term_names(position),
            score,
            term.source,
            term.line,
            snippet(term.body, query, names=term.names),
            self.entries.source_path(term),
            self.entries.related(position) if related else (),
            self.entries.term_id(position),
            named,
            tuple(
                (self.terms[m].source, self.terms[m].line) for m in self.entries.same_term(position) if m != position
            ),
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
