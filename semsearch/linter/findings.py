"""What `semsearch lint` reports: its rules, each finding as a record, and the report of one run."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RULES", "SEVERITY", "Place", "Finding", "LintReport"]

#: Every rule, in the order findings are listed, with what it finds (docs/lint.md has an example of each).
RULES: dict[str, str] = {
    "parse": "a heading or line that parses oddly, or a file that is not read",
    "broken-link": "a cross-reference (<a href>) whose target is not in the glossary",
    "duplicate": "one term written in several places whose bodies differ, or identical copies",
    "homonym": "one name shared by two concepts: their other names conflict, or their bodies are far apart",
    "near-duplicate": "two terms with different names whose entries mean the same",
    "empty": "an entry with no body",
    "short": "a body too short to be found by its meaning",
    "one-language": "a term named in one language only where most terms give Japanese and English",
    "oversized": "an entry cut at the --max-chunks limit, or a file skipped for its size",
}

#: "error": the glossary does not say what its author meant (the parser or a link fails); "warning":
#: what it says is worth a look.
SEVERITY: dict[str, str] = {rule: "error" if rule in ("parse", "broken-link") else "warning" for rule in RULES}


@dataclass(frozen=True)
class Place:
    """Where a finding is: a file (as the glossary lists it, and its absolute path), a line and a
    column (1-based), and what is there (an entry's names, its body's first line)."""

    source: str
    line: int
    col: int = 1
    path: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "line": self.line, "col": self.col, "path": self.path, "note": self.note}


@dataclass(frozen=True)
class Finding:
    """One thing a glossary's author should know: its rule, a one-line message, every place
    involved (the first is where it is reported), and the rule's figures (`data`: a cosine, a
    threshold, a count)."""

    rule: str
    message: str
    places: tuple[Place, ...]
    data: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def severity(self) -> str:
        return SEVERITY[self.rule]

    @property
    def place(self) -> Place:
        """Where the finding is reported (its first place)."""
        return self.places[0]

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "places": [place.to_dict() for place in self.places],
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class LintReport:
    """What one run found, in rule order, then file and line; iterating it gives the findings.

    `rules` are the rules that ran; `notes` say which did not, or ran with less, and why (one line
    each); `files` and `entries` count what was read.
    """

    findings: tuple[Finding, ...]
    rules: tuple[str, ...]
    notes: tuple[str, ...] = ()
    files: int = 0
    entries: int = 0
    seconds: float = 0.0

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def counts(self) -> dict[str, int]:
        """Findings per rule, for every rule that ran (in rule order)."""
        counts = dict.fromkeys(self.rules, 0)
        for finding in self.findings:
            counts[finding.rule] = counts.get(finding.rule, 0) + 1
        return counts

    def summary(self) -> str:
        """One line: how many findings of which rules, in what was read, and how long it took."""
        read = f"{self.files} file{'s' * (self.files != 1)}, {self.entries} entr{'ies' if self.entries != 1 else 'y'}"
        if not self.findings:
            return f"no findings in {read} ({self.seconds:.1f} s)"
        by_rule = ", ".join(f"{n} {rule}" for rule, n in self.counts().items() if n)
        total = len(self.findings)
        return f"{total} finding{'s' * (total != 1)} ({by_rule}) in {read} ({self.seconds:.1f} s)"

    def to_dict(self) -> dict[str, object]:
        return {
            "findings": [finding.to_dict() for finding in self.findings],
            "counts": self.counts(),
            "rules": list(self.rules),
            "notes": list(self.notes),
            "files": self.files,
            "entries": self.entries,
            "seconds": round(self.seconds, 3),
        }
