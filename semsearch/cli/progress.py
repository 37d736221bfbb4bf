"""Progress of a long embedding on stderr: a rich bar on a terminal, a line every few seconds elsewhere."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

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
        line = f"embedding: {done}/{total} chunks ({100 * done // total}%), {_duration(elapsed)}"
        if elapsed > 0 and done:
            rate = done / elapsed
            line += f", {rate:.1f} chunks/s"
            if done < total:
                line += f", about {_duration((total - done) / rate)} left"
        notice(line)

    return update


def _progress_callback() -> Callable[[int, int], None] | None:
    """Progress of embedding on stderr: a rich bar on a terminal, a line every few seconds elsewhere."""
    if not err.is_terminal:
        return _progress_lines()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TaskProgressColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f} chunks/s" if task.speed else "", style="dim")

    bar = Progress(
        "embedding",
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        Rate(),
        TimeElapsedColumn(),
        "left",
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            state["live"] = bar  # stopped by the error handling when the build fails or is interrupted
            task = bar.add_task("embed", total=total)
        bar.update(task, completed=done, total=total)
        if done >= total:
            bar.stop()

    return update
