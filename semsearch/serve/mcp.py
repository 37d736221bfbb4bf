"""`semsearch mcp`: the index served to coding agents and editors over the Model Context Protocol
(stdio), with the official MCP Python SDK (the optional extra `semsearch[mcp]`).

Tools (each returns the object the matching `--json` command prints):

    ask(question, k=5, mode="hybrid", min_score=None)   the best glossary entries for a question
    show(term, source=None)                             a term's entries in full, by any of its names
    terms(source=None, entries=False)                   every term: names, source:line, chunks, also_in

A question the engine refuses (empty, unknown name, unknown source) is a tool error carrying the same
one-line message the command line prints. The index stays warm and follows corpus edits as
`semsearch serve` does (resident.py). stdout belongs to the protocol: notices and
warnings go to stderr.
"""

# No `from __future__ import annotations` here: the SDK reads the tools' annotations at run time,
# and they name pydantic's Field, imported with the SDK inside build_server.
import contextlib
import functools
import io
import json
import os
import re
from collections.abc import Iterator
from typing import IO, Annotated, Any, BinaryIO, Literal, cast

from .._version import __version__
from ..errors import SemsearchError, ServiceError
from ..limits import K_MAX
from ..modes import DEFAULT_MODE, MODES
from ..request import Request
from .resident import Resident

__all__ = ["INSTALL", "require_sdk", "build_server", "run"]

INSTALL = "pip install 'semsearch[mcp]'"
# Every mode (modes.py), the default first as MCP clients list it.
OFFERED_MODES = (DEFAULT_MODE, *(m for m in MODES if m != DEFAULT_MODE))

INSTRUCTIONS = (
    "Semantic search over a Japanese/English technical glossary. Use `ask` with a question in either "
    "language (e.g. '勾配消失とは' or 'how do I stop overfitting?') to find the relevant terms. Every "
    "answer has a `state`: 'sure' (the first hit is the entry asked for: use it), 'possible' (the hits "
    "are candidates, none sure: read them with `show` before relying on one, or ask more precisely) or "
    "'no_match' (the glossary has no entry for it: the hits are only the closest entries; do not answer "
    "from them). Use `show` with a term's name for its full entry (a name two terms share shows both), "
    "and `terms` to list what the glossary holds."
)
#: What `ask` tells an agent about the states (its tool description).
ASK_STATES = (
    "`state` says how sure the answer is: 'sure': the first hit is the entry asked for (on the project's "
    "test questions it was right 85-97% of the time, so not always); 'possible': the hits are candidates, "
    "none of them sure (check the entry "
    "with `show` before relying on it); 'no_match': the glossary has nothing for the question, and the "
    "hits are only the closest entries (say so, do not answer from them). `probability` is the "
    "estimated chance that the first hit is right; `did_you_mean` lists names within a spelling slip."
)


def require_sdk() -> None:
    """Raise ServiceError naming the install command when the MCP SDK is not installed."""
    try:
        from mcp.server.mcpserver import MCPServer  # noqa: F401
    except ImportError as error:
        raise ServiceError(
            f"semsearch mcp needs the MCP Python SDK (mcp 2.x), which is not installed ({error}); run: {INSTALL}"
        ) from None


def build_server(resident: Resident) -> Any:
    """The MCP server with semsearch's tools, answering from `resident`."""
    require_sdk()
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
    from mcp.server.stdio import stdio_server
    from pydantic import Field, ValidationError

    from .payloads import answer_object, show_object, terms_object

    class Server(MCPServer):
        """The SDK's server, with refused arguments said in one line, and a stdin a lone surrogate
        cannot stall (see `_Lines`)."""

        async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
            try:
                return await super().call_tool(name, arguments, context)
            except ToolError as error:
                cause = error.__cause__
                if isinstance(cause, ValidationError) and not isinstance(error, UnexpectedToolError):
                    raise ToolError(f"Error executing tool {name}: {refused_arguments(cause)}") from cause
                raise

        async def run_stdio_async(self) -> None:
            import anyio
            from mcp import types

            with _stdin() as raw:
                check = functools.partial(types.jsonrpc_message_adapter.validate_json, by_name=False)
                lines = anyio.wrap_file(cast(IO[str], _Lines(raw, check)))
                async with stdio_server(stdin=lines) as (read_stream, write_stream):
                    lowlevel = self._lowlevel_server
                    await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())

    ask_doc = (
        "The glossary entries that best answer a question, best first, as `semsearch ask --json`: each hit has "
        "its names, score (0-1), source file, absolute path and line, a snippet, related terms and the other "
        "places the term appears (with `full`, its whole body)."
    )
    # The SDK's own INFO lines (one per tool call) would crowd the client's log of our stderr.
    server = Server("semsearch", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

    @server.tool(description=f"{ask_doc} {ASK_STATES}")
    def ask(
        question: Annotated[str, Field(description="The question, in Japanese or English.")],
        k: Annotated[int, Field(ge=1, le=K_MAX, description="How many hits.")] = 5,
        mode: Annotated[
            Literal[OFFERED_MODES],  # type: ignore[valid-type]
            Field(
                description="Ranking: hybrid (best), dense (meaning, e5), use (meaning, the second encoder), "
                "tfidf (words only)."
            ),
        ] = DEFAULT_MODE,
        min_score: Annotated[
            float | None, Field(ge=0.0, le=1.0, description="Only hits scoring at least this (0 to 1).")
        ] = None,
        full: Annotated[bool, Field(description="Also give each hit's whole entry (its markdown body).")] = False,
    ) -> dict[str, Any]:
        # Its description for agents: ask_doc and ASK_STATES.
        try:
            index, answer = resident.ask(Request(question, k=k, mode=mode, min_score=min_score, full=full))
        except SemsearchError as error:
            raise ToolError(str(error)) from None
        return answer_object(answer, index, full)

    @server.tool()
    def show(
        term: Annotated[str, Field(description="Any of the term's names (case-, width- and kana-insensitive).")],
        source: Annotated[str | None, Field(description="Only the entry from this glossary file.")] = None,
    ) -> dict[str, Any]:
        """A term's glossary entries in full (markdown bodies), found by any of its names, as
        `semsearch show --json`."""
        index = resident.index
        try:
            with resident.guard(index):  # a name not found is answered with suggestions (a search)
                return show_object(index, term, source)
        except SemsearchError as error:
            raise ToolError(str(error)) from None

    @server.tool()
    def terms(
        source: Annotated[str | None, Field(description="Only the terms from this glossary file.")] = None,
        entries: Annotated[
            bool, Field(description="Every entry apart (by default, entries that share a name are one term).")
        ] = False,
    ) -> dict[str, Any]:
        """Every term in the glossary (or one file of it) as `ask` returns them: id, names, source file
        and line, chunks, its other entries' places (`also_in`); as `semsearch terms --json`."""
        try:
            return terms_object(resident.index, source, entries)
        except SemsearchError as error:
            raise ToolError(str(error)) from None

    return server


def refused_arguments(error: Any) -> str:
    """A pydantic ValidationError of a tool's arguments as one line: each field and what it must be
    ("k: Input should be less than or equal to 1000"), never the values given."""
    parts = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem.get("loc", ())) or "arguments"
        parts.append(f"{where}: {' '.join(str(problem.get('msg', 'invalid')).split())}")
    return "; ".join(parts) or "invalid arguments"


