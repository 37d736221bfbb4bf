"""How the `semsearch` command speaks: the two consoles, JSON on stdout, notices and warnings on
stderr, and every failure as one line (or a JSON error object) with the exit code its class names.

With the rest of cli/, the only module that prints or exits. Library errors (`semsearch.errors`) become one
line on stderr, or `{"error": {...}}` on stdout with --json; --debug shows the traceback instead.
Click's own usage errors (missing argument, unknown option, bad value) are shown the same way.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from ..errors import EXIT_CODES, SemsearchError
from ..present.messages import MIN_WIDTH, width_of
from ..present.messages import message as laid_out
from ..request import JSON_FORMATS
from ..serve.payloads import json_text
from ..text import plain

__all__ = [
    "EXIT_CODES",
    "LogHandler",
    "OutputError",
    "setup_streams",
    "UsageError",
    "emit_json",
    "emit_text",
    "err",
    "fail",
    "handles_errors",
    "json_text",
    "notice",
    "out",
    "page",
    "plain",
    "say",
    "state",
    "usage_error",
]

# Recent typer vendors its own click: reach its UsageError through a public typer class.
UsageError: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class OutputError(Exception):
    """The results could not be written (a full disk, a closed pipe); `error` is the OSError."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _Stdout:
    """sys.stdout as it is at each call (a test runner swaps it), whose write failures are OutputError:
    a failure to show the results is told apart from a failure inside semsearch."""

    def write(self, text: str) -> int:
        try:
            return sys.stdout.write(text)
        except OSError as error:
            raise OutputError(error) from error

    def flush(self) -> None:
        try:
            sys.stdout.flush()
        except OSError as error:
            raise OutputError(error) from error

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.stdout, name)


STDOUT = _Stdout()


def _sane_sizes() -> None:
    """A COLUMNS or LINES of digits that are not ASCII ("²") is one rich reads as a number and then
    cannot convert, failing every command, --help too: it is ignored, as any other that is not a number."""
    for name in ("COLUMNS", "LINES", "JUPYTER_COLUMNS", "JUPYTER_LINES"):
        value = os.environ.get(name)
        if value is not None and value.isdigit() and not value.isascii():
            del os.environ[name]


_sane_sizes()  # before the first Console reads them
# Results. soft_wrap: the console never wraps nor crops a line itself; what is printed decides (render.py
# wraps on a terminal, at places that split no word or URL, and leaves lines whole elsewhere).
out = Console(file=STDOUT, highlight=False, soft_wrap=True)  # type: ignore[arg-type]
err = Console(stderr=True, highlight=False)  # notices, warnings, errors, progress
# --debug, whether the command line asked for --json, and a progress display to stop on failure.
state: dict[str, Any] = {"debug": False, "json": False, "live": None}

F = TypeVar("F", bound=Callable[..., Any])


def _utf(stream: Any) -> bool:
    return str(getattr(stream, "encoding", None) or "utf-8").lower().replace("_", "-").startswith("utf")


def emit_json(data: object) -> None:
    """One JSON object, one line, on stdout (all ASCII when stdout cannot encode the rest)."""
    STDOUT.write(json_text(data, ascii_only=not _utf(sys.stdout)) + "\n")
    STDOUT.flush()


def emit_text(text: str) -> None:
    """Text as it is (a --format other than text and json) on stdout."""
    STDOUT.write(text)
    STDOUT.flush()


def page(renderable: Any) -> None:
    """Print results; on a terminal (stdin and stdout both), through the pager when they are longer
    than the screen: $PAGER (run by the shell, as git does; empty or `cat` for none), else `less`
    with $LESS defaulting to FRX (quit when it fits, colours, no screen clearing). Never off a
    terminal."""
    if not (out.is_terminal and _isatty(sys.stdout) and _isatty(sys.stdin)):
        out.print(renderable)
        return
    with out.capture() as captured:
        out.print(renderable)
    text = captured.get()
    command = os.environ.get("PAGER")
    if command is None:
        import shutil

        command = "less" if shutil.which("less") else ""
    if text.count("\n") < out.height or command.strip() in ("", "cat"):
        emit_text(text)
        return
    import subprocess

    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    try:
        pager = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, env=env)
    except OSError:
        emit_text(text)
        return
    assert pager.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # the reader quit before the end
        pager.stdin.write(text.encode(sys.stdout.encoding or "utf-8", errors="backslashreplace"))
    with contextlib.suppress(BrokenPipeError):
        pager.stdin.close()
    while True:
        try:
            code = pager.wait()
            break
        except KeyboardInterrupt:  # the pager handles Ctrl-C itself; it ends when the user quits it
            continue
    if code in (126, 127):  # the shell could not run it (not found, not executable): the list is not lost
        say(f"the pager {command!r} could not run (exit {code}); printed without it", "warning")
        emit_text(text)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def say(message: str, kind: str = "", style: str = "") -> None:
    """One message on stderr: `kind` "warning" or "error" labels it. On a terminal it is wrapped to
    the width at the places Japanese and English allow (never inside a word, never before "。"); elsewhere
    it stays one line, whatever its length, for logs and grep (present/messages.py)."""
    err.print(laid_out(message, kind, style, width_of(err)), soft_wrap=True)


