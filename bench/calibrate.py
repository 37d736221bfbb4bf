"""Fusion weights, score calibration and the confident minimum, measured on the dev halves.

    python -m bench.calibrate                       # dev halves: sweep, then the constants to adopt
    python -m bench.calibrate --part heldout        # the same figures on the held-out halves (look once)
    python -m bench.calibrate --weights 0,0.1,0.2   # the second encoder's weights to sweep

For each glossary (the bundled one and, when present, the larger one at $SEMSEARCH_TECH_GLOSSARY or
../shared/corpora/tech-glossary) it builds an index with both encoders in --work, asks every question
of the glossary's query file and of the off-topic file of the part, keeps each side's raw score per
entry (`Index.side_scores`), and ranks them as `Index.query` does (the name tier first, one hit per
term). Then, for the hybrid ranking at each weight of the second encoder's side, and for each mode at
the weights in search.py:

- R@1 and MRR@10 per glossary;
- "confident from": the lowest raw relevance of the best hit at which at least 95% of each
  glossary's on-topic questions stay confident (the lower of the glossaries' values), and the share
  of off-topic questions rejected there;
- the calibration: a logistic regression of "the best hit is the gold entry" on the best hit's raw
  relevance (both glossaries' questions, off-topic ones as wrong, named ones left out), printed as
  (center, slope) with "confident from" on the calibrated scale: the constants search.py and the
  encoders' `calibration` hold.

Everything printed is derived from the query files; nothing is written but the indexes in --work.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .common import BUNDLED, QUERIES, TECH, log

# The share of on-topic questions that must stay confident, and the logistic fit's inverse L2 penalty.
ON_TOPIC_CONFIDENT = 0.95
C = 100.0
DEPTH = 10


@dataclass
class Question:
    q: str
    kind: str
    gold: set[int]  # groups (terms) that answer it; empty: off-topic
    named: list[int]  # groups the name tier puts first, in order
    content: bool
    sides: dict[str, np.ndarray | None]


@dataclass
class Glossary:
    name: str
    groups: np.ndarray  # entry position -> group (term)
    questions: list[Question]


def _load(name: str, corpus: Path, queries: Sequence[Path], work: Path) -> Glossary:
    import semsearch
    from semsearch.evaluation import read_queries
    from semsearch.text import normalize

    index = semsearch.build(corpus, index_dir=work / f"calibrate-{name}")
    groups = np.zeros(len(index.terms), dtype=np.int64)
    names_of = []
    for group, members in enumerate(index.entry_groups()):
        groups[members] = group
        names_of.append({normalize(n) for m in members for n in index.terms[m].names})
    questions = []
    for path in queries:
        for query in read_queries(path):
            sides = index.side_scores(query.q)
            gold_names = {normalize(g) for g in query.gold}
            questions.append(
                Question(
                    query.q,
                    query.kind,
                    {g for g, names in enumerate(names_of) if names & gold_names},
                    list(dict.fromkeys(int(groups[t]) for t in sides["named"])),  # type: ignore[attr-defined]
                    bool(sides["content"]),
                    {key: sides[key] for key in ("dense", "use", "tfidf")},  # type: ignore[misc]
                )
            )
    return Glossary(name, groups, questions)


Relevance = Callable[[dict[str, Any]], np.ndarray]


def relevance(mode: str, second_weight: float | None = None) -> Relevance:
    """The mode's raw relevance per entry, as search.Index._relevance computes it."""
    from semsearch.search import SECOND_WEIGHT, fuse

    weight = SECOND_WEIGHT if second_weight is None else second_weight

    def score(sides: dict[str, Any]) -> np.ndarray:
        dense, use, tfidf = sides["dense"], sides["use"], sides["tfidf"]
        if mode == "tfidf":
            return np.where(tfidf > 0, tfidf, -np.inf)
        if mode == "use":
            return use
        if mode == "dense":
            return np.where(np.isnan(dense), -np.inf, dense)
        return fuse(dense, tfidf, second=use if weight else None, second_weight=weight)

    return score


@dataclass
class Outcome:
    rank: int | None  # of the first gold term within DEPTH
    top: float  # raw relevance of the best hit (-inf: no hits)
    named: bool
    right: bool  # the best hit is a gold term


def outcome(glossary: Glossary, question: Question, score: Relevance) -> Outcome:
    if not question.named and not question.content:
        return Outcome(None, -math.inf, False, False)  # nothing to search: no hits
    raw = score(question.sides)
    by_group = np.full(int(glossary.groups.max()) + 1, -np.inf)
    np.maximum.at(by_group, glossary.groups, raw)
    order = [int(g) for g in np.lexsort((np.arange(len(by_group)), -by_group)) if np.isfinite(by_group[g])]
    first = set(question.named)
    ranked = question.named + [g for g in order if g not in first]
    rank = next((i + 1 for i, g in enumerate(ranked[:DEPTH]) if g in question.gold), None)
    top = float(by_group[ranked[0]]) if ranked else -math.inf
    return Outcome(rank, top, bool(question.named), bool(ranked) and ranked[0] in question.gold)


def confident_from(outcomes: Sequence[tuple[Question, Outcome]]) -> float:
    """The highest raw threshold keeping >= ON_TOPIC_CONFIDENT of on-topic questions confident."""
    on = [o for q, o in outcomes if q.gold]
    best = -math.inf
    for tau in sorted({o.top for o in on if np.isfinite(o.top)}):
        if sum(o.named or o.top >= tau for o in on) / len(on) >= ON_TOPIC_CONFIDENT:
            best = tau
    return best


