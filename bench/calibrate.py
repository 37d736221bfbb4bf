"""Fusion weights, score calibration and the estimates behind an answer's state, fitted on the dev halves.

    python -m bench.calibrate                       # dev halves: sweep, calibration, estimates to adopt
    python -m bench.calibrate --part heldout        # the same fits on the held-out halves (look once)
    python -m bench.calibrate --weights 0,0.1,0.2   # the second encoder's weights to sweep

For each glossary (the bundled one and, when present, the larger one at $SEMSEARCH_TECH_GLOSSARY or
../shared/corpora/tech-glossary) it builds an index with both encoders in --work, asks every question
of the glossary's query file and of the off-topic file of the part, keeps each side's raw score per
entry (`Index.scoring.side_scores`), and ranks them as `Index.query` does (the name tier first, one hit per
term, a term without a body after those with one). Then:

- the second encoder's weight in the hybrid ranking: R@1 and MRR@10 per glossary at each weight;
- per mode, the score calibration: a logistic regression of "the best hit is the gold entry" on the
  best hit's raw relevance (both glossaries, off-topic questions as wrong, named ones left out),
  printed as (center, slope): the constants search.py and the encoders' `calibration` hold;
- per mode, the two estimates of confidence.py and their lines, as the encoders' `estimate` holds
  them: `right` (the best hit is the gold entry; off-topic questions count as wrong) and `match`
  (the question is on-topic), logistic regressions over confidence.evidence's features, fitted on
  both glossaries' questions; the sure line where sure answers are right >= SURE_RIGHT on each
  glossary, the no-match line where at most ON_TOPIC_NONE of each glossary's on-topic questions fall
  under it. A cross-check fits them on one glossary and reports them on the other.

Everything printed is derived from the query files; nothing is written but the indexes in --work.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .common import BUNDLED, QUERIES, TECH, log

# The share of sure answers that must be right on each glossary's dev half, and the share of its
# on-topic questions that may be answered "no match". Sure answers right 95% is the promise; the
# line is drawn at 97% because a fit on one glossary kept 95% on the other only from there
# (the cross-check this program prints; docs/ranking.md).
SURE_RIGHT = 0.97
ON_TOPIC_NONE = 0.04
# The inverse L2 penalty of the logistic fits (on standardised features), and the ranking depth.
C = 1.0
DEPTH = 10

# The features each estimate weighs, per mode (confidence.FEATURES). "hybrid" is the ensemble's
# (an index with the second encoder's side); "hybrid-e5" an index without it (or in Qdrant).
RIGHT = {
    # The ensemble's hybrid margin is left out: beside the two sides' margins it weighed nothing
    # (docs/ranking.md).
    "hybrid": ("relevance", "dense_margin", "use_margin"),
    "hybrid-e5": ("relevance", "margin"),
    "dense": ("relevance", "margin"),
    "use": ("relevance", "margin"),
    "tfidf": ("relevance", "margin"),
}
MATCH = {
    "hybrid": ("relevance", "use"),
    "hybrid-e5": ("relevance",),
    "dense": ("relevance",),
    "use": ("relevance",),
    "tfidf": ("relevance",),
}


@dataclass
class Question:
    q: str
    kind: str
    gold: set[int]  # groups (terms) that answer it; empty: off-topic
    named: list[int]  # groups the name tier puts first, in order
    surely: bool  # the question surely names them (a name, a clear slip or sound of one: not a looser match)
    content: bool
    sides: dict[str, np.ndarray | None]


@dataclass
class Glossary:
    name: str
    groups: np.ndarray  # entry position -> group (term)
    bodied: np.ndarray  # group -> whether an entry of it has a body
    questions: list[Question]


def _load(name: str, corpus: Path, queries: Sequence[Path], work: Path) -> Glossary:
    import semsearch
    from semsearch.evaluation import read_queries
    from semsearch.text import normalize

    index = semsearch.build(corpus, index_dir=work / f"calibrate-{name}")
    groups = np.zeros(len(index.terms), dtype=np.int64)
    names_of = []
    bodied = []
    for group, members in enumerate(index.entries.entry_groups()):
        groups[members] = group
        names_of.append({normalize(n) for m in members for n in index.terms[m].names})
        bodied.append(any(index.terms[m].body.strip() for m in members))
    questions = []
    for path in queries:
        for query in read_queries(path):
            sides = index.scoring.side_scores(query.q)
            gold_names = {normalize(g) for g in query.gold}
            questions.append(
                Question(
                    query.q,
                    query.kind,
                    {g for g, names in enumerate(names_of) if names & gold_names},
                    list(dict.fromkeys(int(groups[t]) for t in sides["named"])),  # type: ignore[attr-defined]
                    bool(sides["surely"]),
                    bool(sides["content"]),
                    {key: sides[key] for key in ("dense", "use", "tfidf")},  # type: ignore[misc]
                )
            )
    return Glossary(name, groups, np.array(bodied), questions)


Relevance = Callable[[dict[str, Any]], np.ndarray]


def relevance(mode: str, use_weight: float | None = None) -> Relevance:
    """The mode's raw relevance per entry, as scoring.Scoring.scores computes it ("hybrid-e5": hybrid
    without the second encoder's side)."""
    from semsearch.search import USE_WEIGHT, fuse

    weight = 0.0 if mode == "hybrid-e5" else USE_WEIGHT if use_weight is None else use_weight

    def score(sides: dict[str, Any]) -> np.ndarray:
        dense, use, tfidf = sides["dense"], sides["use"], sides["tfidf"]
        if mode == "tfidf":
            return np.where(tfidf > 0, tfidf, -np.inf)
        if mode == "use":
            return use
        if mode == "dense":
            return np.where(np.isnan(dense), -np.inf, dense)
        return fuse(dense, tfidf, use=use if weight else None, use_weight=weight)

    return score


