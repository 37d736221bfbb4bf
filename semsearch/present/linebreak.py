"""Where a line of mixed Japanese and English text may be broken, and greedy wrapping at those places.

A simplified form of the Unicode line-breaking algorithm (UAX #14) with the Japanese rules of JIS X
4051 (kinsoku shori), enough for glossary text on a terminal:

- a line may break after spaces, and between two characters when one of them is wide (kanji, kana,
  full-width forms): Japanese has no spaces; a katakana word (a loanword: ニューラルネットワーク) is
  kept whole unless it alone is wider than the line;
- never inside a run of narrow non-space characters: a Latin word, a number, `Full-batch`, `SGD`,
  `C++`, a path or a URL stays whole;
- never inside a URL, even one holding Japanese (`https://ja.wikipedia.org/wiki/過学習`);
- never before a character that may not start a line (`。`, `、`, `）`, `」`, `ー`, small kana, ...)
  nor after one that may not end a line (`（`, `「`, ...).

A piece that cannot be broken and is wider than the line gets a line of its own, whole (the
terminal shows the rest on the next row): a split URL or word is worse than a long line.

Standard library only; the caller passes the function that measures terminal cells.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

__all__ = ["NO_END", "NO_START", "break_points", "cell_width", "fold", "wrap"]

# May not start a line (行頭禁則): closing brackets and quotes, punctuation, iteration marks, the
# long-vowel mark, small kana, and the ellipses and dashes that belong to what precedes them.
NO_START = frozenset(
    ")]}）］｝〕〉》」』】〙〗〟’”｠»"
    "、。，．,.:;：；!?！？‼⁇⁈⁉・･"
    "ー…‥ヽヾゝゞ々〻゛゜―‐゠–〜～"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ"
    "%％‰℃°′″"
)
# May not end a line (行末禁則): opening brackets and quotes.
NO_END = frozenset("([{（［｛〔〈《「『【〘〖〝‘“｟«")

_URL = re.compile(r"(?:https?|file|ftp)://[^\s<>\"'`]+|www\.[^\s<>\"'`]+", re.IGNORECASE)
# A URL written in running text ends before the punctuation that follows it.
_URL_TRAILER = ".,;:!?。、，．：；！？)）]］」』】>"


def cell_width(text: str) -> int:
    """Terminal cells a string takes: 2 for wide and full-width characters, 0 for combining marks."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _URL.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in _URL_TRAILER:
            end -= 1
        spans.append((match.start(), end))
    return spans


def break_points(text: str, keep: Iterable[tuple[int, int]] = ()) -> list[int]:
    """The positions where a line may start, after the first: 0 < i < len(text), a break allowed
    before text[i]. Spaces before such a position end the previous line (and are dropped there).
    Nothing breaks inside a URL, nor inside the spans `keep` (start, end) the caller adds."""
    protected = [False] * (len(text) + 1)
    for start, end in [*_url_spans(text), *keep]:
        for i in range(start + 1, end):
            protected[i] = True
    points = []
    last_mark = ""  # the last character before the current run of spaces
    for i in range(1, len(text)):
        before, after = text[i - 1], text[i]
        if not before.isspace():
            last_mark = before
        if after.isspace() or protected[i]:
            continue
        if after in NO_START or last_mark in NO_END:
            continue  # also across spaces: "( x" and "x )" keep together
        if before.isspace():
            points.append(i)
            continue
        if not (_wide(before) or _wide(after)):
            continue  # inside a Latin word, a number, a path
        if before == after and before in "…‥―":
            continue  # "……" and "――" are one mark
        points.append(i)
    return points


def _katakana(char: str) -> bool:
    # Katakana and the long-vowel mark, not the middle dot (a separator: "ファイン・チューニング").
    return ("\u30a1" <= char <= "\u30fa" or char == "\u30fc" or "\uff66" <= char <= "\uff9f") and char != "\u30fb"


def _preferred(text: str, points: list[int], prefer: Iterable[tuple[int, int]] = ()) -> list[int]:
    """The break points outside katakana words and outside the spans `prefer`: a loanword
    (ニューラルネットワーク) or a term's name in a list is broken only when it is wider than a line."""
    inside = {i for start, end in prefer for i in range(start + 1, end)}
    return [p for p in points if not (_katakana(text[p - 1]) and _katakana(text[p])) and p not in inside]


def wrap(
    text: str,
    width: int,
    *,
    first_width: int | None = None,
    measure: Callable[[str], int] = cell_width,
    keep: Iterable[tuple[int, int]] = (),
    prefer: Iterable[tuple[int, int]] = (),
) -> list[tuple[int, int]]:
    """Greedy wrapping of one line of text: (start, end) of each line, in order. The first line has
    `first_width` cells (default `width`), the others `width`. Spaces where a line breaks are in
    neither line. The spans `keep` (start, end) are never broken; the spans `prefer` are kept whole
    as a katakana word is, unless one is wider than a line. A piece that cannot be broken and is
    wider than its line is a line of its own, whole."""
    if "\n" in text:
        raise ValueError("wrap takes one line; split paragraphs first")
    text_end = len(text.rstrip())
    if text_end == 0:
        return [(0, 0)]
    allowed = [p for p in break_points(text, keep) if p < text_end]
    bounds = [0, *_preferred(text, allowed, prefer), len(text)]
    # A piece wider than a line is cut where it may be (inside a katakana word or a preferred
    # span), else left whole; the first piece shares its line with the text's indent.
    indent = len(text) - len(text.lstrip(" "))
    pieces: list[tuple[int, int]] = []
    for piece_start, piece_stop in itertools.pairwise(bounds):
        room_here = width - (measure(text[:indent]) if piece_start == indent else 0)
        if measure(text[piece_start:piece_stop].rstrip()) > room_here:
            inner = [p for p in allowed if piece_start < p < piece_stop]
            pieces += itertools.pairwise([piece_start, *inner, piece_stop])
        else:
            pieces.append((piece_start, piece_stop))
    lines: list[tuple[int, int]] = []
    room = first_width if first_width is not None else width
    start = end = 0
    used = 0  # cells taken on the current line, its trailing spaces included
    for piece_start, piece_stop in pieces:
        piece = text[piece_start:piece_stop]
        content = piece.rstrip()
        if end > start and used + measure(content) > room:
            lines.append((start, end))
            start, used, room = piece_start, 0, width
        if not content:
            used += measure(piece)  # leading spaces take cells too
            continue
        end = piece_start + len(content)
        used += measure(piece)
    lines.append((start, end))
    return lines


def fold(
    plain: str,
    spans: Sequence[tuple[int, int]],
    first: int,
    rest: int,
    measure: Callable[[str], int] = cell_width,
) -> list[tuple[int, int]]:
    """`wrap`'s lines with every line wider than its room (an unbreakable piece: a path, a long
    name) cut at the room, after a "/", "-" or "_" in its second half where there is one; by
    cells, so a wide character is never halved. `first` is the first line's room, `rest` the others'."""
    folded: list[tuple[int, int]] = []
    for start, end in spans:
        room = first if not folded else rest
        while measure(plain[start:end]) > room and end - start > 1:
            cut, used = start, 0
            while cut < end and used + measure(plain[cut]) <= room:
                used += measure(plain[cut])
                cut += 1
            cut = max(cut, start + 1)
            # A path or a name is cut after a "/", "-" or "_" when one lies in the line's second half.
            joint = max(plain.rfind(mark, start, cut) for mark in "/-_") + 1
            if joint > start + (cut - start) // 2:
                cut = joint
            folded.append((start, cut))
            start, room = cut, rest
        folded.append((start, end))
    return folded
