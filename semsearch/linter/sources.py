"""A glossary file as its author wrote it: where each entry starts and ends, the `allow` comments
that accept findings, where its links are, and what parses oddly (the `parse` rule).

The structure is the parser's own (`corpus.markdown_lines`): what this module calls a heading is
exactly what becomes an entry.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field

from ..corpus import Line, heading_text, link_targets, markdown_lines, name_parts
from .findings import RULES, Finding, Place

__all__ = ["FileScan", "scan_file", "display_width", "ALLOW"]

#: An author's way to accept a finding: `<!-- semsearch: allow homonym -->` under an entry's heading
#: (or on it) accepts that rule's findings about the entry; before the first heading, about every
#: entry of the file. Several rules: `allow homonym, near-duplicate`.
ALLOW = re.compile(r"<!--\s*semsearch\s*:\s*allow\b(.*?)-->", re.S | re.I)
_SEPARATOR = re.compile(r"[|｜]")
# "##Name", "##　Name" (a full-width space): a heading to a reader, body text to the parser.
_NO_SPACE = re.compile(r"^#{1,2}(?=[^#\s]|\u3000)")
# " ## Name": an indented heading (CommonMark takes up to three spaces; the parser none).
_INDENTED = re.compile(r"^[ \t]+#{1,2}[ \t]+\S")
_DEEPER = re.compile(r"^#{3,6}[ \t]+\S")
_TABLE_ROW = re.compile(r"^\s*\|")
# A line of names before the first heading ("勾配消失問題 | Vanishing Gradient Problem"): two to
# four short parts, no sentence.
_NAME_LINE_PART_CHARS = 40


def display_width(text: str) -> int:
    """Columns a terminal gives the text: two for wide and full-width characters."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


@dataclass
class FileScan:
    """What `scan_file` found in one file."""

    source: str
    path: str
    ends: dict[int, int] = field(default_factory=dict)  # heading line of each entry -> its last line
    allows: dict[int | None, set[str]] = field(default_factory=dict)  # entry (None: the file) -> rules
    links: list[tuple[int, int, str]] = field(default_factory=list)  # (line, col, target)
    problems: list[Finding] = field(default_factory=list)  # parse findings
    commented_headings: list[int] = field(default_factory=list)  # `## ` lines inside HTML comments

    def entry_at(self, line: int) -> int | None:
        """The heading line of the entry that holds `line`, if any."""
        starts = sorted(self.ends)
        i = bisect_right(starts, line) - 1
        return starts[i] if i >= 0 and line <= self.ends[starts[i]] else None

    def allowed(self, rule: str, line: int) -> bool:
        """Whether the author accepted `rule`'s findings at `line` (about its entry, or the file)."""
        entry = self.entry_at(line)
        return rule in self.allows.get(None, set()) or (entry is not None and rule in self.allows.get(entry, set()))

    def links_in(self, heading_line: int) -> list[tuple[int, int, str]]:
        """The links of the entry whose heading is at `heading_line` (heading included)."""
        end = self.ends.get(heading_line, heading_line)
        return [link for link in self.links if heading_line <= link[0] <= end]


