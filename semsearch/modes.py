"""The ranking modes, and the one check of a mode's name. Kept free of heavy imports: the CLI needs
them to parse options."""

from __future__ import annotations

from .errors import QueryError

__all__ = ["MODES", "DEFAULT_MODE", "check_mode"]

#: dense: the index's encoder (e5) alone; use: the second encoder (the Universal Sentence Encoder)
#: alone; tfidf: the lexical side alone; hybrid: all of them fused (scoring.fuse).
MODES = ("dense", "use", "tfidf", "hybrid")
#: The best measured mode (docs/ranking.md).
DEFAULT_MODE = "hybrid"


def check_mode(mode: str) -> str:
    """`mode` when it is one of MODES; else QueryError naming them."""
    if mode not in MODES:
        raise QueryError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    return mode
