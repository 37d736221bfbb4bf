"""`emit(data, format)`: a command's result in the format asked for, the one place that chooses.

json: the object itself, on one line of stdout; jsonl, tsv, markdown (and lint's grep): the text
formats.py makes of the same object; text: what the command's own `text()` prints (cards, tables:
render.py), or formats.py's text when the command has no view of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .console import emit_json, emit_text

__all__ = ["emit"]


def emit(
    data: Any, fmt: str, *, machine: str | None = None, text: Callable[[], None] | None = None, **options: Any
) -> None:
    """Print `data` as `fmt` asks: JSON itself; text by `text()` when given; the other formats (and
    text without `text`) by `formats.<machine>(data, fmt, **options)`."""
    if fmt == "json":
        emit_json(data)
    elif fmt == "text" and text is not None:
        text()
    elif machine is not None:
        from . import formats  # only off the text path: a card on a terminal never needs it

        emit_text(getattr(formats, machine)(data, fmt, **options))
    else:
        raise ValueError(f"no way to print {fmt}")  # a command offers only the formats it can print
