"""One run of `semsearch lint`: read the glossary's files, take its entries' vectors from the
index, choose the rules, run them, and leave out what the glossary accepts."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..building import BuildOptions
from ..chunking import MAX_CHUNKS, estimate_tokens
from ..corpus import MAX_FILE_BYTES, NO_HEADINGS, Skipped, Term, discover_files, parse_markdown, read_file
from ..errors import EncoderError, QueryError
from ..location import IndexLocation
from ..names import NameIndex
from ..opening import open_index
from ..search import EntryVectors, Index
from .config import LintConfig, glossary_config
from .findings import RULES, Finding, LintReport
from .meaning import HOMONYM, NEAR_DUPLICATE, Likeness, setup_of
from .rules import RULE_FUNCTIONS, Glossary, bilingual_share
from .sources import FileScan, scan_file

__all__ = ["lint", "check_rules"]

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def check_rules(rules: Iterable[str], what: str = "--rule") -> tuple[str, ...]:
    """Rule names as given, each checked (QueryError for one that is not a rule)."""
    out = []
    for rule in rules:
        if rule not in RULES:
            raise QueryError(f"unknown rule {rule!r} for {what}; the rules are {', '.join(RULES)}")
        out.append(rule)
    return tuple(out)


def lint(
    corpus: Paths | None = None,
    index: Index | str | os.PathLike[str] | IndexLocation | None = None,
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
    config: LintConfig | None = None,
    max_pieces: int | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    **build_options: Any,
) -> LintReport:
    """Lint the glossary in the folder(s) `corpus`: every finding of the rules chosen.

    `index`: an opened `Index`, or where the glossary's index is (built when missing, rebuilt when
    stale, as `ask` does; `build_options` go to that build). Without one, the rules that need the
    entries' vectors (near-duplicate, homonym by meaning, the cosines of duplicate) do not run, and
    the report's notes say so. `corpus` None: the folders the index was built from.

    `select`: only these rules (even those the settings turn off); else the settings' `select`, or
    every rule. `ignore`: rules not to run, besides the settings' own. `config`: the settings; None
    reads them from the glossary (config.py). `max_pieces`: the oversized rule's limit (default: the
    settings', else the --max-chunks the index was built with). Findings the glossary accepts
    (`<!-- semsearch: allow RULE -->`) are left out. Raises CorpusError when a corpus folder is
    missing, QueryError for an unknown rule, ConfigError for bad settings, and what opening the
    index raises.
    """
    started = time.perf_counter()
    select = check_rules(select) if select is not None else None
    ignore = check_rules(ignore, "--ignore")
    if isinstance(index, Index) or index is None:
        opened = index
    else:
        opened = open_index(corpus, index, BuildOptions(**build_options))
    if corpus is None:
        if opened is None:
            raise QueryError("lint needs a corpus folder, an index, or both")
        roots: list[str | os.PathLike[str]] = list(opened.manifest.roots)
    else:
        roots = [corpus] if isinstance(corpus, (str, os.PathLike)) else list(corpus)
    config = config if config is not None else glossary_config([os.fspath(r) for r in roots])
    terms, skipped, scans, files = _read(roots, config, max_file_bytes)
    glossary = Glossary(terms, NameIndex(terms).groups(), scans, skipped, config)
    chosen = list(select or config.select or RULES)
    explicit = set(select or config.select or ())
    dropped = set(ignore) | (set(config.ignore) - set(select or ()))
    rules = [rule for rule in RULES if rule in chosen and rule not in dropped]
    order = list(RULES)
    notes = [
        note for rule, note in sorted(_vectors(glossary, opened), key=lambda n: order.index(n[0])) if rule in rules
    ]
    _limits(glossary, opened, max_pieces)
    if "one-language" in rules and "one-language" not in explicit:
        share = bilingual_share(glossary)
        if share < config.min_bilingual:
            rules.remove("one-language")
            notes.append(
                f"one-language: off, {share:.0%} of the terms give Japanese and English (it is on from "
                f"{config.min_bilingual:.0%}; --rule one-language checks anyway)"
            )
    findings = [f for rule in rules for f in RULE_FUNCTIONS[rule](glossary) if not _accepted(f, scans)]
    return LintReport(
        tuple(findings),
        tuple(rules),
        tuple(notes),
        files=files,
        entries=len(terms),
        seconds=time.perf_counter() - started,
    )


def _read(
    roots: Sequence[str | os.PathLike[str]], config: LintConfig, max_file_bytes: int
) -> tuple[list[Term], list[Skipped], dict[str, FileScan], int]:
    """Every file as the index reads it: the entries, what is skipped, each file's scan."""
    found, skipped = discover_files(roots)
    skipped = list(skipped)
    terms: list[Term] = []
    scans: dict[str, FileScan] = {}
    for source, path in found:
        result = read_file(source, path, max_file_bytes)
        if isinstance(result, Skipped):
            skipped.append(result)
            continue
        file, text = result
        scans[source] = scan_file(source, file.path, text, config.max_name_width)
        file_terms, file_skipped = parse_markdown(text, source)
        terms.extend(file_terms)
        if not file_terms and not file_skipped:
            skipped.append(Skipped(source, NO_HEADINGS, path=file.path))
    return terms, skipped, scans, len(found)


