"""`semsearch shell`: a session that keeps one index (and its encoder) loaded between questions.

The session only interprets lines; reading them and printing answers is the CLI's job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import SemsearchError
from .modes import DEFAULT_MODE, MODES, check_mode
from .search import Answer, Index

__all__ = ["Reply", "Session", "readline_history", "HELP"]

HELP = (
    "Type a question in Japanese or English. Commands: "
    f":mode {'|'.join(MODES)}  :k N  :full (toggle whole entries)  :help  :q (or Ctrl-D) to leave"
)


@dataclass(frozen=True)
class Reply:
    """What a line produced: an answer, a message for the user, or the end of the session."""

    answer: Answer | None = None
    message: str = ""
    quit: bool = False


class Session:
    """Questions and `:commands` against one open index."""

    def __init__(
        self, index: Index, k: int = 5, mode: str = DEFAULT_MODE, full: bool = False, min_score: float | None = None
    ) -> None:
        self.index = index
        self.k = k
        self.mode = check_mode(mode)
        self.full = full
        self.min_score = min_score

    def handle(self, line: str) -> Reply:
        line = line.strip()
        if not line:
            return Reply()
        if line.startswith(":"):
            return self._command(line[1:].split())
        try:
            return Reply(
                answer=self.index.query(line, k=self.k, mode=self.mode, related=True, min_score=self.min_score)
            )
        except SemsearchError as error:
            return Reply(message=f"error: {error}")

    def _command(self, words: list[str]) -> Reply:
        name, args = (words[0].lower(), words[1:]) if words else ("", [])
        if name in ("q", "quit", "exit"):
            return Reply(quit=True)
        if name == "mode" and len(args) == 1:
            try:
                self.mode = check_mode(args[0])
            except SemsearchError as error:
                return Reply(message=f"error: {error}")
            return Reply(message=f"mode: {self.mode}")
        if name == "k" and len(args) == 1 and args[0].isdigit() and 0 < int(args[0]) <= 1000:
            self.k = int(args[0])
            return Reply(message=f"k: {self.k}")
        if name == "full" and not args:
            self.full = not self.full
            return Reply(message=f"full entries: {'on' if self.full else 'off'}")
        if name in ("help", "h", "?"):
            return Reply(message=HELP)
        return Reply(message=f"unknown command ':{' '.join(words)}'. {HELP}")


def _history_path() -> Path | None:
    """Where the shell keeps its history; None (no history) without a usable home folder."""
    from .locate import user_dir

    base = user_dir("XDG_STATE_HOME", ".local/state")
    return base / "semsearch" / "history" if base is not None else None


@contextlib.contextmanager
def readline_history() -> Iterator[None]:
    """Line editing and a persistent history for `input()`, where readline exists."""
    try:
        import readline
    except ImportError:  # e.g. Windows without pyreadline: plain input() still works
        yield
        return
    path = _history_path()
    if path is None:
        yield
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)