def evidence_sides(mode: str, sides: dict[str, Any]) -> dict[str, np.ndarray | None]:
    """The sides scoring.Scoring.scores reports for a mode (what confidence.evidence weighs)."""
    if mode == "hybrid":
        return {"dense": sides["dense"], "use": sides["use"]}
    if mode == "hybrid-e5":
        return {"dense": sides["dense"], "use": None}
    return {}


@dataclass
class Outcome:
    rank: int | None  # of the first gold term within DEPTH
    top: float  # raw relevance of the best hit (-inf: no hits)
    named: int  # how many terms the question surely names
    tiered: bool  # the name tier put a term first (surely or by a looser match: never "no match")
    right: bool  # the best hit is a gold term
    values: dict[str, float] | None  # confidence.evidence of the best hit (None: named or no hits)
    body: bool  # whether the best term has a body


def outcome(glossary: Glossary, question: Question, mode: str, score: Relevance) -> Outcome:
    from semsearch.confidence import by_term, evidence

    if not question.named and not question.content:
        return Outcome(None, -math.inf, 0, False, False, None, False)  # nothing to search: no hits
    terms = int(glossary.groups.max()) + 1
    by_group = by_term(score(question.sides), glossary.groups, terms)
    order = [int(g) for g in np.lexsort((np.arange(terms), -by_group)) if np.isfinite(by_group[g])]
    first = set(question.named)
    rest = [g for g in order if g not in first]
    ranked = question.named + [g for g in rest if glossary.bodied[g]] + [g for g in rest if not glossary.bodied[g]]
    rank = next((i + 1 for i, g in enumerate(ranked[:DEPTH]) if g in question.gold), None)
    if not ranked:
        return Outcome(None, -math.inf, 0, False, False, None, False)
    best = ranked[0]
    values = None
    if not question.surely:  # a term the name tier found by a looser match is judged like any best hit
        sides = {
            side: None if v is None else by_term(v, glossary.groups, terms)
            for side, v in evidence_sides(mode, question.sides).items()
        }
        values = evidence(by_group, sides, best)
    named = len(question.named) if question.surely else 0
    top = float(by_group[best])
    return Outcome(rank, top, named, bool(question.named), best in question.gold, values, bool(glossary.bodied[best]))


