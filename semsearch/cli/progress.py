"""Progress of a long embedding on stderr: a rich bar on a terminal, a line every few seconds elsewhere."""

from __future__ import annotations

import time
from collections.abc import Callable

from .console import (
    err,
    notice,
    state,
)

# Off a terminal, a long build says how far it is on stderr this often.
PROGRESS_EVERY = 5.0


def _duration(seconds: float) -> str:
    """A duration for people: 12 s, 2 min 5 s, 1 h 3 min."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def _progress_lines(
    clock: Callable[[], float] = time.monotonic, every: float | None = None
) -> Callable[[int, int], None]:
    """Off a terminal (a log, CI): a line on stderr every PROGRESS_EVERY seconds of a long embedding,
    with the rate so far and the time left at that rate."""
    every = PROGRESS_EVERY if every is None else every
    started: float | None = None
    last = 0.0

    def update(done: int, total: int) -> None:
        nonlocal started, last
        now = clock()
        if started is None:
            started = last = now
        if now - last < every or not total:
            return
        last = now
        elapsed = now - started
        line = f"embedding: {done}/{total} chunks ({100 * done // total}%), elapsed {_duration(elapsed)}"
        if elapsed > 0 and done:
            rate = done / elapsed
            line += f", {rate:.1f} chunks/s"
            if done < total:
                line += f", about {_duration((total - done) / rate)} left"
        notice(line)

    return update


def _clock(seconds: float) -> str:
    """A duration as a clock reads: 0:07, 2:05, 1:03:20."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress_line(done: int, total: int, elapsed: float, width: int) -> str:
    """The terminal's progress line, at most `width` cells: "embedding ━━━━╺──── 120/301 39% ·
    elapsed 0:07 · about 0:11 left · 17.1 chunks/s". Before the first chunk is embedded the encoders
    are loading, and the line says so. Where the width is short the rate goes first, then the
    elapsed time, then the time left; the bar takes what is left (at most 30 cells), or goes too."""
    if not done:
        head = "loading the encoders"
        parts = [(f"{total} chunks to embed", 2), (f"elapsed {_clock(elapsed)}", 1)]
    else:
        head = "embedding"
        rate = done / elapsed if elapsed > 0 else 0.0
        parts = [(f"{done}/{total} {100 * done // max(total, 1)}%", 9), (f"elapsed {_clock(elapsed)}", 2)]
        if rate and done < total:
            parts.append((f"about {_clock((total - done) / rate)} left", 3))
        if rate:
            parts.append((f"{rate:.1f} chunks/s", 1))
    with_bar = bool(done)
    while True:
        figures = " · ".join(text for text, _ in parts)
        if with_bar:
            room = min(30, width - len(head) - len(figures) - 2)
            if room >= 6:
                filled = min(room, round(room * done / max(total, 1)))
                bar = "━" * filled + ("╺" + "─" * (room - filled - 1) if filled < room else "")
                return f"{head} {bar} {figures}".rstrip()
        line = " · ".join([head, *(text for text, _ in parts)])
        if not with_bar and len(line) <= width:
            return line
        if parts and (not with_bar or len(parts) > 1):
            parts.remove(min(parts, key=lambda part: part[1]))  # the least needed part goes first
        elif with_bar:
            with_bar = False  # no room for a bar: the figures alone
        else:
            return line[: max(0, width)]


def _progress_callback() -> Callable[[int, int], None] | None:
    """Progress of embedding on stderr: one line on a terminal (progress_line), redrawn in place;
    a line every few seconds elsewhere."""
    if not err.is_terminal:
        return _progress_lines()
    from rich.live import Live
    from rich.text import Text

    started: float | None = None
    live: Live | None = None

    def update(done: int, total: int) -> None:
        nonlocal started, live
        now = time.monotonic()
        if started is None:
            started = now
        line = Text(progress_line(done, total, now - started, err.width - 1), style="dim" if not done else "")
        if live is None:
            live = Live(line, console=err, transient=True, auto_refresh=False)
            live.start()
            state["live"] = live  # stopped by the error handling when the build fails or is interrupted
        live.update(line, refresh=True)
        if done >= total:
            live.stop()

    return update
