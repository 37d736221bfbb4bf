"""The README's examples: reading them, running them, and comparing what they print with what the
README shows, for what does not depend on float rounding (tests/test_readme.py, tests/drift.py).

An example's output is held to the README's text exactly, except:

- a shown score may differ by its mode's SCORE_TOLERANCE (tests/engine_noise.py: measured between
  engines and kernels), and a score bar follows its own score;
- in a ranked list (cards, a column of `compare`, the closest entries of "No match", a card's
  "related" names) two entries may trade places, and the last entry shown may trade with the
  first one left out, only when this machine ranks them within twice the tolerance of each other
  (each may have moved by the tolerance): the order of a wide gap is checked, a near-tie's is not.

Near-ties are judged on what ranks a list on this machine (`Local`: the raw relevance of every
term, and the cosine between two terms, from the index the examples run against, asked
in-process): the README does not show every score a list is ranked by, and the shown score is the
raw relevance through a calibration curve, flat at its ends, where a gap would look smaller than it is.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine_noise import NEIGHBOUR_TOLERANCE, RELEVANCE_TOLERANCE, SCORE_TOLERANCE

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CONSOLE_BLOCK = re.compile(r"```console\n(.*?)```", re.S)
CARD_HEAD = re.compile(r"^ ?(\d+)  (.+?)  ([█░]+) (\d+\.\d{3})(  name match)?$")
NO_MATCH = re.compile(r"^No match for “(.*)”\.(?: Did you mean: (.*?)\?)? Closest entries: (.*)\.$", re.S)
POSSIBLE = re.compile(r"^Possible matches for “(.*)” \(none of them sure\)[:;]")
STATE_CAPTION = re.compile(r"^ *state: (.*)$")
BAR_WIDTH = 10


def readme() -> str:
    return README.read_text(encoding="utf-8")


def sh_commands(text: str) -> list[str]:
    return [line for block in re.findall(r"```sh\n(.*?)```", text, re.S) for line in block.splitlines()]


def examples(text: str) -> list[tuple[str, str]]:
    """(command, expected output) for every `$ ` line of every console block."""
    found = []
    for block in CONSOLE_BLOCK.findall(text):
        command, output = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command:
                    found.append((command, "\n".join(output)))
                command, output = line[2:], []
            else:
                output.append(line)
        if command:
            found.append((command, "\n".join(output)))
    return found


def run_example(command: str, index_dir: Path) -> str:
    """The command's stdout, run by the shell against `index_dir` and the bundled glossary."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SEMSEARCH_INDEX": str(index_dir),
        "SEMSEARCH_CORPUS": str(ROOT / "corpus"),
        "COLUMNS": "100",
        "NO_COLOR": "1",
    }
    if "|" not in command.split("semsearch", 1)[1]:
        # What a terminal shows (without styles: a dumb one); piped into a command, what a pipe gets.
        env.update(TTY_COMPATIBLE="1", TERM="dumb", LINES="50")
    result = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    # 1: the answer is "no match" (as grep finding nothing), which the output says.
    assert result.returncode == 0 or (result.returncode == 1 and result.stdout.startswith("No match")), (
        command,
        result.returncode,
        result.stderr,
    )
    return "\n".join(line.rstrip() for line in result.stdout.rstrip("\n").splitlines())


# -- what an example asks ---------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    command: str  # "ask", "compare", "shell", "show", ...
    question: str
    mode: str


def _words(stage: str) -> list[str]:
    """A stage's words without the variables set before the command (`COLUMNS=120 semsearch ...`)
    and the shell comment after it."""
    words = shlex.split(stage, comments=True)
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        words.pop(0)
    return words