def logistic(x: np.ndarray, y: np.ndarray, c: float = C) -> tuple[np.ndarray, float]:
    """(weights, bias) of P(y) = 1 / (1 + exp(-(x @ weights + bias))), fitted by Newton's method
    on standardised features with an L2 penalty 1 / c on the weights (as scikit-learn's
    LogisticRegression(C=c) after a StandardScaler), returned for the raw features."""
    x = np.atleast_2d(np.asarray(x, dtype=float).T).T
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    X = np.column_stack([(x - mean) / scale, np.ones(len(x))])
    w = np.zeros(X.shape[1])
    penalty = np.diag([1.0 / c] * (X.shape[1] - 1) + [0.0])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        gradient = X.T @ (p - y) + penalty @ w
        hessian = (X * (p * (1 - p))[:, None]).T @ X + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    weights = w[:-1] / scale
    return weights, float(w[-1] - weights @ mean)


Rows = list[tuple[Question, Outcome]]


def _matrix(rows: Rows, features: Sequence[str]) -> np.ndarray:
    return np.array([[o.values[f] for f in features] for _, o in rows if o.values is not None])


def fit_judge(per: dict[str, Rows], mode: str) -> Any:
    """The mode's two estimates fitted on every glossary's questions, and their lines."""
    from semsearch.confidence import Judge, Logistic

    rows = [(q, o) for r in per.values() for q, o in r if o.values is not None]
    estimates = []
    for features, target in ((RIGHT[mode], lambda q, o: o.right), (MATCH[mode], lambda q, o: bool(q.gold))):
        weights, bias = logistic(_matrix(rows, features), np.array([float(target(q, o)) for q, o in rows]))
        estimates.append(
            Logistic(dict(zip(features, (round(float(w), 4) for w in weights), strict=True)), round(bias, 4))
        )
    right, match = estimates
    sure = max(_sure_line(r, right) for r in per.values())
    none = min(_none_line(r, match) for r in per.values())
    return Judge(right, match, math.floor(sure * 1e4) / 1e4, math.ceil(none * 1e4) / 1e4)


def _sure_line(rows: Rows, right: Any) -> float:
    """The lowest P(right) at which the sure answers of these questions are right >= SURE_RIGHT
    (a question naming one term is sure, and right)."""
    named = [o for q, o in rows if q.gold and o.named == 1]
    scored = sorted(
        ((right.probability(o.values), o.right and o.body) for q, o in rows if q.gold and o.values is not None),
        reverse=True,
    )
    line, hits = 1.0, sum(o.right for o in named)
    for n, (p, ok) in enumerate(scored, start=1):
        hits += ok
        if hits / (len(named) + n) >= SURE_RIGHT:
            line = p
    return line


def _none_line(rows: Rows, match: Any) -> float:
    """The P(match) under which at most ON_TOPIC_NONE of these on-topic questions fall."""
    on = [q for q, _ in rows if q.gold]
    # A question the name tier answered is never "no match": it does not draw the line.
    scored = sorted(match.probability(o.values) for q, o in rows if q.gold and o.values is not None and not o.tiered)
    allowed = math.floor(ON_TOPIC_NONE * len(on))
    return scored[allowed] if allowed < len(scored) else 0.0


def state_counts(rows: Rows, judge: Any) -> dict[str, int]:
    """How a judge answers these questions: on-topic sure (and right), possible, no match; off-topic
    sure, no match."""
    from semsearch.confidence import NO_MATCH, POSSIBLE, SURE

    counts = dict.fromkeys(("on", "sure", "sure_right", "on_none", "off", "off_sure", "off_none"), 0)
    for q, o in rows:
        if o.values is None:
            state = NO_MATCH if o.named == 0 else SURE if o.named == 1 else POSSIBLE
        else:
            state = judge.judge(o.values, has_body=o.body, named=o.tiered)[0]
        if q.gold:
            counts["on"] += 1
            counts["sure"] += state == SURE
            counts["sure_right"] += state == SURE and o.right
            counts["on_none"] += state == NO_MATCH
        else:
            counts["off"] += 1
            counts["off_sure"] += state == SURE
            counts["off_none"] += state == NO_MATCH
    return counts


