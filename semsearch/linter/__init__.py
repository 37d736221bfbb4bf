"""`semsearch lint`: what a glossary's authors need to know about their glossary.

    report = semsearch.lint("glossary/", index="index/")
    for finding in report:
        finding.rule, finding.message, finding.places[0].source, finding.places[0].line, finding.data

The files are read as the index reads them (corpus.py); the likeness of entries comes from the
vectors the index already holds (`Index.scoring.entry_vectors`), so a run takes about a second on the
larger glossary once its index is built. The modules: findings.py (the rules, the records),
config.py (the settings and where they are read from), sources.py (a file as its author wrote it:
entries, allow comments, links, what parses oddly), rules.py (each rule), meaning.py (likeness and
its lines), run.py (one run). The rules' names and the records load without the engine (numpy,
FAISS): `semsearch --help` lists the rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .findings import RULES, SEVERITY, Finding, LintReport, Place

__all__ = [
    "lint",
    "LintReport",
    "Finding",
    "Place",
    "LintConfig",
    "RULES",
    "SEVERITY",
    "read_config",
    "glossary_config",
    "check_rules",
]

if TYPE_CHECKING:
    from .config import LintConfig, glossary_config, read_config
    from .run import check_rules, lint

# Loaded on first use: the CLI imports the rules' names (findings.py) at start-up, and no more.
_LAZY = {
    "lint": "run",
    "check_rules": "run",
    "LintConfig": "config",
    "read_config": "config",
    "glossary_config": "config",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
