"""The rules of `semsearch lint`, each a function of the glossary as read (`Glossary`) that yields
findings. Which rules run, and the allow comments, are the caller's (linter/__init__.py)."""

from __future__ import annotations

import math
import posixpath
import re
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from ..chunking import ChunkSettings, chunk_terms, embed_text, estimate_tokens
from ..corpus import Skipped, Term, ref_names
from ..names import conflicting
from ..text import is_cjk, name_key
from .config import LintConfig
from .findings import Finding, Place
from .meaning import Likeness, kin
from .sources import FileScan

__all__ = ["Glossary", "RULE_FUNCTIONS", "bilingual_share", "language_of"]

# How much of a body's first line a finding quotes.
FIRST_LINE_CHARS = 60
# Rows of the likeness matrix computed at once (near-duplicate): memory stays at a few MB per block.
BLOCK = 512


@dataclass
class Glossary:
    """A glossary as `semsearch lint` reads it: its entries (in corpus order), the term each belongs
    to (`groups`, names.NameIndex.groups), its files as scanned, what was skipped, and the entries'
    likeness when the index holds their vectors."""

    terms: Sequence[Term]
    groups: list[int]
    scans: dict[str, FileScan]
    skipped: Sequence[Skipped]
    config: LintConfig
    likeness: Likeness | None = None
    near_duplicate: float | None = None  # the lines in force (the settings', else the measured ones)
    homonym: float | None = None
    max_pieces: int = 32
    limit_is_the_index: bool = True  # max_pieces is the --max-chunks the index was built with
    count_tokens: Callable[[str], int] = estimate_tokens
    max_tokens: int = 512
    members: dict[int, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for position, group in enumerate(self.groups):
            self.members.setdefault(group, []).append(position)

    def place(self, position: int, note: str | None = None, line: int | None = None, col: int = 1) -> Place:
        term = self.terms[position]
        scan = self.scans.get(term.source)
        path = scan.path if scan is not None else ""
        shown = " | ".join(term.names) if note is None else note
        return Place(term.source, term.line if line is None else line, col, path, shown)

    def label(self, position: int) -> str:
        return " | ".join(self.terms[position].names)


def first_line(body: str) -> str:
    """A body's first line with text, without its list marker, cut for a message."""
    for line in body.split("\n"):
        text = line.strip().lstrip("-*+").strip()
        if text:
            return text if len(text) <= FIRST_LINE_CHARS else text[: FIRST_LINE_CHARS - 1] + "…"
    return ""


def _same_body(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def language_of(names: Sequence[str]) -> set[str]:
    """The languages a term's names are in: "ja" (any Japanese character), "en" (Latin letters)."""
    out = set()
    for name in names:
        if any(is_cjk(c) for c in name):
            out.add("ja")
        elif any(c.isalpha() for c in name):
            out.add("en")
    return out


def bilingual_share(glossary: Glossary) -> float:
    """The share of the glossary's terms that have names in both Japanese and English."""
    groups = list(glossary.members.values())
    both = sum(
        1 for members in groups if language_of([n for m in members for n in glossary.terms[m].names]) == {"ja", "en"}
    )
    return both / len(groups) if groups else 0.0


# -- parse and oversized: what the reader of the files says ---------------------------------------


def parse(glossary: Glossary) -> Iterator[Finding]:
    for scan in glossary.scans.values():
        yield from scan.problems
    for skipped in glossary.skipped:
        if skipped.line is not None or skipped.reason.startswith("larger than"):
            continue  # a heading without names: its scan says it; a file too large: oversized
        read = glossary.scans.get(skipped.source)
        hint = ""
        if read is not None and read.commented_headings:
            lines = ", ".join(map(str, read.commented_headings[:3]))
            hint = (
                f" (its '## ' heading{'s' * (len(read.commented_headings) > 1)} at line {lines} inside an HTML comment)"
            )
        yield Finding(
            "parse",
            f"the file is not read: {skipped.reason}{hint}",
            (Place(skipped.source, 1, 1, skipped.path or (read.path if read else "")),),
            {"kind": "skipped-file", "reason": skipped.reason},
        )


def oversized(glossary: Glossary) -> Iterator[Finding]:
    for skipped in glossary.skipped:
        if skipped.line is None and skipped.reason.startswith("larger than"):
            yield Finding(
                "oversized",
                f"the file is not read: {skipped.reason}",
                (Place(skipped.source, 1, 1, skipped.path),),
                {"kind": "skipped-file", "reason": skipped.reason},
            )
    limit = glossary.max_pieces
    settings = ChunkSettings(max_tokens=glossary.max_tokens, max_chunks=limit)
    for position, term in enumerate(glossary.terms):
        # A body is cut only when it holds more than about limit/2 windows of tokens (greedy packing
        # leaves no two pieces that would fit in one); the estimate is within a factor of two of the
        # tokenizer's count, so a body estimated under a fifth of limit windows is never cut, and
        # the tokenizer (its load takes a while) is asked only about the others.
        if estimate_tokens(term.body) * 5 < limit * glossary.max_tokens:
            continue
        cut: list[str] = []

        def said(message: str, source: str, cut: list[str] = cut) -> None:
            cut.append(message)

        chunk_terms([term], settings, glossary.count_tokens, warn=said)
        if not cut:
            continue
        if glossary.limit_is_the_index:
            message = (
                f"{glossary.label(position)!r} is longer than {limit} pieces: only its first {limit} are embedded "
                "(found by meaning); split it into entries, or raise `semsearch build --max-chunks`"
            )
        else:
            message = f"{glossary.label(position)!r} is longer than {limit} pieces (oversized.max-pieces)"
        yield Finding("oversized", message, (glossary.place(position),), {"kind": "entry", "max_pieces": limit})


# -- each entry on its own ------------------------------------------------------------------------


def empty(glossary: Glossary) -> Iterator[Finding]:
    for position, term in enumerate(glossary.terms):
        if term.body.strip():
            continue
        others = [m for m in glossary.members[glossary.groups[position]] if glossary.terms[m].body.strip()]
        if others:
            other = glossary.terms[others[0]]
            advice = (
                f"the term has one at {other.source}:{other.line}: remove this heading, or write what this place adds"
            )
        else:
            advice = "it is found only by its names, and comes up for unrelated questions: write one, or remove it"
        yield Finding(
            "empty",
            f"{glossary.label(position)!r} has no body; {advice}",
            (glossary.place(position),),
            {"bodied_elsewhere": [f"{glossary.terms[m].source}:{glossary.terms[m].line}" for m in others]},
        )


def short(glossary: Glossary) -> Iterator[Finding]:
    least = glossary.config.short_tokens
    for position, term in enumerate(glossary.terms):
        text = "\n".join(line.strip().lstrip("-*+").strip() for line in embed_text(term.body).split("\n")).strip()
        if not text:
            continue  # empty: its own rule
        tokens = estimate_tokens(text)
        if tokens < least:
            yield Finding(
                "short",
                f"{glossary.label(position)!r} has a body of {len(text)} characters (about {tokens} tokens, under "
                f"{least}): too little to be found by its meaning; say what it is and what it is for",
                (glossary.place(position, first_line(term.body)),),
                {"tokens": tokens, "chars": len(text), "min_tokens": least},
            )


def as_written(name: str) -> bool:
    """A name kept as its makers write it in any language: one word with a capital inside, a digit
    or a dot (vLLM, PyTorch, gem5, XLNet, llama.cpp, INT8). Japanese text writes these as they are."""
    word = name.strip()
    return (
        bool(word)
        and not any(c.isspace() for c in word)
        and (any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word) or "." in word)
    )


def one_language(glossary: Glossary) -> Iterator[Finding]:
    share = bilingual_share(glossary)
    for members in glossary.members.values():
        names = [n for m in members for n in glossary.terms[m].names]
        languages = language_of(names)
        if len(languages) != 1 or (languages == {"en"} and all(map(as_written, names))):
            continue
        only = "English" if languages == {"en"} else "Japanese"
        missing = "Japanese" if only == "English" else "English"
        yield Finding(
            "one-language",
            f"{glossary.label(members[0])!r} is named in {only} only, while {share:.0%} of the terms give "
            f"Japanese and English: add its {missing} name",
            tuple(glossary.place(m) for m in members),
            {"language": "en" if only == "English" else "ja", "bilingual_share": round(share, 4)},
        )


# -- cross-references ------------------------------------------------------------------------------


def _published(glossary: Glossary) -> tuple[dict[str, str], list[str]]:
    """Where the glossary's files say they are published (their `<!-- 記事URL: -->` comments): each
    file's URL, and the folders those URLs share ("https://github.com/…/output/" for
    "…/output/ai/llm.md#" in ai/llm.md)."""
    urls: dict[str, str] = {}
    bases = set()
    for term in glossary.terms:
        if term.url:
            url = term.url.split("#", 1)[0]
            urls.setdefault(url, term.source)
            if url.endswith("/" + term.source):
                bases.add(url[: len(url) - len(term.source)])
    return urls, sorted(bases, key=len, reverse=True)


def _target_file(source: str, href: str, urls: dict[str, str], bases: Sequence[str]) -> str | None:
    """The glossary file a link points into ("" for the linking file itself), or None when it
    points outside the glossary (an article, a paper, an image)."""
    file_part = href.split("#", 1)[0]
    if not file_part:
        return ""
    if file_part in urls:
        return urls[file_part]
    for base in bases:
        if file_part.startswith(base):
            return file_part[len(base) :]
    if "://" in file_part or file_part.startswith(("mailto:", "//")) or not file_part.lower().endswith(".md"):
        return None
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), file_part))


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens
    ("過学習 | Overfitting" -> "過学習--overfitting")."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def broken_link(glossary: Glossary) -> Iterator[Finding]:
    urls, bases = _published(glossary)
    sources = {term.source for term in glossary.terms} | set(glossary.scans)
    by_key: dict[str, list[int]] = defaultdict(list)
    slugs: dict[str, set[str]] = defaultdict(set)  # a file's headings as GitHub anchors them
    for position, term in enumerate(glossary.terms):
        for name in term.names:
            by_key[name_key(name)].append(position)
        slugs[term.source].add(github_slug(" | ".join(term.names)))
    for position, term in enumerate(glossary.terms):
        scan = glossary.scans.get(term.source)
        links = scan.links_in(term.line) if scan is not None else []
        for line, col, href in links:
            target = _target_file(term.source, href, urls, bases)
            if target is None:
                continue
            target = target or term.source
            names = ref_names(href)
            where = glossary.place(position, href, line, col)
            if target not in sources:
                yield Finding(
                    "broken-link",
                    f"a link to {target!r}, which is not a file of the glossary",
                    (where,),
                    {"href": href, "file": target, "names": list(names)},
                )
                continue
            if not names or urllib.parse.unquote(href.partition("#")[2]).lower() in slugs[target]:
                continue
            found = {p for name in names for p in by_key.get(name_key(name), ())}
            if any(glossary.terms[p].source == target for p in found):
                continue
            shown = " | ".join(names)
            elsewhere = sorted({glossary.terms[p].source for p in found})
            hint = f"; it is in {', '.join(elsewhere)}" if elsewhere else ""
            yield Finding(
                "broken-link",
                f"a link to {shown!r} in {target}, which has no such entry{hint}",
                (where,),
                {"href": href, "file": target, "names": list(names), "found_in": elsewhere},
            )


