"""Retrieval metrics over a labelled query file.

Query file: one JSON object per line, `{"q": "...", "gold": ["name", ...]}` plus optional `id`,
`lang`, `kind`. A hit is correct when any of its names equals any gold string after normalisation
(NFKC, trimmed, case-folded). Queries with an empty gold list are off-topic: they do not count in
the retrieval metrics; they measure whether the engine admits the glossary has nothing for them.
Every answer's state (sure, possible, no match: confidence.py) is counted: how many on-topic
questions are sure and how many of those are right, how many off-topic ones are answered "no
match" and how many "sure". A gold name that no entry has is an error (a typo would otherwise count
as a miss, silently).
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .confidence import NO_MATCH, POSSIBLE, SURE
from .errors import QueryError
from .modes import check_mode
from .search import Index
from .text import normalize

__all__ = [
    "LabelledQuery",
    "Metrics",
    "StateCounts",
    "Evaluation",
    "parse_queries",
    "read_queries",
    "evaluate",
    "check_gold",
    "rank_metrics",
]

DEPTH = 10


@dataclass(frozen=True)
class LabelledQuery:
    q: str
    gold: tuple[str, ...]
    id: str = ""
    lang: str = ""
    kind: str = ""

    @property
    def offtopic(self) -> bool:
        return not self.gold


@dataclass(frozen=True)
class Metrics:
    """Averages over n on-topic queries."""

    recall_at_1: float
    recall_at_5: float
    mrr_at_10: float
    ndcg_at_10: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "recall@1": round(self.recall_at_1, 4),
            "recall@5": round(self.recall_at_5, 4),
            "mrr@10": round(self.mrr_at_10, 4),
            "ndcg@10": round(self.ndcg_at_10, 4),
            "n": self.n,
        }


@dataclass(frozen=True)
class QueryResult:
    query: LabelledQuery
    ranked: tuple[str, ...]  # first names of the top hits
    relevant: tuple[bool, ...]  # per ranked hit
    n_relevant: int  # relevant terms in the whole index
    top_score: float
    state: str  # the answer's state (confidence.py)

    @property
    def confident(self) -> bool:
        return self.state == SURE

    @property
    def gold_rank(self) -> int | None:
        """1-based rank of the first relevant hit within the top DEPTH, else None."""
        return next((i + 1 for i, r in enumerate(self.relevant) if r), None)

    def miss(self) -> dict[str, Any]:
        """What `semsearch eval --misses` shows for an on-topic question not answered first (or an
        off-topic one answered "sure")."""
        q = self.query
        return {
            "id": q.id,
            "q": q.q,
            "gold": list(q.gold),
            "kind": q.kind,
            "rank": self.gold_rank,
            "state": self.state,
            "got": list(self.ranked[:3]),
        }


@dataclass(frozen=True)
class StateCounts:
    """How the answers' states fell: on-topic questions (and how many sure answers were right),
    off-topic ones."""

    ontopic: int = 0
    sure: int = 0
    sure_right: int = 0
    possible: int = 0
    no_match: int = 0
    offtopic: int = 0
    offtopic_sure: int = 0
    offtopic_possible: int = 0
    offtopic_no_match: int = 0

    @classmethod
    def of(cls, results: Iterable[QueryResult]) -> StateCounts:
        on = [r for r in results if not r.query.offtopic]
        off = [r for r in results if r.query.offtopic]
        return cls(
            len(on),
            sum(r.state == SURE for r in on),
            sum(r.state == SURE and r.gold_rank == 1 for r in on),
            sum(r.state == POSSIBLE for r in on),
            sum(r.state == NO_MATCH for r in on),
            len(off),
            sum(r.state == SURE for r in off),
            sum(r.state == POSSIBLE for r in off),
            sum(r.state == NO_MATCH for r in off),
        )

    def describe(self) -> str:
        """One line: on-topic questions sure (and right when sure), answered "no match"; off-topic
        ones answered "no match", answered "sure"."""

        def share(n: int, of: int) -> str:
            return f"{n}/{of} ({n / of:.0%})" if of else f"{n}/{of}"

        parts = []
        if self.ontopic:
            parts.append(
                f"on-topic: sure {share(self.sure, self.ontopic)}, "
                f"right when sure {share(self.sure_right, self.sure)}, no match {share(self.no_match, self.ontopic)}"
            )
        if self.offtopic:
            parts.append(
                f"off-topic: no match {share(self.offtopic_no_match, self.offtopic)}, "
                f"sure {share(self.offtopic_sure, self.offtopic)}"
            )
        return "; ".join(parts)

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, int]]) -> StateCounts:
        on, off = data["ontopic"], data["offtopic"]
        return cls(
            on["n"], on["sure"], on["sure_right"], on["possible"], on["no_match"],
            off["n"], off["sure"], off["possible"], off["no_match"],
        )  # fmt: skip

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {
            "ontopic": {
                "n": self.ontopic,
                "sure": self.sure,
                "sure_right": self.sure_right,
                "possible": self.possible,
                "no_match": self.no_match,
            },
            "offtopic": {
                "n": self.offtopic,
                "sure": self.offtopic_sure,
                "possible": self.offtopic_possible,
                "no_match": self.offtopic_no_match,
            },
        }


@dataclass(frozen=True)
class ModeResult:
    mode: str
    overall: Metrics
    by_lang: dict[str, Metrics]
    by_kind: dict[str, Metrics]
    results: tuple[QueryResult, ...]
    states: StateCounts

    @property
    def misses(self) -> list[QueryResult]:
        """On-topic questions whose gold entry is not first, and off-topic ones answered "sure"
        (the answers that break the promise of "sure"), in file order."""
        return [r for r in self.results if (r.gold_rank != 1 if not r.query.offtopic else r.state == SURE)]


@dataclass(frozen=True)
class Evaluation:
    modes: dict[str, ModeResult] = field(default_factory=dict)

    def to_dict(self, misses: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"modes": {}}
        for mode, result in self.modes.items():
            entry: dict[str, Any] = result.overall.to_dict()
            entry["by_lang"] = {k: v.to_dict() for k, v in result.by_lang.items()}
            entry["by_kind"] = {k: v.to_dict() for k, v in result.by_kind.items()}
            entry["states"] = result.states.to_dict()
            if misses:
                entry["misses"] = [r.miss() for r in result.misses]
            out["modes"][mode] = entry
        return out


def read_queries(path: str | os.PathLike[str]) -> list[LabelledQuery]:
    """Parse a query file. Raises QueryError naming the file and line of the first problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QueryError(f"query file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise QueryError(f"cannot read query file {path}: {error}") from None
    return parse_queries(text, str(path))


def parse_queries(text: str, name: str = "<stdin>") -> list[LabelledQuery]:
    """Parse the text of a query file (`name` in messages: a path, or "<stdin>"). Raises QueryError
    naming the line of the first problem."""
    path = name
    lines = text.splitlines()
    queries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise QueryError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        except RecursionError:
            raise QueryError(f"{path}:{number}: not valid JSON (nested too deeply)") from None
        if not isinstance(row, dict) or not isinstance(row.get("q"), str) or not row["q"].strip():
            raise QueryError(f'{path}:{number}: each line needs a non-empty "q" string')
        gold = row.get("gold", [])
        if isinstance(gold, str):
            gold = [gold]
        if not isinstance(gold, list) or not all(isinstance(g, str) for g in gold):
            raise QueryError(f'{path}:{number}: "gold" must be a list of names')
        queries.append(
            LabelledQuery(
                row["q"], tuple(gold), str(row.get("id", number)), str(row.get("lang", "")), str(row.get("kind", ""))
            )
        )
    if not queries:
        raise QueryError(f"query file {path} holds no queries")
    return queries


def rank_metrics(relevant: Sequence[bool], n_relevant: int, depth: int = DEPTH) -> tuple[float, float, float, float]:
    """(recall@1, recall@5, MRR@depth, nDCG@depth) of one ranked list with binary relevance.

    recall@k here is success@k: whether a relevant entry is among the first k.
    """
    relevant = list(relevant[:depth])
    first = next((i for i, r in enumerate(relevant) if r), None)
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(relevant) if r)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(max(n_relevant, 1), depth)))
    return (
        float(first == 0),
        float(first is not None and first < 5),
        1.0 / (first + 1) if first is not None else 0.0,
        dcg / ideal,
    )


