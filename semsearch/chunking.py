"""Term -> Chunk records. Pure functions: same terms and settings, same chunks.

Every chunk's text begins with its term's names, so a query naming the term matches any piece of
it. The names a chunk carries are bounded (a quarter of the window): a term with hundreds of
aliases would otherwise repeat a header longer than the window in every piece, leaving the body
invisible to the encoder (all its names still count for the name tier and TF-IDF). A body too long
for the window is split at top-level bullet boundaries (then at nested bullets, then at lines),
and the pieces are packed greedily up to the window, at most `max_chunks` of them per term: a
runaway entry (a whole book under one heading) is embedded only as far as its first pieces, with
a warning, instead of taking hours.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from .corpus import Term
from .text import is_cjk

__all__ = [
    "Chunk",
    "ChunkSettings",
    "chunk_terms",
    "whole_term_chunks",
    "term_ids",
    "estimate_tokens",
    "embed_text",
    "MAX_CHUNKS",
]

log = logging.getLogger(__name__)

#: Pieces embedded per term by default (`ChunkSettings.max_chunks`): 32 windows is a long article;
#: no entry of the glossaries here comes near it.
MAX_CHUNKS = 32
# Before it is split, a body is cut to this many characters per token of its allowance, so that a
# 50 MB entry is never tokenized whole. Prose and CJK text take far fewer characters per token,
# so the cut only ever falls in text beyond the pieces kept.
_CHARS_PER_TOKEN_BOUND = 8


@dataclass(frozen=True)
class ChunkSettings:
    """How terms are cut into chunks; recorded in the manifest (a change means re-chunking)."""

    max_tokens: int = 512
    max_chunks: int = MAX_CHUNKS  # per term; the rest of a longer body is not embedded
    version: int = 3  # bumped when the cutting rules change: indexes are then rebuilt

    def __post_init__(self) -> None:
        for name in ("max_tokens", "max_chunks"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"ChunkSettings.{name} must be a positive integer, not {value!r}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A piece of a term that gets one vector."""

    id: str  # stable: "<term id>#<part>"
    term_position: int  # its term's position in the index's term list
    part: int
    text: str  # exactly the text the encoder embeds (before its passage prompt)
    sha256: str  # content hash of `text`: equal hash, reusable vector


# Rough tokens for XLM-R style sentencepiece: CJK ~1 token per character, Latin ~1 per 3.5 chars.
def estimate_tokens(text: str) -> int:
    """A cheap upper-ish estimate of subword tokens when no tokenizer is at hand."""
    cjk = sum(1 for c in text if is_cjk(c))
    return cjk + (len(text) - cjk + 2) // 3 + 2


_TOP_BULLET = re.compile(r"^(?:[-*+]|\d+[.)])\s")
_ANY_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
_URL = re.compile(r"https?://\S+")
_EMPHASIS = re.compile(r"\*\*|__")
_BLANKS = re.compile(r"\n\s*\n+")


def embed_text(body: str) -> str:
    """The body as the encoder should see it: no URLs, no emphasis markers, no blank runs.

    URLs are long, carry no meaning for the encoder and eat the token window.
    """
    text = _URL.sub("", body)
    text = _EMPHASIS.sub("", text)
    return _BLANKS.sub("\n", text).strip()


def _blocks(lines: Sequence[str], starts: re.Pattern[str]) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in lines:
        if not blocks or starts.match(line):
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return blocks


