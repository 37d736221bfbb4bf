"""The lines of `semsearch lint` on likeness, measured on the larger glossary (docs/lint.md).

    python -m bench.lint_thresholds                  # both setups: e5 with the USE side, and e5 alone
    python -m bench.lint_thresholds --work DIR       # the copies and indexes in DIR (default: the bench cache)

The larger glossary has a labelled set hidden in it: 59 names it writes in several files, each an
entry of one concept written twice. Two copies of it (in --work, never the glossary itself) turn
those into the cases the two lines are for:

- near-duplicate, "split": every term written in several files gets disjoint names in each place
  (its first entry keeps its Japanese names, the others their English ones, or the other way round):
  one concept under two names, the issue's example. A pair lint reports is right when it is such a
  split term; every other pair of the glossary counts as wrong (a few are near-duplicates the glossary
  already had; they are read by hand in the note). Printed: for each line, the pairs reported,
  precision and recall, and how many pairs the unchanged glossary would report.
- homonym by meaning, "shared": 60 pairs of unrelated single entries (seeded) get one heading, the
  first's: two concepts under one name whose names do not say so. Against them, the glossary's own
  entries of one name (one concept each). Printed: for each line, the share of each side reported.

Everything is measured by `semsearch.lint` itself (its likeness, its `kin` filter), so the numbers
are those of the shipped rule.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
from collections.abc import Sequence
from pathlib import Path

import semsearch
from semsearch.corpus import Term, read_corpus
from semsearch.linter import LintConfig, LintReport
from semsearch.names import NameIndex
from semsearch.text import is_cjk, name_key

from .common import TECH, log, table

NEAR_LINES = {
    "ensemble": (0.70, 0.72, 0.74, 0.75, 0.76, 0.77, 0.78, 0.80),
    "e5": (0.94, 0.95, 0.96, 0.965, 0.97, 0.975, 0.98),
}
HOMONYM_LINES = {"ensemble": (0.15, 0.2, 0.22, 0.24, 0.26, 0.28, 0.3), "e5": (0.85, 0.86, 0.87, 0.88, 0.89, 0.9)}
SHARED_PAIRS = 60
SEED = 27


def _terms(root: Path) -> list[Term]:
    return list(read_corpus([root], warn=lambda message, source: None).terms)


def _rewrite(root: Path, headings: dict[tuple[str, int], Sequence[str]]) -> None:
    """Give the entries at (source, line) new names, in the copy at `root`."""
    by_file: dict[str, dict[int, Sequence[str]]] = {}
    for (source, line), names in headings.items():
        by_file.setdefault(source, {})[line] = names
    for source, lines in by_file.items():
        path = root / source
        text = path.read_text(encoding="utf-8").split("\n")
        for line, names in lines.items():
            assert text[line - 1].startswith("## "), (source, line)
            text[line - 1] = "## " + " | ".join(names)
        path.write_text("\n".join(text), encoding="utf-8")


Places = dict[tuple[str, int], int]  # an entry's (source, line) -> its term in the copy


def split_copy(glossary: Path, into: Path) -> tuple[Places, set[frozenset[int]]]:
    """A copy whose terms written in several places have disjoint names in each: the term of each
    entry in the copy, and the pairs of terms so split (the near-duplicates to find)."""
    shutil.copytree(glossary, into)
    terms = _terms(glossary)
    groups = NameIndex(terms).groups()
    members: dict[int, list[int]] = {}
    for position, group in enumerate(groups):
        members.setdefault(group, []).append(position)

    def japanese(name: str) -> bool:
        return any(is_cjk(c) for c in name)

    headings: dict[tuple[str, int], Sequence[str]] = {}
    split: list[list[int]] = []
    for entries in members.values():
        if len(entries) < 2:
            continue
        first, rest = entries[0], entries[1:]
        for keep_japanese in (True, False):
            kept = [n for n in terms[first].names if japanese(n) == keep_japanese]
            keys = {name_key(n) for n in kept}
            others = {
                m: [n for n in terms[m].names if japanese(n) != keep_japanese and name_key(n) not in keys] for m in rest
            }
            if kept and all(others.values()):
                headings[(terms[first].source, terms[first].line)] = kept
                headings.update({(terms[m].source, terms[m].line): names for m, names in others.items()})
                split.append(entries)
                break
    _rewrite(into, headings)
    copy = _terms(into)
    after = NameIndex(copy).groups()
    places = {(term.source, term.line): after[p] for p, term in enumerate(copy)}
    pairs = {
        frozenset({after[a], after[b]}) for entries in split for a in entries for b in entries if after[a] != after[b]
    }
    return places, pairs


def shared_copy(glossary: Path, into: Path) -> set[frozenset[tuple[str, int]]]:
    """A copy where SHARED_PAIRS pairs of unrelated single entries share the first one's heading."""
    shutil.copytree(glossary, into)
    terms = _terms(glossary)
    groups = NameIndex(terms).groups()
    size: dict[int, int] = {}
    for group in groups:
        size[group] = size.get(group, 0) + 1
    single = [p for p, term in enumerate(terms) if size[groups[p]] == 1 and term.body.strip()]
    random.Random(SEED).shuffle(single)
    pairs = [(single[2 * i], single[2 * i + 1]) for i in range(SHARED_PAIRS)]
    _rewrite(into, {(terms[b].source, terms[b].line): terms[a].names for a, b in pairs})
    return {frozenset({(terms[a].source, terms[a].line), (terms[b].source, terms[b].line)}) for a, b in pairs}


