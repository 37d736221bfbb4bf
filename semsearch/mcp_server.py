"""`semsearch mcp`: the index served to coding agents and editors over the Model Context Protocol
(stdio), with the official MCP Python SDK (the optional extra `semsearch[mcp]`).

Tools (each returns the object the matching `--json` command prints):

    ask(question, k=5, mode="hybrid", min_score=None)   the best glossary entries for a question
    show(term, source=None)                             a term's entries in full, by any of its names
    terms(source=None)                                  every term: names, source:line, chunks

A question the engine refuses (empty, unknown name, unknown source) is a tool error carrying the same
one-line message the command line prints. The index stays warm and follows corpus edits as
`semsearch serve` does (semsearch/resident.py). stdout belongs to the protocol: notices and
warnings go to stderr.
"""

# No `from __future__ import annotations` here: the SDK reads the tools' annotations at run time,
# and they name pydantic's Field, imported with the SDK inside build_server.
from typing import Annotated, Any, Literal

from ._version import __version__
from .errors import SemsearchError, ServiceError
from .limits import K_MAX
from .modes import DEFAULT_MODE
from .resident import Resident

__all__ = ["INSTALL", "require_sdk", "build_server", "run"]

INSTALL = "pip install 'semsearch[mcp]'"

INSTRUCTIONS = (
    "Semantic search over a Japanese/English technical glossary. Use `ask` with a question in either "
    "language (e.g. '勾配消失とは' or 'how do I stop overfitting?') to find the relevant terms; "
    "`confident: false` means no entry answers it well. Use `show` with a term's name for its full "
    "entry, and `terms` to list what the glossary holds."
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
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import Field

    from .payloads import answer_object, show_object, terms_object

    # The SDK's own INFO lines (one per tool call) would crowd the client's log of our stderr.
    server = MCPServer("semsearch", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

    @server.tool()
    def ask(
        question: Annotated[str, Field(description="The question, in Japanese or English.")],
        k: Annotated[int, Field(ge=1, le=K_MAX, description="How many hits.")] = 5,
        mode: Annotated[
            Literal["hybrid", "dense", "tfidf"],
            Field(description="Ranking: hybrid (best), dense (meaning only), tfidf (words only)."),
        ] = DEFAULT_MODE,  # type: ignore[assignment]
        min_score: Annotated[
            float | None, Field(ge=0.0, le=1.0, description="Only hits scoring at least this (0 to 1).")
        ] = None,
        full: Annotated[bool, Field(description="Also give each hit's whole entry (its markdown body).")] = False,
    ) -> dict[str, Any]:
        """The glossary entries that best answer a question, best first, as `semsearch ask --json`:
        each hit has its names, score (0-1), source file, absolute path and line, a snippet, related
        terms and the other places the term appears (with `full`, its whole body); `confident` tells
        whether the best hit answers the question."""
        try:
            index, answer = resident.ask(question, k=k, mode=mode, min_score=min_score)
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
    ) -> dict[str, Any]:
        """Every term in the glossary (or one file of it): id, names, source file and line, chunks,
        as `semsearch terms --json`."""
        try:
            return terms_object(resident.index, source)
        except SemsearchError as error:
            raise ToolError(str(error)) from None

    return server


def run(resident: Resident) -> None:
    """Serve MCP over stdio until the client closes stdin."""
    server = build_server(resident)
    resident.start()
    try:
        server.run("stdio")
    finally:
        resident.stop()
