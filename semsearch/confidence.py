"""How sure an answer is: sure, possible, or no match.

Every answer gets one of three states, from two estimates over what the question's scores show
(`evidence`), each a logistic model fitted on the dev halves of bench/queries (bench/calibrate.py)
and recorded in the index's manifest with the encoder's spec, as the score calibration is:

    right   the probability that the best hit is the entry the question wants (off-topic
            questions count as wrong): its relevance, its margin to the second term, and how far
            ahead of every other term each side (e5, the second encoder) puts it;
    match   the probability that the glossary has an entry for the question at all (on-topic
            against off-topic questions): the best hit's relevance and the second encoder's score.

    sure      right >= the sure line, drawn so that sure answers were right >= 97% of the time on
              each glossary's dev half; or the question names exactly one term
    no match  match < the no-match line, drawn so that at most 4% of each dev half's on-topic
              questions fall under it; or the question holds nothing to search for
    possible  everything else: the best few are shown as possible matches, not as an answer

A term whose entries have no body is never a sure answer (it has nothing to say). An encoder
without estimates (a sentence-transformers model through --model) answers "possible" unless the
question names a term: its scores mean nothing measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "STATES",
    "SURE",
    "POSSIBLE",
    "NO_MATCH",
    "FEATURES",
    "Logistic",
    "Judge",
    "evidence",
    "by_term",
    "judge_for",
    "answered",
    "unanswered_notice",
]

SURE = "sure"
POSSIBLE = "possible"
NO_MATCH = "no_match"
#: Every state, best first.
STATES = (SURE, POSSIBLE, NO_MATCH)

#: What an estimate may weigh (see `evidence`).
FEATURES = ("relevance", "margin", "dense_margin", "use_margin", "use")

# A margin is counted on a log scale (a gap of 0.001 and one of 0.01 differ as much as 0.01 and
# 0.1 do), floored so that a tie is finite, and capped: a lone candidate is no surer than one far
# ahead of the next.
MARGIN_FLOOR = 1e-4
MARGIN_CAP = 0.2
# How far ahead (or behind) a side may put the best term, on its own cosine scale.
SIDE_MARGIN_CAP = 0.2


@dataclass(frozen=True)
class Logistic:
    """P = 1 / (1 + exp(-(bias + sum of weight x feature))), over named features."""

    weights: Mapping[str, float]
    bias: float

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.bias + sum(weight * values[name] for name, weight in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.weights)

    def to_spec(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "bias": self.bias}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Logistic:
        weights = {str(k): float(v) for k, v in dict(spec["weights"]).items()}
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}")
        return cls(weights, float(spec["bias"]))


@dataclass(frozen=True)
class Judge:
    """A mode's two estimates and the lines that turn them into a state."""

    right: Logistic
    match: Logistic
    sure: float  # the lowest `right` probability of a sure answer
    none: float  # `match` probabilities under this are "no match"

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.right.features + self.match.features))

    def judge(self, values: Mapping[str, float], *, has_body: bool = True) -> tuple[str, float, float]:
        """(state, P(right), P(match)) of an answer whose best hit shows `values` (`evidence`)."""
        right = self.right.probability(values)
        match = self.match.probability(values)
        if match < self.none:
            return NO_MATCH, right, match
        if right >= self.sure and has_body:
            return SURE, right, match
        return POSSIBLE, right, match

    def to_spec(self) -> dict[str, Any]:
        return {"right": self.right.to_spec(), "match": self.match.to_spec(), "sure": self.sure, "none": self.none}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Judge:
        return cls(
            Logistic.from_spec(spec["right"]),
            Logistic.from_spec(spec["match"]),
            float(spec["sure"]),
            float(spec["none"]),
        )


def by_term(scores: np.ndarray, group: np.ndarray, terms: int) -> np.ndarray:
    """Per-entry scores -> per-term (group) maxima; NaN counts as no score (-inf)."""
    out = np.full(terms, -np.inf)
    np.maximum.at(out, group, np.where(np.isnan(scores), -np.inf, scores))
    return out


def _ahead(scores: np.ndarray, best: int, cap: float) -> float:
    """How far `best` is ahead of every other term on one side (negative: behind), within +-cap."""
    own = scores[best]
    others = np.delete(scores, best)
    others = others[np.isfinite(others)]
    if not np.isfinite(own):
        return -cap
    if not len(others):
        return cap
    return float(np.clip(own - others.max(), -cap, cap))


def evidence(relevance: np.ndarray, sides: Mapping[str, np.ndarray | None], best: int) -> dict[str, float]:
    """What the scores of one question show about its best term (`best`, an index into the
    per-term arrays): its `relevance` (the mode's raw relevance), the log of its `margin` over the
    second term, how far ahead the dense side ("dense") and the second encoder ("use") put it
    (`dense_margin`, `use_margin`), and the second encoder's score of it (`use`). A side the
    index lacks gives nothing: an estimate that weighs it is not used for such an index."""
    values = {
        "relevance": float(relevance[best]),
        "margin": math.log(max(_ahead(relevance, best, MARGIN_CAP), MARGIN_FLOOR)),
    }
    for side, name in (("dense", "dense_margin"), ("use", "use_margin")):
        scores = sides.get(side)
        if scores is not None:
            values[name] = _ahead(scores, best, SIDE_MARGIN_CAP)
    use = sides.get("use")
    if use is not None and np.isfinite(use[best]):
        values["use"] = float(use[best])
    return values


def judge_for(spec: Mapping[str, Any] | None, mode: str, available: Sequence[str]) -> Judge | None:
    """The mode's judge recorded in an encoder spec (its "estimate" field), when it has one and the
    index shows every feature it weighs (`available`); else None."""
    estimates = (spec or {}).get("estimate") or {}
    recorded = estimates.get(mode)
    if not recorded:
        return None
    try:
        judge = Judge.from_spec(recorded)
    except (KeyError, TypeError, ValueError):
        return None
    return judge if set(judge.features) <= set(available) else None


def answered(state: str, sure_only: bool = False) -> bool:
    """Whether an answer in `state` counts as an answer (`ask` exits 0) or not (exit 1, as grep
    finding nothing): "no match" never does, "possible" does unless `sure_only`."""
    return state == SURE or (state == POSSIBLE and not sure_only)


#: A question is named in a notice up to this many characters.
NOTICE_CHARS = 80


def unanswered_notice(state: str, question: str, listed: bool = True) -> str:
    """What `ask` says on stderr when its answer does not count as one and its output (tsv, json,
    …) is not the text that says so; `listed`: whether it lists entries."""
    shown = question if len(question) <= NOTICE_CHARS else question[: NOTICE_CHARS - 1] + "…"
    if state == NO_MATCH:
        return f"no match for “{shown}”" + (" (the entries listed are the closest, not answers)" if listed else "")
    return f"no sure answer for “{shown}” (the entries listed are possible matches)"
