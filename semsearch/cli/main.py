"""The command line put together: every command registered on the app, in the order `--help` lists
them, and `main`, the console script's entry point."""

from __future__ import annotations

import contextlib
import os
import sys

from .app import _Command, app
from .ask import ask, compare, show, terms
from .console import (
    EXIT_CODES,
    err,
)
from .eval import eval_command
from .index import build, cache_app, info
from .lint import lint_command
from .serving import mcp_command, serve, shell

__all__ = ["EXIT_CODES", "app", "main"]

app.command(cls=_Command, short_help="Build or update an index (only changed entries are embedded again).")(build)
app.command(cls=_Command, short_help="Ask a question; prints the best glossary entries.")(ask)
app.command(cls=_Command, short_help="The dense, use, tfidf and hybrid rankings side by side.")(compare)
app.command("eval", cls=_Command, short_help="Recall@1, Recall@5, MRR@10, nDCG@10 per mode over labelled questions.")(
    eval_command
)
app.command(cls=_Command, short_help="Print a term's glossary entries in full (--open: in your editor).")(show)
app.command(cls=_Command, short_help="Every term, grouped by file.")(terms)
app.command(cls=_Command, short_help="Where the index is, what it holds, whether it is stale or damaged.")(info)
app.command(cls=_Command, short_help="Many questions with the index kept loaded (:mode, :k, :full, :q).")(shell)
app.command(cls=_Command, short_help="Keep the index warm behind an HTTP JSON API.")(serve)
app.command("mcp", cls=_Command, short_help="Serve the index to coding agents and editors over MCP.")(mcp_command)
app.command("lint", cls=_Command, short_help="What a glossary's authors should know: duplicates, homonyms, gaps.")(
    lint_command
)
app.add_typer(
    cache_app, name="cache", short_help="List, prune or remove the indexes and shared weights in the per-user cache."
)


def main() -> None:
    """Console-script entry point.

    A command is finished once its output is flushed, so the process ends there with `os._exit`,
    skipping the interpreter's teardown: a full garbage collection and the freeing of every module
    and of the encoder, a measurable share of a one-shot `ask` (docs/performance.md, bench/RESULTS.md).
    Nothing is pending by then: index writes complete before a command returns (atomic replace),
    the shell saves its history itself, and logging writes each line as it happens. An exception
    that escapes the error handling still ends the normal way, with its traceback.
    """
    code: object = 0
    try:
        app(prog_name="semsearch")
    except SystemExit as exit:
        code = exit.code
    except KeyboardInterrupt:  # outside a command (while typer parses the command line)
        with contextlib.suppress(Exception):
            err.print("interrupted")
        code = 130
    if code is not None and not isinstance(code, int):  # sys.exit("message"), as SystemExit prints it
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more can be said anyway
            stream.flush()
    os._exit(code or 0)