def parse_command(line: str) -> Example:
    """The semsearch subcommand, question and mode of a README example line."""
    from semsearch.modes import DEFAULT_MODE

    # `printf 'q\n' | semsearch shell`, `semsearch ask q --format tsv | cut -f1-3`: the stage that runs
    # semsearch, and the question the stage before it feeds in.
    stages = line.split("|")
    at = next(i for i, stage in enumerate(stages) if _words(stage)[:1] == ["semsearch"])
    piped = ""
    if at:
        words = shlex.split(stages[at - 1])
        piped = words[1].replace("\\n", "\n").strip() if len(words) > 1 else ""
    words = _words(stages[at])
    command = words[1]
    positional = [w for i, w in enumerate(words[2:], 2) if not w.startswith("-") and not words[i - 1].startswith("-")]
    mode = words[words.index("--mode") + 1] if "--mode" in words else DEFAULT_MODE
    # Unquoted words are one question, as `ask` joins them.
    return Example(command, piped or " ".join(positional), mode)


# -- this machine's scores, to judge near-ties ------------------------------------------------


@dataclass
class Local:
    """What ranks a list on this machine: `relevance(question, mode)`, every term's raw relevance
    by first name, and `similarity(term, other)`, the cosine `related` ranks neighbours by."""

    relevance: Callable[[str, str], dict[str, float]]
    similarity: Callable[[str, str], float]

    @classmethod
    def of(cls, index: Any) -> Local:
        """From an opened semsearch.Index (the one the examples run against)."""
        import numpy as np

        from semsearch.search import fuse

        cache: dict[tuple[str, str], dict[str, float]] = {}

        def relevance(question: str, mode: str) -> dict[str, float]:
            if (question, mode) not in cache:
                text = index.query(question, k=1, mode=mode).cleaned  # the question as searched
                if mode == "tfidf":
                    raw = index.scoring.lexical_scores(text)
                elif mode == "dense":
                    raw = index.scoring.dense_scores(text)
                else:
                    raw = fuse(index.scoring.dense_scores(text), index.scoring.lexical_scores(text))
                raw = np.nan_to_num(np.asarray(raw, dtype=float), nan=-1.0, neginf=-1.0)  # not a candidate
                by_name: dict[str, float] = {}
                for position, term in enumerate(index.terms):
                    best = max(
                        float(raw[m]) for m in index.entries.same_term(position)
                    )  # a term ranks by its best entry
                    by_name[term.name] = max(by_name.get(term.name, -1.0), best)
                cache[question, mode] = by_name
            return cache[question, mode]

        def similarity(term: str, other: str) -> float:
            found, near = index.entries.find(term), index.entries.find(other)
            return index.entries.similarity(found[0], near[0]) if found and near else -1.0  # -1: not a term here

        return cls(relevance, similarity)


# -- comparing ----------------------------------------------------------------------------------


def ranking_problems(
    what: str, expected: Sequence[str], actual: Sequence[str], score: Callable[[str], float], tolerance: float
) -> list[str]:
    """Where `actual` ranks differently from `expected` across a gap wider than 2 × tolerance."""
    problems = []
    if len(expected) != len(actual):
        return [f"{what}: {len(actual)} entries where the README shows {len(expected)}"]
    gap = 2 * tolerance
    position = {name: i for i, name in enumerate(actual)}
    common = [name for name in expected if name in position]
    for i, first in enumerate(common):
        for second in common[i + 1 :]:
            if position[first] > position[second] and abs(score(first) - score(second)) > gap:
                problems.append(
                    f"{what}: {second} ({score(second):.4f}) now ranks above {first} ({score(first):.4f}), "
                    f"a gap wider than {gap:.4f}"
                )
    gone = [name for name in expected if name not in position]
    new = [name for name in actual if name not in set(expected)]
    for name in gone:
        if not any(abs(score(name) - score(other)) <= gap for other in new):
            problems.append(f"{what}: {name} ({score(name):.4f}) is missing and no entry shown instead is within {gap}")
    return problems


@dataclass
class Card:
    rank: int
    names: str
    bar: str
    score: float
    named: bool
    details: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)

    @property
    def term(self) -> str:
        return self.names.split(" | ")[0]