# -- entries of one term, terms of one name, terms of one meaning ----------------------------------


def _cosines(glossary: Glossary, a: int, b: int) -> dict[str, float]:
    likeness = glossary.likeness
    if likeness is None or not (likeness.present[a] and likeness.present[b]):
        return {}
    return likeness.cosines(a, b)


def duplicate(glossary: Glossary) -> Iterator[Finding]:
    for members in glossary.members.values():
        bodied = [m for m in members if glossary.terms[m].body.strip()]
        if len(bodied) < 2:
            continue  # one body, and headings without one: the empty rule's
        pairs: list[dict[str, Any]] = []
        for a, b in combinations(bodied, 2):
            same = _same_body(glossary.terms[a].body, glossary.terms[b].body)
            pairs.append({"a": _where(glossary, a), "b": _where(glossary, b), "same": same, **_cosines(glossary, a, b)})
        label = glossary.label(bodied[0])
        n = len(bodied)
        distinct = len({" ".join(glossary.terms[m].body.split()) for m in bodied})
        if distinct == 1:
            message = f"{label!r} is written {n} times with the same body: keep one"
        else:
            cosines = [float(p["cosine"]) for p in pairs if not p["same"] and "cosine" in p]
            alike = f" (least alike: cosine {min(cosines):.3f})" if cosines else ""
            bodies = "different bodies" if distinct == n else f"{distinct} different bodies"
            message = f"{label!r} is written {n} times with {bodies}{alike}: merge them, or make them agree"
        places = tuple(glossary.place(m, first_line(glossary.terms[m].body)) for m in bodied)
        yield Finding(
            "duplicate",
            message,
            places,
            {
                "identical": distinct == 1,
                "bodies": distinct,
                "pairs": pairs,
            },
        )


