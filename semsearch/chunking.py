"""Term -> Chunk records. Pure functions: same terms and settings, same chunks.

Every chunk's text begins with all of its term's names, so a query naming the term matches any
piece of it. A body too long for the encoder's window is split at top-level bullet boundaries
(then at nested bullets, then at lines), and the pieces are packed greedily up to the window.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from .corpus import Term
from .text import is_cjk

__all__ = ["Chunk", "ChunkSettings", "chunk_terms", "term_ids", "estimate_tokens", "embed_text"]


@dataclass(frozen=True)
class ChunkSettings:
    """How terms are cut into chunks; recorded in the manifest (a change means re-chunking)."""

    max_tokens: int = 512
    names_chunk: bool = False  # one extra vector per term from its names alone
    version: int = 1

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A piece of a term that gets one vector."""

    id: str  # stable: "<term id>#<part>", part 0 is the names-only chunk when there is one
    term: int  # position of the term in the index's term list
    part: int
    text: str  # exactly the text the encoder embeds (before its passage prompt)
    sha256: str  # content hash of `text`: equal hash, reusable vector

    @property
    def is_names(self) -> bool:
        return self.id.endswith("#names")


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


def _pieces(body: str, budget: int, count: Callable[[str], int]) -> list[str]:
    """Split a body into pieces under `budget` tokens, preferring the largest structural units."""
    if count(body) <= budget:
        return [body] if body else []
    lines = body.split("\n")
    units: list[str] = []
    for block in _blocks(lines, _TOP_BULLET):
        text = "\n".join(block)
        if count(text) <= budget:
            units.append(text)
            continue
        for sub in _blocks(block, _ANY_BULLET):
            for line in sub:
                if count(line) <= budget:
                    units.append(line)
                else:  # a single over-long line: hard cut, by characters
                    step = max(1, budget // 2)
                    units.extend(line[i : i + step] for i in range(0, len(line), step))
    pieces: list[str] = []
    for unit in units:
        if pieces and count(pieces[-1] + "\n" + unit) <= budget:
            pieces[-1] += "\n" + unit
        else:
            pieces.append(unit)
    return pieces


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
) -> list[Chunk]:
    """Cut every term into chunks whose text starts with all its names."""
    chunks: list[Chunk] = []
    for position, (term, term_id) in enumerate(zip(terms, term_ids(terms), strict=True)):
        header = " | ".join(term.names)
        texts: list[tuple[str, str]] = []
        if settings.names_chunk:
            texts.append(("names", header))
        budget = max(16, settings.max_tokens - count_tokens(header) - 2)
        pieces = _pieces(embed_text(term.body), budget, count_tokens) or [""]
        texts.extend((str(i), f"{header}\n{piece}".rstrip()) for i, piece in enumerate(pieces))
        for part, (label, text) in enumerate(texts):
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            chunks.append(Chunk(f"{term_id}#{label}", position, part, text, digest))
    return chunks