def parse_cards(output: str) -> list[Card] | None:
    """The hit cards of `ask`/`shell` output (under the line of possible matches, when there is
    one: `answer_state` tells), or None if the output is not cards."""
    cards: list[Card] = []
    lines = output.splitlines()
    if lines and POSSIBLE.match(lines[0]):
        lines = lines[1:]
        while lines and not lines[0].strip():
            lines = lines[1:]
    for line in lines:
        head = CARD_HEAD.match(line)
        if head:
            rank, names, bar, score, named = head.groups()
            cards.append(Card(int(rank), names, bar, float(score), bool(named)))
        elif not cards:
            return None
        elif line.strip().startswith("related: "):
            cards[-1].related = line.strip()[len("related: ") :].split(", ")
        elif line.strip():
            cards[-1].details.append(line)
    return cards


def _card_problems(example: Example, expected: list[Card], actual: list[Card], local: Local) -> list[str]:
    tolerance = SCORE_TOLERANCE[example.mode]
    relevance = local.relevance(example.question, example.mode)
    problems = ranking_problems(
        "hits",
        [c.term for c in expected],
        [c.term for c in actual],
        lambda t: relevance.get(t, -1.0),
        RELEVANCE_TOLERANCE[example.mode],
    )
    if [c.rank for c in actual] != list(range(1, len(actual) + 1)):
        problems.append(f"ranks are not 1..{len(actual)}")
    shown = {c.term: c for c in actual}
    for want in expected:
        got = shown.get(want.term)
        if got is None:
            continue
        if abs(got.score - want.score) > tolerance:
            problems.append(f"{want.term}: score {got.score:.3f}, README {want.score:.3f} (tolerance {tolerance})")
        if len(got.bar) != BAR_WIDTH or got.bar.count("█") != max(0, min(BAR_WIDTH, round(got.score * BAR_WIDTH))):
            problems.append(f"{want.term}: the bar {got.bar} does not show {got.score:.3f}")
        for attribute in ("names", "named", "details"):
            now, before = getattr(got, attribute), getattr(want, attribute)
            if now != before:
                problems.append(f"{want.term}: {attribute} {now!r}, README {before!r}")
        problems += ranking_problems(
            f"related of {want.term}",
            want.related,
            got.related,
            lambda other, term=want.term: local.similarity(term, other),
            NEIGHBOUR_TOLERANCE,
        )
    return problems


def _frame(line: str) -> str:
    """A table line with its padding and rule lengths folded (a column's width follows its terms)."""
    return re.sub(r"([━─])\1+", r"\1", re.sub(r" +", " ", line))


def _table_problems(example: Example, expected: str, actual: str, local: Local) -> list[str]:
    def parse(output: str) -> tuple[list[str], list[str], dict[str, list[tuple[str, float]]]]:
        frame, modes, columns = [], [], {}
        for line in output.splitlines():
            if line.startswith("┃"):
                modes = [cell.strip() for cell in line.strip("┃").split("┃")][1::2]
                columns = {mode: [] for mode in modes}
            if line.startswith("│"):
                cells = [cell.strip() for cell in line.strip("│").split("│")]
                for mode, term, score in zip(modes, cells[1::2], cells[2::2], strict=True):
                    if term:
                        columns[mode].append((term, float(score)))
            elif STATE_CAPTION.match(line):  # each mode's state: its form is held, its values by tests of their own
                states = [part.split(" ", 1) for part in STATE_CAPTION.match(line)[1].split(", ")]
                frame.append("state: " + ", ".join(f"{mode} <{len(state) > 0}>" for mode, *state in states))
            else:
                frame.append(_frame(line))
        return frame, modes, columns

    frame_want, modes, want = parse(expected)
    frame_got, _, got = parse(actual)
    problems = [] if frame_got == frame_want else [f"the table's frame changed:\n{actual}"]
    for mode in modes:
        tolerance = SCORE_TOLERANCE[mode]
        relevance = local.relevance(example.question, mode)
        problems += ranking_problems(
            f"{mode} column",
            [t for t, _ in want[mode]],
            [t for t, _ in got.get(mode, [])],
            lambda t, relevance=relevance: relevance.get(t, -1.0),
            RELEVANCE_TOLERANCE[mode],
        )
        shown = dict(got.get(mode, []))
        for term, score in want[mode]:
            if term in shown and abs(shown[term] - score) > tolerance:
                problems.append(f"{mode} {term}: score {shown[term]:.3f}, README {score:.3f} (tolerance {tolerance})")
    return problems


