"""How the `semsearch` command speaks: the two consoles, JSON on stdout, notices and warnings on
stderr, and every failure as one line (or a JSON error object) with the exit code its class names.

With cli.py, the only module that prints or exits. Library errors (`semsearch.errors`) become one
line on stderr, or `{"error": {...}}` on stdout with --json; --debug shows the traceback instead.
Click's own usage errors (missing argument, unknown option, bad value) are shown the same way.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from .errors import SemsearchError

__all__ = [
    "EXIT_CODES",
    "LogHandler",
    "UsageError",
    "emit_json",
    "err",
    "fail",
    "handles_errors",
    "json_text",
    "notice",
    "out",
    "plain",
    "state",
    "usage_error",
]

# Recent typer vendors its own click: reach its UsageError through a public typer class.
UsageError: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")

out = Console(highlight=False, soft_wrap=False)  # results
err = Console(stderr=True, highlight=False)  # notices, warnings, errors, progress
state = {"debug": False, "json": False}  # --debug, and whether the command line asked for --json

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = {"ok": 0, "internal": 1, "usage": 2, "corpus": 3, "index": 4, "encoder": 5}


def emit_json(data: object) -> None:
    """One JSON object, one line, on stdout."""
    sys.stdout.write(json_text(data) + "\n")
    sys.stdout.flush()


def json_text(data: object) -> str:
    """A JSON object as `--json` prints it (also what `semsearch serve` sends)."""
    text = json.dumps(data, ensure_ascii=False)
    # json escapes C0 controls only; DEL and the C1 range (U+009B is a one-character CSI) are escaped
    # too, so JSON printed to a terminal cannot carry escape sequences either.
    return re.sub("[\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", text)


def notice(message: str) -> None:
    err.print(plain(message), style="dim", soft_wrap=True)


def plain(message: str) -> str:
    from .text import safe_text

    return safe_text(message).replace("[", "\\[")


class LogHandler(logging.Handler):
    """What the library tells its caller (the "semsearch" logger) on stderr, one line each: a warning
    as 'warning: ...', a notice (INFO: building, rebuilding) as a dim line; debug records not at all."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            err.print(f"[yellow]warning:[/yellow] {plain(record.getMessage())}", soft_wrap=True)
        elif record.levelno >= logging.INFO:
            notice(record.getMessage())


def handles_errors(command: F) -> F:
    """Turn library errors into one line (or a JSON error object) and the right exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except SemsearchError as error:
            if state["debug"]:
                raise
            fail(type(error).__name__, str(error), error.exit_code, as_json)
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # The reader went away (`semsearch ask ... | head -1`): nothing left to say to anyone,
            # and Python's final flush of stdout must not complain either.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(1) from None
        except Exception as error:
            if state["debug"]:
                raise
            fail(
                "InternalError",
                f"internal error: {type(error).__name__}: {error} (run with --debug for details)",
                EXIT_CODES["internal"],
                as_json,
            )

    return wrapper  # type: ignore[return-value]


def fail(kind: str, message: str, code: int, as_json: bool) -> None:
    if as_json:
        emit_json({"error": {"type": kind, "message": message}})
    else:
        err.print(f"[red]error:[/red] {plain(message)}", soft_wrap=True)
    raise typer.Exit(code)


def usage_error(error: Any) -> Exception:
    """Make a click usage error show itself as one line (or a JSON error with --json)."""
    if type(error).__name__ == "NoArgsIsHelpError":
        return error  # bare `semsearch`: the help is the answer
    as_json = state["json"]

    def show(file: Any = None) -> None:
        message = error.format_message()
        if as_json:
            emit_json({"error": {"type": "UsageError", "message": message}})
            return
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        err.print(f"[red]error:[/red] {plain(message + hint)}", soft_wrap=True)

    error.show = show
    return error