def _average(results: Iterable[QueryResult]) -> Metrics:
    rows = [rank_metrics(r.relevant, r.n_relevant) for r in results]
    n = len(rows)
    if not n:
        return Metrics(0.0, 0.0, 0.0, 0.0, 0)
    r1, r5, mrr, ndcg = (sum(col) / n for col in zip(*rows, strict=True))
    return Metrics(r1, r5, mrr, ndcg, n)


def _group(results: Sequence[QueryResult], key: str) -> dict[str, Metrics]:
    groups: dict[str, list[QueryResult]] = defaultdict(list)
    for r in results:
        value = getattr(r.query, key)
        if value:
            groups[value].append(r)
    return {k: _average(v) for k, v in sorted(groups.items())}


# An error about unknown gold names lists this many.
UNKNOWN_LISTED = 20


def check_gold(index: Index, queries: Sequence[LabelledQuery]) -> None:
    """Raise QueryError listing the gold names no entry of `index` has (with the ids of the queries
    that use them)."""
    names = {normalize(name) for term in index.terms for name in term.names}
    unknown: dict[str, list[str]] = {}
    for query in queries:
        for gold in query.gold:
            if normalize(gold) not in names:
                unknown.setdefault(gold, []).append(query.id)
    if not unknown:
        return
    listed = [
        f"{name!r} ({'query' if len(ids) == 1 else 'queries'} {', '.join(ids[:5])}{', …' if len(ids) > 5 else ''})"
        for name, ids in list(unknown.items())[:UNKNOWN_LISTED]
    ]
    more = len(unknown) - UNKNOWN_LISTED
    raise QueryError(
        f"{len(unknown)} gold name{'s' if len(unknown) > 1 else ''} no entry has: {', '.join(listed)}"
        + (f", … ({more} more)" if more > 0 else "")
        + "; correct the query file (or the glossary)"
    )