def rates(outcomes: Sequence[tuple[Question, Outcome]], tau: float) -> tuple[int, int, int, int]:
    """(off-topic rejected, off-topic, on-topic confident, on-topic) at threshold tau."""
    on = [o for q, o in outcomes if q.gold]
    off = [o for q, o in outcomes if not q.gold]
    confident = lambda o: o.named or (np.isfinite(o.top) and o.top >= tau)  # noqa: E731
    return sum(not confident(o) for o in off), len(off), sum(confident(o) for o in on), len(on)


def logistic(x: np.ndarray, y: np.ndarray, c: float = C) -> tuple[float, float]:
    """(slope, intercept) of P(y) = 1 / (1 + exp(-(slope x + intercept))), L2 on the slope (1 / c),
    fitted by Newton's method (as scikit-learn's LogisticRegression(C=c) on one feature)."""
    w = np.zeros(2)
    X = np.column_stack([x, np.ones_like(x)])
    penalty = np.diag([1.0 / c, 0.0])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        gradient = X.T @ (p - y) + penalty @ w
        hessian = (X * (p * (1 - p))[:, None]).T @ X + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def measure(glossaries: Sequence[Glossary], score: Relevance) -> dict[str, Any]:
    """Ranking, confidence and the fitted calibration of one relevance over every glossary."""
    per: dict[str, list[tuple[Question, Outcome]]] = {
        g.name: [(q, outcome(g, q, score)) for q in g.questions] for g in glossaries
    }
    tau = min(confident_from(rows) for rows in per.values())
    fit = [o for rows in per.values() for q, o in rows if not o.named and np.isfinite(o.top)]
    slope, intercept = logistic(np.array([o.top for o in fit]), np.array([float(o.right) for o in fit]))
    # The constants as search.py holds them (center to 4 decimals, slope to 1), and "confident from"
    # rounded down on their scale, so that the question at the threshold stays confident.
    center, slope = round(-intercept / slope, 4), round(slope, 1)
    out: dict[str, Any] = {"center": center, "slope": slope, "raw_confident": tau}
    out["confident"] = math.floor(1000.0 / (1.0 + math.exp(-slope * (tau - center)))) / 1000.0
    for name, rows in per.items():
        on = [o for q, o in rows if q.gold]
        kinds: dict[str, list[bool]] = {}
        for q, o in rows:
            if q.gold:
                kinds.setdefault(q.kind, []).append(o.rank == 1)
        out[name] = {
            "n": len(on),
            "r1": sum(o.rank == 1 for o in on) / len(on),
            "mrr": sum(1 / o.rank for o in on if o.rank) / len(on),
            "rates": rates(rows, tau),
            "kinds": {k: (sum(v), len(v)) for k, v in sorted(kinds.items())},
        }
    return out


def _line(label: str, m: dict[str, Any], names: Sequence[str]) -> str:
    parts = [f"{label:>22}"]
    for name in names:
        g = m[name]
        rejected, off, confident, on = g["rates"]
        parts.append(
            f"{name}: R@1 {g['r1']:.3f} MRR {g['mrr']:.3f} off-topic rejected {rejected}/{off} "
            f"({rejected / off:.0%}) on-topic confident {confident}/{on}"
        )
    return "  ".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--part", default="dev", choices=("dev", "heldout"))
    parser.add_argument("--weights", default="0,0.1,0.15,0.2,0.25,0.3", help="second-encoder weights to sweep")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "semsearch-bench")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    offtopic = QUERIES / f"offtopic.{args.part}.jsonl"
    specs = [("bundled", BUNDLED, QUERIES / f"deep-learning.{args.part}.jsonl")]
    if TECH.is_dir():
        specs.append(("tech", TECH, QUERIES / f"tech-glossary.{args.part}.jsonl"))
    else:
        log(f"the larger glossary is not at {TECH}: the bundled one alone")
    glossaries = []
    for name, corpus, queries in specs:
        log(f"{name}: indexing {corpus} and asking {queries.name} + {offtopic.name}")
        glossaries.append(_load(name, corpus, [queries, offtopic], args.work))
    names = [g.name for g in glossaries]
    from semsearch.search import LEXICAL_WEIGHT, SECOND_CAP, SECOND_WEIGHT

    print(f"# {args.part} halves; hybrid = dense + w x min(use, {SECOND_CAP}) + {LEXICAL_WEIGHT} x tfidf\n")
    print("## the second encoder's weight w (confident from: the 95% on-topic threshold of each weight)")
    for weight in (float(w) for w in args.weights.split(",")):
        print(_line(f"w = {weight:g}", measure(glossaries, relevance("hybrid", weight)), names))
    print(f"\n## calibration per mode (w = {SECOND_WEIGHT:g}): (center, slope, confident from)")
    for mode in ("hybrid", "dense", "use", "tfidf"):
        m = measure(glossaries, relevance(mode))
        print(
            f'"{mode}": ({m["center"]:.4f}, {m["slope"]:.1f}, {m["confident"]:.3f})   raw from {m["raw_confident"]:.4f}'
        )
        print(_line(mode, m, names))
        for name in names:
            kinds = ", ".join(f"{k} {a}/{n} ({a / n:.2f})" for k, (a, n) in m[name]["kinds"].items())
            print(f"{'':>22}  {name} R@1 by kind: {kinds}")


if __name__ == "__main__":
    main()