def notice(message: str) -> None:
    say(message, style="dim")


_ESCAPE_ERRORS = "semsearch-escape"


def _escape_unencodable(error: UnicodeError) -> tuple[str | bytes, int]:
    """What stdout cannot encode is shown as \\u escapes, with one warning the first time."""
    if not state.get("warned_encoding"):
        state["warned_encoding"] = True
        encoding = getattr(sys.stdout, "encoding", "?")
        say(
            f"the output encoding ({encoding}) cannot show every character; "
            "they are shown as \\u escapes (set PYTHONIOENCODING=utf-8 or a UTF-8 locale)",
            "warning",
        )
    return codecs.backslashreplace_errors(error)


codecs.register_error(_ESCAPE_ERRORS, _escape_unencodable)


def setup_streams() -> None:
    """Before a command speaks: a stdout that cannot encode Japanese (PYTHONIOENCODING=ascii, a C
    locale without UTF-8 mode) shows escapes instead of failing; COLUMNS=0 (meaningless) is ignored
    and a tiny COLUMNS is raised to MIN_WIDTH; inside fzf's preview window (FZF_PREVIEW_COLUMNS),
    stdout is laid out for it."""
    if not _utf(sys.stdout):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            sys.stdout.reconfigure(errors=_ESCAPE_ERRORS)  # type: ignore[union-attr]
    raw = os.environ.get("COLUMNS", "").strip()
    width = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 5 else 0
    for console in (out, err):
        # None: the terminal's own width, else 80 (rich reads COLUMNS=0 at start-up as a width of 0).
        console._width = max(width, MIN_WIDTH) if width else None
    # fzf's preview window is a terminal of FZF_PREVIEW_COLUMNS whose output reaches it through a
    # pipe: laid out for it (wrapped, styled unless NO_COLOR), as `semsearch show {..}` is asked there.
    preview = os.environ.get("FZF_PREVIEW_COLUMNS", "").strip()
    if preview.isascii() and preview.isdigit() and len(preview) <= 5 and int(preview) and not out.is_terminal:
        out._force_terminal = True
        out._width = max(int(preview), MIN_WIDTH)


class LogHandler(logging.Handler):
    """What the library tells its caller (the "semsearch" logger) on stderr, one line each: a warning
    as 'warning: ...', a notice (INFO: building, rebuilding) as a dim line; debug records not at all."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            say(record.getMessage(), "warning")
        elif record.levelno >= logging.INFO:
            notice(record.getMessage())


def handles_errors(command: F) -> F:
    """Turn library errors into one line (or a JSON error object) and the right exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        output_format = kwargs.get("output_format")
        as_json = bool(kwargs.get("as_json")) or getattr(output_format, "value", output_format) in JSON_FORMATS
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, UsageError):
            raise
        except SemsearchError as error:
            if state["debug"]:
                raise
            fail(type(error).__name__, str(error), error.exit_code, as_json)
        except KeyboardInterrupt:
            _stop_live()
            err.print("interrupted")
            raise typer.Exit(EXIT_CODES["interrupted"]) from None
        except OutputError as failure:
            _stop_live()
            if isinstance(failure.error, BrokenPipeError):
                _silence_stdout()
                raise typer.Exit(EXIT_CODES["broken_pipe"]) from None
            _silence_stdout()
            reason = failure.error.strerror or str(failure.error)
            with contextlib.suppress(Exception):
                say(f"cannot write the output ({reason})", "error")
            raise typer.Exit(EXIT_CODES["usage"]) from None
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(EXIT_CODES["broken_pipe"]) from None
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


def _silence_stdout() -> None:
    """The reader went away (`semsearch ask ... | head -1`) or stdout cannot be written: nothing more
    goes there, and Python's final flush of stdout must not complain either."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _stop_live() -> None:
    """Stop a progress display (it hides the cursor) before anything else is said."""
    live, state["live"] = state["live"], None
    if live is not None:
        with contextlib.suppress(Exception):
            live.stop()


def fail(kind: str, message: str, code: int, as_json: bool) -> None:
    _stop_live()
    if as_json:
        emit_json({"error": {"type": kind, "message": message}})
    else:
        say(message, "error")
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
        say(message + hint, "error")

    error.show = show
    return error
