"""One message for a terminal's stderr (a notice, a warning, an error) as rich Text: labelled, and on
a terminal wrapped to its width where Japanese and English allow (linebreak.py), a path wider than a
line folded; elsewhere one line, whatever its length, for logs and grep. The command (cli/console.py)
and the server laying out stderr for a thin client (serve/http.py) both use it, so that both print
the same."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ..text import safe_line
from .linebreak import fold, wrap

__all__ = ["LABELS", "MIN_WIDTH", "message", "width_of"]

# Narrower than this, cards and tables have no room left for their text (COLUMNS=5 is a mistake).
MIN_WIDTH = 20
LABELS = {"warning": ("warning: ", "yellow"), "error": ("error: ", "red")}


def message(text: str, kind: str = "", style: str = "", width: int | None = None) -> Text:
    """`text` labelled by `kind` ("warning", "error" or "" for a notice), wrapped to `width` cells
    when given (a terminal), else one line."""
    label, label_style = LABELS.get(kind, ("", ""))
    shown = Text.assemble((label, label_style), (safe_line(text), style))
    if width is None:
        return shown
    spans = fold(shown.plain, wrap(shown.plain, width), width, width)
    return Text("\n").join(shown[start:end] for start, end in spans)


def width_of(console: Any) -> int | None:
    """The width a message on `console` wraps to: its width on a terminal (at least MIN_WIDTH), None
    elsewhere."""
    return max(console.width, MIN_WIDTH) if console.is_terminal else None