def _tsv_problems(example: Example, expected: str, actual: str, local: Local) -> list[str]:
    """A `--format tsv` listing of hits: the header exact; the terms in an order that only a
    near-tie may change; each term's score within the tolerance and its other fields exact."""
    want_lines, got_lines = expected.splitlines(), actual.splitlines()
    header = want_lines[0].split("\t")
    if not got_lines or got_lines[0].split("\t") != header:
        return [f"the TSV header changed:\n{actual}"]
    if "term" not in header:
        return [] if actual == expected else [f"output changed:\n{actual}"]
    want = [dict(zip(header, line.split("\t"), strict=True)) for line in want_lines[1:]]
    if any(line.count("\t") != len(header) - 1 for line in got_lines[1:]):
        return [f"a TSV line has not {len(header)} fields:\n{actual}"]
    got = [dict(zip(header, line.split("\t"), strict=True)) for line in got_lines[1:]]
    relevance = local.relevance(example.question, example.mode)
    problems = ranking_problems(
        "rows",
        [row["term"] for row in want],
        [row["term"] for row in got],
        lambda t: relevance.get(t, -1.0),
        RELEVANCE_TOLERANCE[example.mode],
    )
    if "rank" in header and [row["rank"] for row in got] != [str(i) for i in range(1, len(got) + 1)]:
        problems.append(f"ranks are not 1..{len(got)}")
    shown = {row["term"]: row for row in got}
    tolerance = SCORE_TOLERANCE[example.mode]
    for row in want:
        now = shown.get(row["term"])
        if now is None:
            continue
        for column in header:
            if column == "score":
                if abs(float(now["score"]) - float(row["score"])) > tolerance:
                    problems.append(
                        f"{row['term']}: score {now['score']}, README {row['score']} (tolerance {tolerance})"
                    )
            elif column != "rank" and now[column] != row[column]:
                problems.append(f"{row['term']}: {column} {now[column]!r}, README {row[column]!r}")
    return problems


def example_problems(command: str, expected: str, actual: str, local: Local) -> list[str]:
    """How `actual` (this machine's output of a README example) differs from `expected` (the
    README's) beyond float rounding; [] when it shows the same thing."""
    example = parse_command(command)
    cards_want, cards_got = parse_cards(expected), parse_cards(actual)
    if cards_want is not None:
        if cards_got is None:
            return [f"cards expected, got:\n{actual}"]
        if bool(POSSIBLE.match(expected)) != bool(POSSIBLE.match(actual)):
            return [f"the answer's state changed (possible or sure), got:\n{actual}"]
        return _card_problems(example, cards_want, cards_got, local)
    if expected.startswith("┏"):
        return _table_problems(example, expected, actual, local)
    if "\t" in expected.split("\n", 1)[0]:
        return _tsv_problems(example, expected, actual, local)
    # The closest entries wrap where their order puts them: compare the message as one line.
    no_match_want = NO_MATCH.match(expected.replace("\n", " "))
    no_match_got = NO_MATCH.match(actual.replace("\n", " "))
    if no_match_want:
        if not no_match_got or no_match_got.group(1, 2) != no_match_want.group(1, 2):
            return [f"'No match for “{no_match_want[1]}”' expected, got:\n{actual}"]
        relevance = local.relevance(example.question, example.mode)
        return ranking_problems(
            "closest entries",
            [name.strip() for name in no_match_want[3].split(",")],
            [name.strip() for name in no_match_got[3].split(",")],
            lambda name: relevance.get(name, -1.0),
            RELEVANCE_TOLERANCE[example.mode],
        )
    return [] if actual == expected else [f"output changed:\n{actual}"]