def scan_file(source: str, path: str, text: str, max_name_width: int) -> FileScan:
    """Read one file's structure, its allow comments, links and parse problems."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = markdown_lines(text)
    scan = FileScan(source, path)
    boundaries = [line.number for line in lines if line.level]
    for line in lines:
        if line.level == 2:
            later = [b for b in boundaries if b > line.number]
            scan.ends[line.number] = (later[0] if later else len(lines) + 1) - 1
    first = next((line.number for line in lines if line.level == 2), None)
    _allows(scan, text)
    _links(scan, lines)
    raw = text.split("\n")
    for line in lines:
        if line.level == 2:
            _heading(scan, line, max_name_width)
        elif not line.level and not line.code:
            _odd_line(scan, line, before_first=first is None or line.number < first)
        if not line.text.strip() and raw[line.number - 1].startswith("## "):
            scan.commented_headings.append(line.number)
    _first_names_line(scan, lines, first)
    return scan


def _place(scan: FileScan, line: int, col: int = 1, note: str = "") -> tuple[Place, ...]:
    return (Place(scan.source, line, col, scan.path, note),)


def _allows(scan: FileScan, text: str) -> None:
    for match in ALLOW.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        where = scan.entry_at(line)
        for rule in filter(None, re.split(r"[\s,]+", match.group(1).strip())):
            if rule in RULES:
                scan.allows.setdefault(where, set()).add(rule)
            else:
                col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
                scan.problems.append(
                    Finding(
                        "parse",
                        f"unknown rule {rule!r} in an allow comment; the rules are {', '.join(RULES)}",
                        _place(scan, line, col),
                        {"kind": "unknown-rule", "rule": rule},
                    )
                )


def _links(scan: FileScan, lines: list[Line]) -> None:
    blanked = "\n".join(line.text for line in lines)
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line.text) + 1)
    for offset, target in link_targets(blanked):
        number = bisect_right(starts, offset)
        scan.links.append((number, offset - starts[number - 1] + 1, target))


def _heading(scan: FileScan, line: Line, max_name_width: int) -> None:
    parts = name_parts(heading_text(line.heading))
    separators = [m.start() + 1 for m in _SEPARATOR.finditer(line.text)]
    if not any(parts):
        scan.problems.append(
            Finding(
                "parse",
                "the heading has no names: the entry is not read",
                _place(scan, line.number),
                {"kind": "no-names"},
            )
        )
        return
    for i, part in enumerate(parts):
        if part:
            width = display_width(part)
            if width > max_name_width:
                col = line.text.find(part) + 1 or 1
                scan.problems.append(
                    Finding(
                        "parse",
                        f"a name {width} columns wide, longer than a line ({max_name_width}): a sentence in "
                        f"the heading? ({_cut(part)})",
                        _place(scan, line.number, col),
                        {"kind": "long-name", "width": width, "max_width": max_name_width},
                    )
                )
            continue
        if i == 0:
            what, col, kind = "the heading starts with '|': its first name is empty", separators[0], "leading-separator"
        elif i == len(parts) - 1:
            what, col, kind = "the heading ends with '|': its last name is empty", separators[-1], "trailing-separator"
        else:
            what, col, kind = "an empty name between two '|'", separators[i - 1], "empty-name"
        scan.problems.append(Finding("parse", what, _place(scan, line.number, col), {"kind": kind}))


def _odd_line(scan: FileScan, line: Line, before_first: bool) -> None:
    text = line.text
    if _NO_SPACE.match(text):
        hashes = len(text) - len(text.lstrip("#"))
        space = " (a full-width space is not one)" if text[hashes : hashes + 1] == "\u3000" else ""
        where = "the text before the first heading" if before_first else "the body of the entry above"
        scan.problems.append(
            Finding(
                "parse",
                f"{_cut(text)!r} is not a heading: '{'#' * hashes}' needs a space after it{space}; it is "
                f"read as {where}",
                _place(scan, line.number),
                {"kind": "no-space"},
            )
        )
    elif _INDENTED.match(text):
        scan.problems.append(
            Finding(
                "parse",
                f"{_cut(text.strip())!r} is indented, so it is not read as a heading; start it at the line's beginning",
                _place(scan, line.number),
                {"kind": "indented-heading"},
            )
        )
    elif before_first and _DEEPER.match(text):
        scan.problems.append(
            Finding(
                "parse",
                f"text before the first '## ' heading looks like a term ({_cut(text)!r}); only '## ' starts an entry",
                _place(scan, line.number),
                {"kind": "before-first-heading"},
            )
        )


def _first_names_line(scan: FileScan, lines: list[Line], first: int | None) -> None:
    """A line of names before the first heading ("Dropout | ドロップアウト"), once per file."""
    reported = {problem.place.line for problem in scan.problems}
    for line in lines:
        if first is not None and line.number >= first:
            return
        if line.level or line.code or line.number in reported or _TABLE_ROW.match(line.text):
            continue
        parts = [p.strip() for p in _SEPARATOR.split(line.text.strip().strip("*"))]
        if 2 <= len(parts) <= 4 and all(0 < len(p) <= _NAME_LINE_PART_CHARS for p in parts):
            if any(c in p for p in parts for c in "。、.,:;"):
                continue  # a sentence with a bar in it, not a line of names
            scan.problems.append(
                Finding(
                    "parse",
                    f"text before the first '## ' heading looks like a term ({_cut(line.text.strip())!r}); write "
                    "it as a '## ' heading to make it one",
                    _place(scan, line.number),
                    {"kind": "before-first-heading"},
                )
            )
            return


def _cut(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
