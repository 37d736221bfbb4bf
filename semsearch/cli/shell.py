"""`semsearch shell`: a session that keeps one index (and its encoder) loaded between questions.

The session only interprets lines; reading them and printing answers is the CLI's job.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SemsearchError
from ..modes import DEFAULT_MODE, MODES, check_mode
from ..request import Request, check_k
from ..search import Answer, Hit, Index

__all__ = ["Reply", "Session", "readline_history", "forget_blank", "HELP"]

HELP = (
    "Type a question in Japanese or English. Commands: "
    f":mode [{'|'.join(MODES)}]  :k [N]  :full [on|off] (whole entries)  "
    ":show N (hit N's entry)  :open N (in your editor)  :copy N (to the clipboard)  :more (the next k)  "
    ":help  :q, exit or Ctrl-D to leave"
)
COMMANDS = ":mode, :k, :full, :show, :open, :copy, :more, :help, :q"
# Words typed alone that are commands, not questions (nobody searches a glossary for "exit").
_BARE_COMMANDS = {"exit": "q", "quit": "q", "help": "help"}


@dataclass(frozen=True)
class Reply:
    """What a line produced: an answer, a message for the user, or the end of the session."""

    answer: Answer | None = None
    message: str = ""
    quit: bool = False
    action: str = ""  # "show", "open" or "copy": what the command line does with `hit`
    hit: Hit | None = None


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
        self.last: Answer | None = None  # the last answer, whose hits :show, :open, :copy and :more name
        self._question = ""
        self._shown = 0  # hits of the last question shown so far

    def handle(self, line: str) -> Reply:
        line = line.strip()
        if not line:
            return Reply()
        bare = _BARE_COMMANDS.get(line.lower().rstrip("!?"))
        if bare:
            return self._command([bare])
        if line.startswith(":"):
            return self._command(line[1:].split())
        try:
            request = Request(line, self.k, self.mode, self.min_score, self.full)  # the checks every face runs
            answer = self.index.query(
                request.question, k=request.k, mode=request.mode, related=True, min_score=request.min_score
            )
            self.last, self._question, self._shown = answer, request.question, len(answer.hits)
            return Reply(answer=answer)
        except SemsearchError as error:
            return Reply(message=f"error: {error}")

    def _command(self, words: list[str]) -> Reply:
        name, args = (words[0].lower(), words[1:]) if words else ("", [])
        if name in ("q", "quit", "exit"):
            return Reply(quit=True)
        if name == "mode":
            return self._mode(args)
        if name == "k":
            return self._k(args)
        if name == "full":
            return self._full(args)
        if name in ("help", "h", "?"):
            return Reply(message=HELP)
        if name in ("show", "open", "copy"):
            return self._hit_command(name, args)
        if name == "more":
            return self._more()
        return Reply(message=f"error: unknown command ':{' '.join(words)}'; the commands are {COMMANDS}")

    def _mode(self, args: list[str]) -> Reply:
        if not args:
            return Reply(message=f"mode: {self.mode} (one of {', '.join(MODES)})")
        if len(args) > 1:
            return Reply(message=f"error: :mode takes one mode, one of {', '.join(MODES)}")
        try:
            self.mode = check_mode(args[0].lower())
        except SemsearchError as error:
            return Reply(message=f"error: {error}")
        return Reply(message=f"mode: {self.mode}")

    def _k(self, args: list[str]) -> Reply:
        if not args:
            return Reply(message=f"k: {self.k}")
        whole = len(args) == 1 and args[0].isascii() and args[0].isdigit()
        try:  # the check every face runs (request.py)
            self.k = check_k(int(args[0]) if whole else -1, " ".join(args))
        except SemsearchError as error:
            return Reply(message=f"error: {error}")
        return Reply(message=f"k: {self.k}")

    def _hit_command(self, name: str, args: list[str]) -> Reply:
        """:show N, :open N, :copy N: hit N of the last answer (1 alone)."""
        if self.last is None or not self.last.hits:
            return Reply(message=f"error: :{name} names a hit of the last answer; ask a question first")
        hits = self.last.hits[: self._shown]
        raw = args[0] if len(args) == 1 else "1" if not args else ""
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= len(hits)):
            return Reply(message=f"error: :{name} takes the number of a hit shown, 1 to {len(hits)}")
        return Reply(action=name, hit=hits[int(raw) - 1])

    def _more(self) -> Reply:
        """:more: the next k hits of the last question."""
        if self.last is None:
            return Reply(message="error: :more shows more hits of the last question; ask a question first")
        want = self._shown + self.k
        answer = self.index.query(self._question, k=want, mode=self.mode, related=True, min_score=self.min_score)
        new = answer.hits[self._shown :]
        if not new:
            return Reply(message="no more hits")
        self.last, self._shown = answer, len(answer.hits)
        return Reply(answer=dataclasses.replace(answer, hits=new))

    def _full(self, args: list[str]) -> Reply:
        if len(args) > 1 or (args and args[0].lower() not in ("on", "off")):
            return Reply(message="error: :full takes on or off (alone, it switches)")
        self.full = (args[0].lower() == "on") if args else not self.full
        return Reply(message=f"full entries: {'on' if self.full else 'off'}")


def _history_path() -> Path | None:
    """Where the shell keeps its history; None (no history) without a usable home folder."""
    from ..userdirs import user_dir

    base = user_dir("XDG_STATE_HOME", ".local/state")
    return base / "semsearch" / "history" if base is not None else None


def completer(names: list[str]) -> Any:
    """A readline completer over `names` (the glossary's term names) and the shell's commands: Tab
    after a prefix completes it, case-insensitively."""
    words = sorted({*names, *(f":{c.strip(': ')}" for c in COMMANDS.split(","))}, key=str.casefold)

    def complete(text: str, state: int) -> str | None:
        found = [w for w in words if w.casefold().startswith(text.casefold())]
        return found[state] if state < len(found) else None

    return complete


@contextlib.contextmanager
def readline_history(names: list[str] | None = None) -> Iterator[None]:
    """Line editing, a persistent history and Tab completion of `names` for `input()`, where
    readline exists."""
    try:
        import readline
    except ImportError:  # e.g. Windows without pyreadline: plain input() still works
        yield
        return
    if names is not None:
        readline.set_completer(completer(names))
        readline.set_completer_delims(" \t\n")
        readline.parse_and_bind("tab: complete")
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


def forget_blank(line: str) -> None:
    """Keep a blank line (Enter alone, or spaces) and a repeat of the previous line out of the
    history (readline adds every non-empty line it reads)."""
    try:
        import readline
    except ImportError:
        return
    count = readline.get_current_history_length()
    if not count or readline.get_history_item(count) != line:
        return
    previous = readline.get_history_item(count - 1) if count > 1 else None
    if not line.strip() or line == previous:
        readline.remove_history_item(count - 1)