# A JSON escape of a lone surrogate ("\ud800" without its pair), after any escaped backslashes.
_ESCAPES = re.compile(
    r"\\\\"  # an escaped backslash: what follows it is text
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"  # a surrogate pair: a character
    r"|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"  # a lone surrogate
)


def without_lone_surrogates(line: str) -> str:
    """A JSON line with each escaped lone surrogate replaced by U+FFFD (pairs and the rest as they are)."""
    if "\\u" not in line:
        return line

    def replace(match: re.Match[str]) -> str:
        text = match.group()
        return "\\ufffd" if len(text) == 6 else text

    return _ESCAPES.sub(replace, line)


# The id of a request, where a line the SDK cannot read still shows it.
_ID = re.compile(r'"id"\s*:\s*(-?[0-9]{1,18}|"(?:[^"\\]|\\.){0,200}")')


def readable_request(line: str, check: Any) -> str:
    """A line the SDK can read: as it is, with lone surrogates replaced (above); or, when `check`
    (the SDK's own parser) refuses it and it shows its id (JSON nested deeper than the parser
    goes), a request of that id for a method that does not exist, named for what is wrong: the SDK
    answers it with an error (-32601) carrying that name. A line the SDK refuses gets no answer at
    all, and the client waits for ever."""
    line = without_lone_surrogates(line)
    if not line.strip():
        return line
    try:
        check(line)
    except Exception as error:  # whatever the SDK's parser refuses
        found = _ID.search(line)
        if found is None:
            return line  # a notification or no JSON-RPC at all: nobody waits for an answer
        problems: list[Any] = getattr(error, "errors", lambda: [])()
        reason = " ".join(str(problems[0].get("msg", "")).split())[:200] if problems else type(error).__name__
        method = json.dumps(f"semsearch: the request cannot be read ({reason})")
        return f'{{"jsonrpc": "2.0", "id": {found.group(1)}, "method": {method}}}\n'
    return line


class _Lines:
    """stdin's lines as the SDK reads them (UTF-8, undecodable bytes as U+FFFD), each made readable
    by `readable_request`: a lone surrogate ("\\ud800abc") or JSON nested too deeply made the SDK
    drop the request without a reply, and the client waited for ever."""

    def __init__(self, raw: BinaryIO, check: Any) -> None:
        self._text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
        self._check = check

    def readline(self, size: int = -1) -> str:
        return readable_request(self._text.readline(size), self._check)


@contextlib.contextmanager
def _stdin() -> Iterator[BinaryIO]:
    """The protocol's stdin, with fd 0 itself pointed at the null device meanwhile (as the SDK does),
    so that nothing else in the process reads the protocol's bytes."""
    try:
        private = os.dup(0)
        null = os.open(os.devnull, os.O_RDONLY)
    except OSError:
        import sys

        yield sys.stdin.buffer
        return
    os.dup2(null, 0)
    os.close(null)
    try:
        yield os.fdopen(private, "rb", closefd=False)
    finally:
        with contextlib.suppress(OSError):
            os.dup2(private, 0)
            os.close(private)


def run(resident: Resident) -> None:
    """Serve MCP over stdio until the client closes stdin."""
    server = build_server(resident)
    resident.start()
    try:
        server.run("stdio")
    finally:
        resident.stop()
