"""shell, serve, mcp: the index kept loaded, for a person, for HTTP clients, for MCP clients."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..modes import check_mode
from .ask import _print_answer
from .console import (
    err,
    handles_errors,
    notice,
    say,
)
from .emit import emit
from .options import DEFAULT, CorpusOpt, IndexOpt, JsonOpt, KOpt, MinScoreOpt, ModeOpt, _locations, _open
from .reading import _argv_text, _interactive_stdin, _read_lines


@handles_errors
def shell(
    k: KOpt = 5,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    mode: ModeOpt = DEFAULT,
    min_score: MinScoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask many questions with the index and encoder kept loaded. Commands: :mode [MODE], :k [N],
    :full [on|off], :show N (hit N in full), :open N (in your editor), :copy N (to the clipboard),
    :more (the next k hits), :help, :q (or exit, or Ctrl-D); alone, :mode and :k show the current value.

    On a terminal: line editing, a history and Tab completion of term names. Otherwise one question
    per line from stdin.

    \b
    Examples:
      semsearch shell -k 3
      printf 'dropout\\n過学習\\n' | semsearch shell --json
    """
    from .shell import Session

    check_mode(mode.value)
    session = Session(_open(_locations(corpus, index)), k=k, mode=mode.value, min_score=min_score)
    interactive = _interactive_stdin()
    if interactive:
        err.print(f"semsearch shell: {len(session.index)} terms. Ask in Japanese or English; :help for commands.")
    names = sorted({name for term in session.index.terms for name in term.names}) if interactive else None
    for line in _read_lines(interactive, names):
        reply = session.handle(line)
        if reply.quit:
            break
        if reply.message:
            say(reply.message.removeprefix("error: "), "error" if reply.message.startswith("error: ") else "")
        if reply.hit is not None:
            _act(reply.action, reply.hit, session.index, as_json)
        if reply.answer is None:
            continue
        _print_answer(reply.answer, session.index, "json" if as_json else "text", session.full)


def _act(action: str, hit: Any, index: Any, as_json: bool) -> None:
    """The shell's :show, :open and :copy on one hit of the last answer."""
    from ..errors import SemsearchError
    from ..serve.payloads import show_object
    from .ask import _edit, _show_view

    try:
        data = show_object(index, hit.term, hit.source)
        if action == "show":
            emit(data, "json" if as_json else "text", text=lambda: _show_view(data))
        elif action == "open":
            _edit(hit.path or hit.source, hit.line, hit.source)
        else:
            entry = data["entries"][0]
            text = f"## {' | '.join(entry['names'])}\n{entry['body']}".rstrip() + "\n"
            say(f"copied {hit.term} ({hit.source}:{hit.line}) with {_copy(text)}")
    except SemsearchError as error:
        say(str(error), "error")


CLIPBOARDS = (("wl-copy",), ("xclip", "-selection", "clipboard"), ("xsel", "--clipboard", "--input"), ("pbcopy",))


def _copy(text: str) -> str:
    """Put `text` on the clipboard with the first tool this machine has; its name."""
    import shutil
    import subprocess

    from ..errors import QueryError

    for command in CLIPBOARDS:
        if shutil.which(command[0]):
            try:
                subprocess.run(command, input=text.encode("utf-8"), check=True, timeout=10)
            except (OSError, subprocess.SubprocessError) as error:  # a tool that fails or hangs: one line
                raise QueryError(f"{command[0]} could not copy it ({error})") from None
            return command[0]
    raise QueryError("no clipboard tool here (wl-copy, xclip, xsel or pbcopy); :show N prints the entry")


@handles_errors
def serve(
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="ADDRESS", help="Address to listen on (127.0.0.1: this machine only; no authentication)."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port", min=0, max=65535, metavar="PORT", help="Port to listen on (0: any free one, named at start)."
        ),
    ] = 8765,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    poll: Annotated[
        float,
        typer.Option("--poll", min=0, metavar="SECONDS", help="How often to look for corpus changes (0: never)."),
    ] = 2.0,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            metavar="NAME",
            help="Also answer requests for this Host name (repeat for several; '*': any). Without it, only "
            "for localhost and the address it listens on: a web page cannot reach it by rebinding its own name.",
            show_default=False,
        ),
    ] = None,
    open_page: Annotated[
        bool,
        typer.Option("--open", help="Open the search page in the default browser once the server listens."),
    ] = False,
) -> None:
    """Keep the index warm behind an HTTP JSON API (GET /ask?q=…, /show?term=…, /terms, /health)
    and a search page for people (http://127.0.0.1:8765/) until Ctrl-C. `semsearch ask` then asks it
    when $SEMSEARCH_SERVER (or --server) names it. A changed corpus is indexed again in the
    background while the old index answers.

    \b
    Examples:
      semsearch serve --corpus ~/glossary --open
      curl -s --get --data-urlencode 'q=勾配消失とは' http://127.0.0.1:8765/ask
      SEMSEARCH_SERVER=http://127.0.0.1:8765 semsearch ask 過学習
    """
    from ..serve.http import make_server
    from ..serve.http import serve as run_server
    from ..serve.resident import Resident, check_poll
    from .render import answer_output

    check_poll(poll)
    # A bad option or a taken port fails before the index is opened.
    server = make_server(
        host,
        port,
        allow_hosts=[_argv_text(name, "--allow-host value") for name in allow_host or ()],
        cards=answer_output,  # the thin client's answers, laid out as this terminal lays them out
    )
    server.resident = Resident(_open(_locations(corpus, index)), poll=poll, notice=notice)
    opened = server.resident.index

    def ready(url: str) -> None:
        notice(f"serving {opened.path} ({len(opened)} terms) at {url}; Ctrl-C to stop")
        if open_page:
            # In a thread: a console browser ($BROWSER=w3m) would otherwise hold the server back.
            import threading

            threading.Thread(target=_open_browser, args=(url,), name="semsearch-open", daemon=True).start()

    run_server(server, on_ready=ready)


def _open_browser(url: str) -> None:
    """The search page in the default browser ($BROWSER, else the system's); one line when there is none."""
    import webbrowser

    # A server listening on every interface is reached here by this machine's own address.
    url = url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:") + "/"
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        notice(f"no browser to open here; the page is at {url}")


@handles_errors
def mcp_command(
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    poll: Annotated[
        float,
        typer.Option("--poll", min=0, metavar="SECONDS", help="How often to look for corpus changes (0: never)."),
    ] = 2.0,
) -> None:
    """Serve the index to coding agents and editors over MCP (stdio): the tools ask, show and terms.
    Needs the MCP SDK: pip install 'semsearch[mcp]'.

    \b
    Examples:
      claude mcp add semsearch -- semsearch mcp --corpus /path/to/glossary
      semsearch mcp --index ~/glossary-index
    """
    from ..serve.mcp import require_sdk
    from ..serve.mcp import run as run_mcp
    from ..serve.resident import Resident, check_poll

    check_poll(poll)
    require_sdk()  # before opening the index
    run_mcp(Resident(_open(_locations(corpus, index)), poll=poll, notice=notice))