def _vectors(glossary: Glossary, opened: Index | None) -> list[tuple[str, str]]:
    """Give the glossary its entries' stored vectors (in its entry order) and the lines in force;
    returns what the rules that need them do without, as (rule, note)."""
    config = glossary.config
    vectors = opened.scoring.entry_vectors() if opened is not None else None
    if vectors is None:
        why = "no index given" if opened is None else "the index keeps its vectors in its engine"
        return [
            ("near-duplicate", f"near-duplicate: off, {why}"),
            ("homonym", f"homonym: by names only, {why}"),
            ("duplicate", f"duplicate: without cosines, {why}"),
        ]
    assert opened is not None
    at = {(t.source, t.line, t.names): p for p, t in enumerate(opened.terms)}
    rows = np.array([at.get((t.source, t.line, t.names), -1) for t in glossary.terms], dtype=np.int64)
    present = rows >= 0

    def take(matrix: np.ndarray | None) -> np.ndarray | None:
        if matrix is None:
            return None
        out = matrix[np.where(present, rows, 0)] if len(matrix) else np.zeros((len(rows), 1), np.float32)
        out[~present] = 0.0
        return out

    dense = take(vectors.dense)
    assert dense is not None
    glossary.likeness = Likeness(EntryVectors(dense, take(vectors.whole), take(vectors.names)), present)
    setup = setup_of(opened.manifest, vectors)
    glossary.near_duplicate = (
        config.near_duplicate if config.near_duplicate is not None else NEAR_DUPLICATE.get(setup or "")
    )
    glossary.homonym = config.homonym if config.homonym is not None else HOMONYM.get(setup or "")
    encoder = opened.manifest.encoder.get("id", "?")
    notes = []
    if glossary.near_duplicate is None and setup == "e5":
        notes.append(
            (
                "near-duplicate",
                "near-duplicate: off, e5 alone tells siblings from one concept too poorly (docs/lint.md); "
                "build the index with the second encoder, or set near-duplicate.threshold",
            )
        )
    elif glossary.near_duplicate is None:
        notes.append(
            (
                "near-duplicate",
                f"near-duplicate: off, no line measured for the encoder {encoder}; set near-duplicate.threshold "
                "in the glossary's settings",
            )
        )
    if glossary.homonym is None:
        notes.append(
            (
                "homonym",
                f"homonym: by names only, no line measured for the encoder {encoder}; set homonym.threshold in "
                "the glossary's settings",
            )
        )
    return notes


def _limits(glossary: Glossary, opened: Index | None, max_pieces: int | None) -> None:
    """The oversized rule's limit and the token count the index's chunks were cut by."""
    chunking = opened.manifest.chunking if opened is not None else {}
    recorded = chunking.get("max_chunks")
    built = recorded if type(recorded) is int else MAX_CHUNKS
    limit = max_pieces or glossary.config.max_pieces or built
    glossary.max_pieces = limit
    glossary.limit_is_the_index = limit == built
    if type(chunking.get("max_tokens")) is int:
        glossary.max_tokens = chunking["max_tokens"]
    if opened is not None:
        glossary.count_tokens = _counter(opened)


def _counter(opened: Index) -> Callable[[str], int]:
    """The index's encoder's token count, its tokenizer loaded on first use (only a body longer than
    one piece needs it); the estimate when the encoder cannot be loaded."""
    counter: list[Callable[[str], int]] = []

    def count(text: str) -> int:
        if not counter:
            try:
                counter.append(opened.scoring.encoder.count_tokens)
            except EncoderError:
                counter.append(estimate_tokens)
        return counter[0](text)

    return count


def _accepted(finding: Finding, scans: dict[str, FileScan]) -> bool:
    """Whether an allow comment at one of the finding's places accepts its rule."""
    return any(
        (scan := scans.get(place.source)) is not None and scan.allowed(finding.rule, place.line)
        for place in finding.places
    )