def _units(block: list[str], budget: int, count: Callable[[str], int]) -> list[tuple[str, int]]:
    """A top-level block as (text, tokens) units under `budget`: whole, else by nested bullet,
    else by line, else an over-long line cut by characters."""
    text = "\n".join(block)
    tokens = count(text)
    if tokens <= budget:
        return [(text, tokens)]
    units: list[tuple[str, int]] = []
    for sub in _blocks(block, _ANY_BULLET):
        sub_text = "\n".join(sub)
        sub_tokens = count(sub_text) if len(sub) > 1 else None
        if sub_tokens is not None and sub_tokens <= budget:
            units.append((sub_text, sub_tokens))
            continue
        for line in sub:
            line_tokens = count(line)
            if line_tokens <= budget:
                units.append((line, line_tokens))
            else:
                step = max(1, budget // 2)
                units.extend((part, count(part)) for part in (line[i : i + step] for i in range(0, len(line), step)))
    return units


def _pieces(body: str, budget: int, count: Callable[[str], int], limit: int) -> tuple[list[str], bool]:
    """Split a body into pieces under `budget` tokens, preferring the largest structural units,
    packed greedily; at most `limit` pieces (and whether the body had more). Token counts add up
    per unit (each count includes the model's special tokens, so the sum over-estimates slightly):
    linear in the body, however long."""
    cap = limit * budget * _CHARS_PER_TOKEN_BOUND
    cut = len(body) > cap
    body = body[:cap]
    if count(body) <= budget:
        return ([body] if body else []), cut
    pieces: list[str] = []
    used = 0
    for block in _blocks(body.split("\n"), _TOP_BULLET):
        for text, tokens in _units(block, budget, count):
            if pieces and used + tokens <= budget:
                pieces[-1] += "\n" + text
                used += tokens
            elif len(pieces) == limit:
                return pieces, True
            else:
                pieces.append(text)
                used = tokens
    return pieces, cut


def _header(names: Sequence[str], limit: int, count: Callable[[str], int]) -> str:
    """The names a chunk starts with: as many as fit in `limit` tokens, in order (the first always,
    cut by characters when it alone is longer)."""
    header = names[0]
    if count(header) > limit:
        lo, hi = 1, len(header)
        while lo < hi:  # the longest prefix within the limit
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if count(header[:mid]) <= limit else (lo, mid - 1)
        return header[:lo]
    for name in names[1:]:
        longer = f"{header} | {name}"
        if count(longer) > limit:
            break
        header = longer
    return header


def term_ids(terms: Sequence[Term]) -> list[str]:
    """A stable id per term: "<source>::<first name>", with "~N" for a repeat inside one file."""
    seen: dict[str, int] = {}
    ids = []
    for term in terms:
        base = f"{term.source}::{term.name}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}~{seen[base]}")
    return ids


def chunk_terms(
    terms: Sequence[Term],
    settings: ChunkSettings = ChunkSettings(),
    count_tokens: Callable[[str], int] = estimate_tokens,
    warn: Callable[[str, str], None] | None = None,
) -> list[Chunk]:
    """Cut every term into chunks whose text starts with its names (as many as a quarter of the
    window holds). A term with more than `settings.max_chunks` pieces keeps its first ones, and
    a warning names it (`warn(message, source)`, by default logged)."""
    chunks: list[Chunk] = []
    for position, (term, term_id) in enumerate(zip(terms, term_ids(terms), strict=True)):
        header = _header(term.names, max(8, settings.max_tokens // 4), count_tokens)
        budget = max(16, settings.max_tokens - count_tokens(header) - 2)
        pieces, cut = _pieces(embed_text(term.body), budget, count_tokens, settings.max_chunks)
        if cut:
            message = (
                f"{term.source}:{term.line}: the entry {term.name!r} is too long: only its first "
                f"{settings.max_chunks} pieces are embedded (the rest is still searched by TF-IDF and "
                "shown in full; `semsearch build --max-chunks N` raises the limit)"
            )
            if warn is not None:
                warn(message, term.source)
            else:
                log.warning("%s", message)
        for part, piece in enumerate(pieces or [""]):
            text = f"{header}\n{piece}".rstrip()
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            chunks.append(Chunk(f"{term_id}#{part}", position, part, text, digest))
    return chunks


def whole_term_chunks(terms: Sequence[Term]) -> list[Chunk]:
    """The second encoder's pieces (encoders/use.py): per term, its whole entry ("names | ...",
    then the body) and its names alone. USE has no window, so nothing is split; a term scores by
    the better of the two, so a question that paraphrases a name is not drowned by a long body.
    Measured on the dev halves of bench/queries against the whole entry alone (docs/ranking.md)."""
    chunks: list[Chunk] = []
    for position, (term, term_id) in enumerate(zip(terms, term_ids(terms), strict=True)):
        header = " | ".join(term.names)
        for part, text in enumerate((f"{header}\n{embed_text(term.body)}".rstrip(), header)):
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            chunks.append(Chunk(f"{term_id}#w{part}", position, part, text, digest))
    return chunks
