"""Reading what the user typed: arguments as text, the question (words or stdin, bounded), lines
of stdin for the shell.
"""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Iterator

import typer

from ..errors import QueryError
from ..limits import STDIN_LIMIT
from .console import (
    UsageError,
    err,
    say,
)


def _argv_text(text: str, what: str) -> str:
    """A command-line argument as text. Bytes Python could not decode arrive as lone surrogates:
    under a C locale without UTF-8 mode (`PYTHONUTF8=0 LC_ALL=C`) that is every non-ASCII byte of
    a perfectly good UTF-8 argument, so the bytes are decoded again as UTF-8 before refusing them."""
    if any("\udc80" <= c <= "\udcff" for c in text):
        try:
            text = os.fsencode(text).decode("utf-8")
        except UnicodeError:
            raise QueryError(f"the {what} is not valid UTF-8 text") from None
    return text


def _question(ctx: typer.Context, words: list[str] | None, what: str = "question") -> str:
    """The question (or `what` else is asked for: a term's name): its words joined (no quotes
    needed), or stdin for "-" or when no word is given and stdin is not a terminal (`echo q |
    semsearch ask`); refuses undecodable bytes."""
    metavar = "QUESTION" if what == "question" else "TERM"
    words = list(words or [])
    if not words and _interactive_stdin():
        raise UsageError(f"Missing argument '{metavar}'.", ctx)
    if words in ([], ["-"]):
        # Bounded: `yes q | semsearch ask` must not read forever (the encoder reads ~500 characters).
        data = sys.stdin.buffer.read(STDIN_LIMIT + 1)
        try:
            text = codecs.getincrementaldecoder("utf-8")().decode(data[:STDIN_LIMIT], final=len(data) <= STDIN_LIMIT)
        except UnicodeDecodeError as error:
            raise QueryError(f"the {what} on stdin is not valid UTF-8 (byte {error.start})") from None
        text = text.removesuffix("\n").removesuffix("\r")  # `echo question |` ends it with a newline
        if not words and not text.strip():
            raise UsageError(f"Missing argument '{metavar}' (and nothing on stdin).", ctx)
    else:
        text = " ".join(_argv_text(word, what) for word in words)
    if not text.strip():
        raise QueryError(f"the {what} is empty")
    return text


def _questions(ctx: typer.Context, words: list[str] | None) -> list[str]:
    """`ask`'s questions: the words (one question), or each non-empty line of stdin (several)."""
    text = _question(ctx, words)
    if list(words or []) not in ([], ["-"]):
        return [text]
    lines = [line for line in text.splitlines() if line.strip()]
    return lines if len(lines) > 1 else [text]


def _interactive_stdin() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _read_lines(interactive: bool, names: list[str] | None = None) -> Iterator[str]:
    """Lines typed at a prompt (readline editing, a history file, Tab completing `names`), or read
    from stdin."""
    if not interactive:
        while raw := sys.stdin.buffer.readline(STDIN_LIMIT):
            try:
                yield codecs.getincrementaldecoder("utf-8")().decode(raw, final=False).rstrip("\r\n")
            except UnicodeDecodeError:
                say("a line on stdin is not valid UTF-8; skipped", "error")
            if len(raw) == STDIN_LIMIT and not raw.endswith(b"\n"):  # overlong: answered, the rest skipped
                while (rest := sys.stdin.buffer.readline(STDIN_LIMIT)) and not rest.endswith(b"\n"):
                    pass
        return
    from .shell import forget_blank, readline_history

    with readline_history(names):
        while True:
            try:
                line = input("semsearch> ")
            except EOFError:
                err.print()
                return
            except KeyboardInterrupt:
                err.print()
                continue
            forget_blank(line)
            yield line