def evaluate(
    index: Index,
    queries: Sequence[LabelledQuery] | str | os.PathLike[str],
    modes: Sequence[str] | str | None = None,
) -> Evaluation:
    """Run every query (a list, or a query file's path) in every mode (a list, or one mode's name;
    default: every mode the index answers in, `Index.modes`) and average the metrics. Raises QueryError
    when a gold name is not in the index (`check_gold`)."""
    if isinstance(queries, (str, os.PathLike)):
        queries = read_queries(queries)
    check_gold(index, queries)
    if isinstance(modes, str):  # evaluate(index, queries, "dense"), not the modes "d", "e", "n", ...
        modes = [modes]
    modes = list(dict.fromkeys(check_mode(mode) for mode in (index.modes if modes is None else modes)))
    # Entries sharing a name are one term (one hit): relevant terms are counted per term, not per entry.
    names_of = [{normalize(n) for m in group for n in index.terms[m].names} for group in index.entries.entry_groups()]
    out: dict[str, ModeResult] = {}
    by_mode: dict[str, list[QueryResult]] = {mode: [] for mode in modes}
    # Each question in every mode before the next question: the index keeps the last question's
    # vectors, so hybrid reuses what dense and use embedded (half the embedding of the other order).
    for query in queries:
        gold = {normalize(g) for g in query.gold}
        n_relevant = sum(1 for names in names_of if names & gold)
        for mode in modes:
            answer = index.query(query.q, k=DEPTH, mode=mode)
            relevant = tuple(bool({normalize(n) for n in h.names} & gold) for h in answer.hits)
            top = answer.hits[0].score if answer.hits else 0.0
            by_mode[mode].append(
                QueryResult(query, tuple(h.term for h in answer.hits), relevant, n_relevant, top, answer.state)
            )
    for mode, results in by_mode.items():
        ontopic = [r for r in results if not r.query.offtopic]
        out[mode] = ModeResult(
            mode,
            _average(ontopic),
            _group(ontopic, "lang"),
            _group(ontopic, "kind"),
            tuple(results),
            StateCounts.of(results),
        )
    return Evaluation(out)