def _where(glossary: Glossary, position: int) -> str:
    term = glossary.terms[position]
    return f"{term.source}:{term.line}"


def homonym(glossary: Glossary) -> Iterator[Finding]:
    # Two concepts by their names: entries of one name that names.NameIndex keeps apart.
    by_key: dict[str, list[int]] = defaultdict(list)
    for position, term in enumerate(glossary.terms):
        for name in term.names:
            if name_key(name):
                by_key[name_key(name)].append(position)
    seen: set[tuple[int, int]] = set()
    for key, positions in by_key.items():
        for a, b in combinations(positions, 2):
            ga, gb = glossary.groups[a], glossary.groups[b]
            if ga == gb or (min(ga, gb), max(ga, gb)) in seen:
                continue
            if not conflicting(glossary.terms[a].names, glossary.terms[b].names):
                continue
            seen.add((min(ga, gb), max(ga, gb)))
            name = next(n for n in glossary.terms[a].names if name_key(n) == key)
            own_a = _own(glossary.terms[a].names, glossary.terms[b].names)
            own_b = _own(glossary.terms[b].names, glossary.terms[a].names)
            yield Finding(
                "homonym",
                f"{name!r} names two concepts: {own_a!r} here and {own_b!r} at {_where(glossary, b)}; rename one, "
                "or accept it with <!-- semsearch: allow homonym -->",
                (glossary.place(a), glossary.place(b)),
                {"name": name, "by": "names", **_cosines(glossary, a, b)},
            )
    # Two concepts by their meaning: entries of one term whose bodies are far apart.
    line = glossary.homonym
    likeness = glossary.likeness
    if line is None or likeness is None:
        return
    for members in glossary.members.values():
        bodied = [m for m in members if glossary.terms[m].body.strip() and likeness.present[m]]
        for a, b in combinations(bodied, 2):
            apart = likeness.apart(a, b)
            if apart >= line:
                continue
            shared = next(
                (n for n in glossary.terms[a].names if name_key(n) in {name_key(m) for m in glossary.terms[b].names}),
                glossary.terms[a].name,
            )
            yield Finding(
                "homonym",
                f"{shared!r} at {_where(glossary, a)} and {_where(glossary, b)}: their bodies are far apart in "
                f"meaning (similarity {apart:.3f}, under {line:g}); two concepts under one name? Rename one, or "
                "make them agree",
                (
                    glossary.place(a, first_line(glossary.terms[a].body)),
                    glossary.place(b, first_line(glossary.terms[b].body)),
                ),
                {
                    "name": shared,
                    "by": "meaning",
                    "similarity": round(apart, 4),
                    "threshold": line,
                    **_cosines(glossary, a, b),
                },
            )


