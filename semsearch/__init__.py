"""semsearch: semantic search over a Japanese/English technical glossary.

import semsearch
index = semsearch.open("corpus/", index="index/")   # built when missing, rebuilt when stale
index = semsearch.build("corpus/", index_dir="index/")
index = semsearch.load("index/")
hits = index.search("勾配消失とは", k=5)
report = semsearch.lint("corpus/", index="index/")
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import SemsearchError

# A library does not print: without this, Python's last-resort handler would write semsearch's
# warnings (skipped files, truncated questions) to stderr of any program that uses it.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "open",
    "build",
    "load",
    "evaluate",
    "lint",
    "Index",
    "Hit",
    "Answer",
    "BuildReport",
    "LintReport",
    "SemsearchError",
    "__version__",
]

if TYPE_CHECKING:
    from .building import build
    from .evaluation import evaluate
    from .linter import LintReport, lint
    from .opening import open
    from .reports import BuildReport
    from .search import Answer, Hit, Index, load

# The engine (numpy, FAISS) loads on first use, so `semsearch --help` does not pay for it.
_LAZY = {
    "open": "opening",
    "build": "building",
    "BuildReport": "reports",
    "load": "search",
    "Index": "search",
    "Hit": "search",
    "Answer": "search",
    "evaluate": "evaluation",
    "lint": "linter",
    "LintReport": "linter",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
