"""The typer app and its plumbing: the command classes (usage errors shown like every other error,
`build --ray` alone) and the root callback (--debug, --version, the library's log on stderr).
The commands are registered on it by main.py.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from .._version import __version__
from .console import (
    JSON_FORMATS,
    LogHandler,
    UsageError,
    out,
    setup_streams,
    state,
    usage_error,
)


class _Commands(TyperGroup):
    """The root group. Click's usage errors (missing argument, unknown option, bad value) are shown
    like every other error: one line on stderr, or a JSON error on stdout with --json; exit 2."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        state["json"] = _asks_for_json(args)
        args = _ray_option(args)
        try:
            return super().make_context(info_name, args, parent, **extra)
        except UsageError as error:
            raise usage_error(error) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as error:
            raise usage_error(error) from None


class _Command(TyperCommand):
    """A command whose usage line names a required argument as QUESTION, not {QUESTION}, and whose
    help's verbatim blocks (examples, a file format) wrap between words where the terminal is
    narrower than a line, continued four columns further in, instead of being broken mid-word by
    the terminal."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]

    def format_help_text(self, ctx: Any, formatter: Any) -> None:
        start = len(formatter.buffer)
        super().format_help_text(ctx, formatter)
        text = "".join(formatter.buffer[start:])
        del formatter.buffer[start:]
        formatter.buffer.append("\n".join(_fit(line, formatter.width) for line in text.split("\n")))


def _fit(line: str, width: int) -> str:
    """A help line wider than `width` cells, wrapped between words (present/linebreak.py), each
    continuation indented four more columns."""
    from ..present.linebreak import cell_width, fold, wrap

    if cell_width(line) <= width:
        return line
    indent = len(line) - len(line.lstrip(" "))
    body = line[indent:]
    first, rest = max(10, width - indent), max(10, width - indent - 4)
    spans = fold(body, wrap(body, rest, first_width=first), first, rest)
    pieces = [body[a:b] for a, b in spans]
    return "\n".join([" " * indent + pieces[0], *(" " * (indent + 4) + piece for piece in pieces[1:])])


def _asks_for_json(args: list[str]) -> bool:
    """Whether a command line asks for JSON output (then even its usage errors are JSON)."""
    for i, arg in enumerate(args):
        if arg == "--json":
            return True
        if arg in ("--format", "-f") and i + 1 < len(args) and args[i + 1].lower() in JSON_FORMATS:
            return True
        if arg.startswith("--format=") and arg.split("=", 1)[1].lower() in JSON_FORMATS:
            return True
    return False


def _ray_option(args: list[str]) -> list[str]:
    """`build --ray` alone means Ray on this machine: click options take a value or none, not either,
    so a bare `--ray` becomes `--ray=local` (a following Ray address is kept as its value)."""
    if "build" not in args or "--ray" not in args:
        return args
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        if arg == "--ray":
            following = args[i + 1] if i + 1 < len(args) else ""
            if not _RAY_ADDRESS.match(following):
                arg = "--ray=local"
        out.append(arg)
    return out


# What follows a bare --ray as its value: a Ray address (auto, local, ray://…, host:port), not a corpus folder.
_RAY_ADDRESS = re.compile(r"^(auto|local|ray://\S+|[A-Za-z0-9.-]+:\d+)$")


app = typer.Typer(
    cls=_Commands,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Semantic search over a Japanese/English technical glossary: ask in either language, get the "
    "right entry, offline.",
)


# -- commands -------------------------------------------------------------------------------


@app.callback(invoke_without_command=True)
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Semantic search over a Japanese/English technical glossary: ask in either language, get the
    right entry, offline.

    \b
    Examples:
      semsearch ask 勾配消失とは
      semsearch ask how do I stop overfitting
      semsearch show dropout --open
      semsearch terms --source llm-rag.md
      semsearch COMMAND --help
    """
    state["debug"] = debug
    setup_streams()
    # The library tells its caller things on the "semsearch" logger: notices (INFO) and warnings.
    logger = logging.getLogger("semsearch")
    if not any(isinstance(h, LogHandler) for h in logger.handlers):
        logger.addHandler(LogHandler())
        logger.setLevel(logging.INFO)
        logger.propagate = False
    if version:
        out.print(f"semsearch {__version__}")
        raise typer.Exit()