def _own(names: Sequence[str], others: Sequence[str]) -> str:
    keys = {name_key(n) for n in others}
    own = [n for n in names if name_key(n) not in keys]
    return " | ".join(own) or " | ".join(names)


def near_duplicate(glossary: Glossary) -> Iterator[Finding]:
    line = glossary.near_duplicate
    likeness = glossary.likeness
    if line is None or likeness is None:
        return
    terms = glossary.terms
    candidates = [p for p, term in enumerate(terms) if term.body.strip() and likeness.present[p]]
    groups = np.array(glossary.groups, dtype=np.int64)
    keys = [{name_key(n) for n in term.names} for term in terms]
    best: dict[tuple[int, int], tuple[float, int, int]] = {}
    for start in range(0, len(candidates), BLOCK):
        rows = candidates[start : start + BLOCK]
        scores = likeness.matrix(rows, candidates)
        for i, j in zip(*np.nonzero(scores >= line), strict=True):
            a, b = rows[int(i)], candidates[int(j)]
            if a >= b or groups[a] == groups[b] or keys[a] & keys[b]:
                continue  # each pair once; one term; one name (homonym's)
            pair = (int(min(groups[a], groups[b])), int(max(groups[a], groups[b])))
            score = float(scores[i, j])
            if score > best.get(pair, (-math.inf,))[0]:
                best[pair] = (score, a, b)
    found = []
    for score, a, b in best.values():
        names_a = [n for m in glossary.members[glossary.groups[a]] for n in terms[m].names]
        names_b = [n for m in glossary.members[glossary.groups[b]] for n in terms[m].names]
        if kin(names_a, names_b):
            continue
        found.append((score, a, b))
    for score, a, b in sorted(found, key=lambda item: -item[0]):
        yield Finding(
            "near-duplicate",
            f"{glossary.label(a)!r} and {glossary.label(b)!r} at {_where(glossary, b)} may be one concept under two "
            f"names (likeness {score:.3f}, line {line:g}): merge them, or say how they differ",
            (glossary.place(a, first_line(terms[a].body)), glossary.place(b, first_line(terms[b].body))),
            {"likeness": round(score, 4), "threshold": line, **_cosines(glossary, a, b)},
        )


RULE_FUNCTIONS: dict[str, Callable[[Glossary], Iterator[Finding]]] = {
    "parse": parse,
    "broken-link": broken_link,
    "duplicate": duplicate,
    "homonym": homonym,
    "near-duplicate": near_duplicate,
    "empty": empty,
    "short": short,
    "one-language": one_language,
    "oversized": oversized,
}
