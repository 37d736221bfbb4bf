"""What a question asks for, the same from every face: the output formats and the request record.

The command line, the thin client, the server, the shell and MCP all describe a question with a
`Request` and check it with `check_request` (limits: limits.py, modes: modes.py, formats: here).
Standard library only: the thin client imports it before anything heavy.
"""

from __future__ import annotations

import math

from .errors import QueryError
from .limits import K_MAX
from .modes import DEFAULT_MODE, check_mode

__all__ = [
    "CONSOLE_ENV",
    "DEFAULT_K",
    "FORMATS",
    "JSON_FORMATS",
    "THIN_PROTOCOL",
    "Request",
    "check_format",
    "check_k",
    "check_min_score",
]

#: What `ask --format` prints: a card per hit (text) or one of the machine formats.
FORMATS = ("text", "json", "jsonl", "tsv", "markdown", "grep")
#: The output formats whose errors are JSON objects too.
JSON_FORMATS = ("json", "jsonl")
DEFAULT_K = 5
#: The version of the thin client's exchange with a server (GET /cli/ask): serve/client.py sends it,
#: serve/http.py refuses another.
THIN_PROTOCOL = "2"
#: The environment variables rich reads to decide colours and width; the thin client sends these.
CONSOLE_ENV = ("TERM", "COLORTERM", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES")


def check_k(k: int, shown: object = None) -> int:
    """`k` when it is a whole number from 1 to K_MAX, else QueryError (naming `shown`, what the user
    wrote, when given)."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= K_MAX:
        raise QueryError(f"k must be a whole number from 1 to {K_MAX}, not {k if shown is None else shown!r}")
    return k


def check_min_score(min_score: float, shown: object = None) -> float:
    """`min_score` when it is a number from 0 to 1, else QueryError (naming `shown`, what the user
    wrote, when given)."""
    number = isinstance(min_score, int | float) and not isinstance(min_score, bool)
    if not number or math.isnan(min_score) or not 0 <= min_score <= 1:
        shown = min_score if shown is None else shown
        raise QueryError(f"min_score must be a number from 0 to 1, not {shown!r}")
    return float(min_score)


def check_format(fmt: str) -> str:
    """`fmt` when it is one of FORMATS, else QueryError."""
    if fmt not in FORMATS:
        raise QueryError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return fmt


class Request:
    """One question and how to answer it, checked on construction (a bad value is a QueryError), frozen.
    `min_score` None: the index's own. A plain class, not a dataclass: the thin client imports this
    module and `dataclasses` costs it ~30 ms."""

    __slots__ = ("format", "full", "k", "min_score", "mode", "question", "sure_only")
    question: str
    k: int
    mode: str
    min_score: float | None
    full: bool
    format: str
    sure_only: bool

    def __init__(
        self,
        question: str,
        k: int = DEFAULT_K,
        mode: str = DEFAULT_MODE,
        min_score: float | None = None,
        full: bool = False,
        format: str = "text",
        sure_only: bool = False,
    ) -> None:
        values = {
            "question": question,
            "k": check_k(k),
            "mode": check_mode(mode),
            "min_score": None if min_score is None else check_min_score(min_score),
            "full": full,
            "format": check_format(format),
            "sure_only": sure_only,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Request is frozen; cannot set {name}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Request) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "Request(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in self.__slots__)