def _pair(finding: semsearch.linter.Finding) -> frozenset[tuple[str, int]]:
    return frozenset((place.source, place.line) for place in finding.places[:2])


def _index(glossary: Path, work: Path, name: str, ensemble: bool) -> semsearch.Index:
    log(f"index of {glossary.name} ({name})")
    return semsearch.build(glossary, work / name, ensemble=ensemble)


def near_duplicate_table(
    report: LintReport, places: Places, split: set[frozenset[int]], real: LintReport, lines: Sequence[float]
) -> str:
    def terms(finding: semsearch.linter.Finding) -> frozenset[int]:
        return frozenset(places[(p.source, p.line)] for p in finding.places[:2])

    found = [(f.data["likeness"], terms(f) in split) for f in report if f.rule == "near-duplicate"]
    rows = []
    for line in lines:
        chosen = [right for score, right in found if score >= line]
        right = sum(chosen)
        on_real = sum(1 for f in real if f.rule == "near-duplicate" and f.data["likeness"] >= line)
        precision = f"{right / len(chosen):.2f}" if chosen else "-"
        rows.append([f"{line:g}", len(chosen), right, precision, f"{right / len(split):.2f}", on_real])
    kept = sum(right for _, right in found)
    note = f"{len(split)} split terms (pairs of terms to find); {kept} of them are not kin by their names\n\n"
    headers = [
        "line",
        "pairs reported",
        "split pairs among them",
        "precision",
        "recall",
        "pairs on the unchanged glossary",
    ]
    return note + table(headers, rows)


def homonym_table(
    shared: LintReport, positives: set[frozenset[tuple[str, int]]], real: LintReport, lines: Sequence[float]
) -> str:
    synthetic = [
        f.data["similarity"]
        for f in shared
        if f.rule == "homonym" and f.data.get("by") == "meaning" and _pair(f) in positives
    ]
    genuine = [f.data["similarity"] for f in real if f.rule == "homonym" and f.data.get("by") == "meaning"]
    rows = []
    for line in lines:
        rows.append(
            [
                f"{line:g}",
                f"{sum(s < line for s in synthetic)} of {len(synthetic)}",
                f"{sum(s < line for s in genuine)} of {len(genuine)}",
            ]
        )
    note = (
        f"lowest similarity of the glossary's own entries of one name: {min(genuine):.3f}; "
        f"of the shared headings: {min(synthetic):.3f} (median {sorted(synthetic)[len(synthetic) // 2]:.3f})\n\n"
    )
    return note + table(
        ["line", "shared headings reported (two concepts)", "the glossary's own pairs reported (one concept)"], rows
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="where to keep the copies and their indexes")
    parser.add_argument("--setup", choices=("ensemble", "e5", "both"), default="both")
    args = parser.parse_args(argv)
    if not TECH.is_dir():
        parser.error(f"the larger glossary is not at {TECH} (set $SEMSEARCH_TECH_GLOSSARY)")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    work = args.work or cache / "semsearch-bench" / "lint-thresholds"
    work.mkdir(parents=True, exist_ok=True)
    copies = work / "copies"
    shutil.rmtree(copies, ignore_errors=True)
    places, split = split_copy(TECH, copies / "split")
    shared = shared_copy(TECH, copies / "shared")
    setups = ("ensemble", "e5") if args.setup == "both" else (args.setup,)
    everything = LintConfig(near_duplicate=-1.0, homonym=1.0)
    for setup in setups:
        ensemble = setup == "ensemble"
        real = semsearch.lint(TECH, _index(TECH, work, f"tech-{setup}", ensemble), config=everything)
        on_split = semsearch.lint(
            copies / "split", _index(copies / "split", work, f"split-{setup}", ensemble), config=everything
        )
        on_shared = semsearch.lint(
            copies / "shared", _index(copies / "shared", work, f"shared-{setup}", ensemble), config=everything
        )
        print(f"\n### near-duplicate, {setup}\n")
        print(near_duplicate_table(on_split, places, split, real, NEAR_LINES[setup]))
        print("\npairs on the unchanged glossary, best first:\n")
        for f in real:
            if f.rule == "near-duplicate" and f.data["likeness"] >= min(NEAR_LINES[setup]):
                print(f"- {f.place.source}:{f.place.line}: {f.message}")
        print(f"\n### homonym by meaning, {setup}\n")
        print(homonym_table(on_shared, shared, real, HOMONYM_LINES[setup]))


if __name__ == "__main__":
    main()