def _states_line(c: dict[str, int]) -> str:
    return (
        f"sure {c['sure']}/{c['on']} ({c['sure'] / c['on']:.0%}), right {c['sure_right']}/{c['sure']} "
        f"({c['sure_right'] / max(1, c['sure']):.1%}); on-topic no match {c['on_none']}/{c['on']}; "
        f"off-topic no match {c['off_none']}/{c['off']} ({c['off_none'] / c['off']:.0%}), sure {c['off_sure']}"
    )


def measure(glossaries: Sequence[Glossary], mode: str, score: Relevance) -> dict[str, Any]:
    """Ranking, calibration and estimates of one relevance over every glossary."""
    per: dict[str, Rows] = {g.name: [(q, outcome(g, q, mode, score)) for q in g.questions] for g in glossaries}
    fit = [o for rows in per.values() for q, o in rows if not o.named and np.isfinite(o.top)]
    weights, bias = logistic(np.array([o.top for o in fit]), np.array([float(o.right) for o in fit]))
    slope = float(weights[0])
    out: dict[str, Any] = {"center": round(-bias / slope, 4), "slope": round(slope, 1)}
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
            "kinds": {k: (sum(v), len(v)) for k, v in sorted(kinds.items())},
        }
    if mode in RIGHT:
        judge = fit_judge(per, mode)
        out["judge"] = judge
        out["states"] = {name: state_counts(rows, judge) for name, rows in per.items()}
        if len(per) == 2:  # fitted on one glossary, judged on the other
            (a, rows_a), (b, rows_b) = per.items()
            out["cross"] = {
                f"{a} -> {b}": state_counts(rows_b, fit_judge({a: rows_a}, mode)),
                f"{b} -> {a}": state_counts(rows_a, fit_judge({b: rows_b}, mode)),
            }
    return out


def _ranking_line(label: str, m: dict[str, Any], names: Sequence[str]) -> str:
    parts = [f"{label:>12}"]
    parts += [f"{name}: R@1 {m[name]['r1']:.3f} MRR {m[name]['mrr']:.3f}" for name in names]
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
    from semsearch.search import LEXICAL_WEIGHT, USE_CAP, USE_WEIGHT

    print(f"# {args.part} halves; hybrid = dense + w x min(use, {USE_CAP}) + {LEXICAL_WEIGHT} x tfidf\n")
    print("## the second encoder's weight w")
    for weight in (float(w) for w in args.weights.split(",")):
        print(_ranking_line(f"w = {weight:g}", measure(glossaries, "sweep", relevance("hybrid", weight)), names))
    print(f"\n## per mode (w = {USE_WEIGHT:g}): calibration (center, slope), estimates, states")
    for mode in ("hybrid", "hybrid-e5", "dense", "use", "tfidf"):
        m = measure(glossaries, mode, relevance(mode))
        print(f'\n### {mode}\n"calibration": ({m["center"]:.4f}, {m["slope"]:.1f})')
        print(_ranking_line(mode, m, names))
        for name in names:
            kinds = ", ".join(f"{k} {a}/{n} ({a / n:.2f})" for k, (a, n) in m[name]["kinds"].items())
            print(f"{'':>12}  {name} R@1 by kind: {kinds}")
        print(f'"estimate": {json.dumps(m["judge"].to_spec())}')
        for name, counts in m["states"].items():
            print(f"{'':>12}  {name}: {_states_line(counts)}")
        for label, counts in m.get("cross", {}).items():
            print(f"{'':>12}  fitted {label}: {_states_line(counts)}")


if __name__ == "__main__":
    main()
