"""The `semsearch` command: typer + rich. With console.py, the only module that prints or exits.

Results go to stdout (one JSON object with --json); notices, warnings and progress to stderr.
How errors are shown and which exit code each gets: console.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

# A one-shot command does no large matrix work on the query path, but the BLAS thread pools that
# numpy and FAISS start at import cost CPU (measured: docs/performance.md). Set before anything
# imports numpy; a user's own setting wins. Library use is unaffected.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer
from typer.core import TyperGroup

from ._version import __version__
from .console import (
    EXIT_CODES,
    LogHandler,
    UsageError,
    emit_json,
    err,
    handles_errors,
    notice,
    out,
    plain,
    setup_streams,
    state,
    usage_error,
)
from .errors import QueryError
from .locate import Locations, resolve
from .modes import DEFAULT_MODE, MODES, check_mode

if TYPE_CHECKING:
    from .search import Answer, Index

__all__ = ["EXIT_CODES", "app", "main"]


class _Commands(TyperGroup):
    """The root group. Click's usage errors (missing argument, unknown option, bad value) are shown
    like every other error: one line on stderr, or a JSON error on stdout with --json; exit 2."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        state["json"] = "--json" in args
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
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Semantic search over a Japanese/English technical glossary.",
)

# How long a build waits for another build of the same index (`build --wait` overrides it).
ENV_WAIT = "SEMSEARCH_WAIT"
DEFAULT_WAIT = 600.0
# The limits on runaway input (`build --max-chunks`, `--max-file-mb`), also for the builds `ask` starts.
ENV_MAX_CHUNKS = "SEMSEARCH_MAX_CHUNKS"
ENV_MAX_FILE_MB = "SEMSEARCH_MAX_FILE_MB"
# Off a terminal, a long build says how far it is on stderr this often.
PROGRESS_EVERY = 5.0

# -- shared options -------------------------------------------------------------------------

IndexOpt = Annotated[
    str | None,
    typer.Option(
        "--index",
        help="Index directory, or a Qdrant store: qdrant+local:///PATH, qdrant://HOST:PORT/NAME "
        "(default: see README, 'Where things live').",
    ),
]
CorpusOpt = Annotated[
    list[Path] | None, typer.Option("--corpus", help="Glossary folder; repeat for several.", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
KOpt = Annotated[int, typer.Option("-k", "--top", min=1, max=1000, help="Number of hits.")]
ModeOpt = Annotated[str, typer.Option("--mode", help=f"Ranking: {', '.join(MODES)}.")]
MinScoreOpt = Annotated[
    float | None,
    typer.Option("--min-score", min=0.0, max=1.0, help="Only hits scoring at least this (scores are 0 to 1)."),
]


def _wait_seconds(wait: float | None) -> float:
    """How long to wait for another build: --wait, else $SEMSEARCH_WAIT, else DEFAULT_WAIT."""
    if wait is not None:
        if not math.isfinite(wait):
            raise QueryError(f"--wait must be a number of seconds, not {wait}")
        return wait
    raw = os.environ.get(ENV_WAIT, "").strip()
    if not raw:
        return DEFAULT_WAIT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise QueryError(f"${ENV_WAIT} must be a number of seconds, not {raw!r}")
    return seconds


def _on_wait(index: object, seconds: float) -> Callable[[], None]:
    return lambda: notice(f"another build is writing {index}; waiting up to {seconds:g} s for it to finish")


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


def _question(text: str) -> str:
    """The question from argv, or stdin for "-"; refuses undecodable bytes."""
    if text == "-":
        data = sys.stdin.buffer.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise QueryError(f"the question on stdin is not valid UTF-8 (byte {error.start})") from None
    text = _argv_text(text, "question")
    if not text.strip():
        raise QueryError("the question is empty")
    return text


def _locations(corpus: list[Path] | None, index: str | None) -> Locations:
    return resolve(corpus or None, index)


def _limits(max_chunks: int | None = None, max_file_mb: float | None = None) -> dict[str, Any]:
    """Build options for the runaway-input limits: the options, else the environment, else defaults."""
    options: dict[str, Any] = {}
    for value, env, option, kind in (
        (max_chunks, ENV_MAX_CHUNKS, "--max-chunks", int),
        (max_file_mb, ENV_MAX_FILE_MB, "--max-file-mb", float),
    ):
        raw = os.environ.get(env, "").strip()
        if value is None and raw:
            try:
                value = kind(raw)
            except ValueError:
                value = -1
            if not 0 < value < float("inf"):
                raise QueryError(f"${env} must be a positive number, not {raw!r}")
        if value is None:
            continue
        if not 0 < value < float("inf"):
            raise QueryError(f"{option} must be a positive number, not {value:g}")
        if env == ENV_MAX_CHUNKS:
            from .chunking import ChunkSettings

            options["settings"] = ChunkSettings(max_chunks=int(value))
        else:
            options["max_file_bytes"] = int(value * 1024 * 1024)
    return options


def _open(loc: Locations, **build_options: Any) -> Index:
    from .indexer import open_index

    wait = _wait_seconds(None)
    build_options = {**_limits(), **build_options}
    return open_index(
        loc.index_corpus,
        loc.index,
        progress=_progress_callback(),
        lock_timeout=wait,
        on_wait=_on_wait(loc.index, wait),
        **build_options,
    )


def _progress_lines(
    clock: Callable[[], float] = time.monotonic, every: float | None = None
) -> Callable[[int, int], None]:
    """Off a terminal (a log, CI): a line on stderr every PROGRESS_EVERY seconds of a long embedding."""
    every = PROGRESS_EVERY if every is None else every
    started = clock()
    last = started

    def update(done: int, total: int) -> None:
        nonlocal last
        now = clock()
        if now - last >= every and total:
            last = now
            notice(f"embedding: {done}/{total} chunks ({100 * done // total}%), {now - started:.0f} s")

    return update


def _progress_callback() -> Callable[[int, int], None] | None:
    """Progress of embedding on stderr: a rich bar on a terminal, a line every few seconds elsewhere."""
    if not err.is_terminal:
        return _progress_lines()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress("embedding", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True)
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            state["live"] = bar  # stopped by the error handling when the build fails or is interrupted
            task = bar.add_task("embed", total=total)
        bar.update(task, completed=done, total=total)
        if done >= total:
            bar.stop()

    return update


# -- commands -------------------------------------------------------------------------------


@app.callback(invoke_without_command=True)
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Semantic search over a Japanese/English technical glossary."""
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


@app.command()
@handles_errors
def build(
    corpus_dirs: Annotated[list[Path] | None, typer.Argument(help="Glossary folder(s).", show_default=False)] = None,
    index: IndexOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Re-embed every chunk.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse unreadable files instead of skipping.")] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="sentence-transformers model name or folder, or 'embedded' for the built-in "
            "multilingual-e5-small (default: the index's own encoder, else embedded).",
        ),
    ] = None,
    query_prompt: Annotated[str | None, typer.Option("--query-prompt", help="Override the query prompt.")] = None,
    passage_prompt: Annotated[str | None, typer.Option("--passage-prompt", help="Override the passage prompt.")] = None,
    wait: Annotated[
        float | None,
        typer.Option(
            "--wait",
            min=0,
            metavar="SECONDS",
            help=f"How long to wait for another build of the same index (default: ${ENV_WAIT}, else 600).",
            show_default=False,
        ),
    ] = None,
    max_chunks: Annotated[
        int | None,
        typer.Option(
            "--max-chunks",
            min=1,
            metavar="N",
            help=f"Embed at most N pieces of one entry; the rest of a longer one is not embedded "
            f"(default: ${ENV_MAX_CHUNKS}, else what the index was built with, else 32).",
            show_default=False,
        ),
    ] = None,
    max_file_mb: Annotated[
        float | None,
        typer.Option(
            "--max-file-mb",
            metavar="MB",
            help=f"Skip glossary files larger than this many MiB (default: ${ENV_MAX_FILE_MB}, else 64).",
            show_default=False,
        ),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Embed as a Ray Data job: `--ray` starts Ray on this machine; with an address "
            "(auto, ray://HEAD:10001) on a Ray cluster. Needs semsearch[ray].",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build or update the index of a glossary (only changed chunks are re-embedded)."""
    from .indexer import build as build_index
    from .indexer import recorded_corpus

    loc = _locations(corpus_dirs, index)
    # An index named without a corpus is rebuilt from its own corpus, never from ./corpus or the bundled one.
    roots = list(loc.index_corpus) if loc.index_corpus is not None else recorded_corpus(loc.index)
    encoder = None
    if model or query_prompt is not None or passage_prompt is not None:
        from .encoders import encoder_for

        encoder = encoder_for(model, query_prompt=query_prompt, passage_prompt=passage_prompt)
    seconds = _wait_seconds(wait)
    built = build_index(
        roots,
        loc.index,
        encoder=encoder,
        force=force,
        strict=strict,
        progress=_progress_callback(),
        lock_timeout=seconds,
        on_wait=_on_wait(loc.index, seconds),
        ray=ray,
        **_limits(max_chunks, max_file_mb),
    )
    report = built.build_report
    assert report is not None  # an index from `build` carries its report
    if report.replaced:
        notice(f"replaced the index at {loc.index}, built from {', '.join(report.replaced)}")
    if as_json:
        emit_json(report.to_dict())
        return
    status = "built" if report.written else "up to date"
    out.print(
        f"{status}: {plain(str(loc.index))}  {report.files} files, {report.terms} terms, {report.chunks} chunks "
        f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f} s",
        soft_wrap=True,
    )
    prompts = report.to_dict()["prompts"]
    out.print(
        f"encoder: {plain(report.encoder)}  prompts: {plain(json.dumps(prompts, ensure_ascii=False))}",
        soft_wrap=True,
    )
    if report.skipped:
        out.print(
            f"skipped: {report.skipped_files} file(s), {report.skipped_terms} heading(s) (see warnings above)",
            soft_wrap=True,
        )


def _answer_json(answer: Answer, index: Index) -> dict[str, Any]:
    from .payloads import answer_object  # the same object `semsearch serve` and `semsearch mcp` return

    return answer_object(answer, index)


@app.command()
@handles_errors
def ask(
    question: Annotated[str, typer.Argument(help='The question ("-" reads it from stdin).')],
    k: KOpt = 5,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    mode: ModeOpt = DEFAULT_MODE,
    min_score: MinScoreOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Show each entry in full.")] = False,
    as_json: JsonOpt = False,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="URL",
            help="Ask a running `semsearch serve` (default: $SEMSEARCH_SERVER; '' for none); "
            "answered here when it cannot be reached.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Ask a question in Japanese or English; prints the best glossary entries."""
    # --server is taken by semsearch/client.py before this command is parsed; here the question
    # is answered locally (the server was unreachable, or the command line is one it leaves to us).
    question = _question(question)
    check_mode(mode)
    opened = _open(_locations(corpus, index))
    answer = opened.query(question, k=k, mode=mode, related=True, min_score=min_score)
    if as_json:
        emit_json(_answer_json(answer, opened))
        return
    from .render import answer_view

    bodies = [opened.term(h).body for h in answer.hits] if full else None
    out.print(answer_view(answer, bodies))


@app.command()
@handles_errors
def compare(
    question: Annotated[str, typer.Argument(help="The question.")],
    k: KOpt = 5,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    min_score: MinScoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show each side's ranking of a question (dense, use, tfidf) and the hybrid one, side by side."""
    question = _question(question)
    opened = _open(_locations(corpus, index))
    rankings = {mode: opened.query(question, k=k, mode=mode, min_score=min_score) for mode in opened.modes}
    if as_json:
        emit_json(
            {
                "query": question,
                "encoder": opened.encoder_id,
                "modes": {m: [h.to_dict() for h in a.hits] for m, a in rankings.items()},
                "mode_used": {m: a.mode for m, a in rankings.items()},  # differs after a fallback
            }
        )
        return
    from .render import compare_view

    # A narrow terminal gets lists, one line per hit: left whole for the terminal to wrap.
    out.print(compare_view(rankings, k, out.width), soft_wrap=True)


@app.command("eval")
@handles_errors
def eval_command(
    queries: Annotated[
        list[Path], typer.Argument(help="Labelled query files (JSON lines), e.g. a glossary's and the off-topic set.")
    ],
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    mode: Annotated[
        list[str] | None, typer.Option("--mode", help="Mode(s) to evaluate (default: all the index has).")
    ] = None,
    misses: Annotated[
        bool, typer.Option("--misses", help="Also list the questions whose gold entry is not first.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Recall@1, Recall@5, MRR@10, nDCG@10 per mode over a labelled query file."""
    from .evaluation import evaluate, read_queries

    modes = [check_mode(m) for m in mode or ()]
    labelled = [query for path in queries for query in read_queries(path)]
    opened = _open(_locations(corpus, index))
    result = evaluate(opened, labelled, modes or opened.modes)
    if as_json:
        emit_json(result.to_dict(misses=misses))
        return
    from .render import eval_tables, misses_table

    for table in eval_tables(result, title=" + ".join(map(str, queries))):
        out.print(table)
    if misses:
        for mode_result in result.modes.values():
            out.print(misses_table(mode_result))


@app.command()
@handles_errors
def show(
    name: Annotated[str, typer.Argument(help="Any of the term's names (case-, width- and kana-insensitive).")],
    source: Annotated[str | None, typer.Option("--source", help="Only the entry from this file.")] = None,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a term's glossary entries in full, found by any of its names."""
    from .payloads import show_entries, show_object  # shared with `semsearch serve` and `semsearch mcp`

    name = _argv_text(name, "name")
    source = _argv_text(source, "--source value") if source is not None else None
    if not name.strip():
        raise QueryError("the name is empty")
    opened = _open(_locations(corpus, index))
    if as_json:
        emit_json(show_object(opened, name, source))
        return
    names, entries = show_entries(opened, name, source)
    from .render import entry_view

    out.print(entry_view(names, [(opened.terms[e], opened.source_path(opened.terms[e])) for e in entries]))


@app.command()
@handles_errors
def terms(
    source: Annotated[str | None, typer.Option("--source", help="Only terms from this file.")] = None,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List every term in the index: names, source, line, chunks."""
    from .payloads import terms_object  # shared with `semsearch serve` and `semsearch mcp`

    source = _argv_text(source, "--source value") if source is not None else None
    data = terms_object(_open(_locations(corpus, index)), source)
    if as_json:
        emit_json(data)
        return
    from .render import terms_table

    out.print(terms_table(data["terms"]))


@app.command()
@handles_errors
def info(index: IndexOpt = None, corpus: CorpusOpt = None, as_json: JsonOpt = False) -> None:
    """Where the index is, what it was built from and with, and whether it is damaged or stale."""
    from .reports import describe

    loc = _locations(corpus, index)
    described = describe(loc.index, loc.index_corpus).to_dict()
    data = {"index": described.pop("index"), "index_origin": loc.index_origin, **described}
    if as_json:
        emit_json(data)
        return
    from .render import info_table

    out.print(info_table(data))


@app.command()
@handles_errors
def shell(
    k: KOpt = 5,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    mode: ModeOpt = DEFAULT_MODE,
    min_score: MinScoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask many questions with the index and encoder kept loaded (:mode, :k, :full, :q).

    On a terminal: line editing and history. Otherwise one question per line from stdin.
    """
    from .session import Session

    mode = check_mode(mode)  # before opening: a bad option must not cost an index build
    session = Session(_open(_locations(corpus, index)), k=k, mode=mode, min_score=min_score)
    interactive = sys.stdin.isatty()
    if interactive:
        err.print(f"semsearch shell: {len(session.index)} terms. Ask in Japanese or English; :help for commands.")
    for line in _read_lines(interactive):
        reply = session.handle(line)
        if reply.quit:
            break
        if reply.message:
            err.print(plain(reply.message))
        if reply.answer is None:
            continue
        if as_json:
            emit_json(_answer_json(reply.answer, session.index))
        else:
            from .render import answer_view

            bodies = [session.index.term(h).body for h in reply.answer.hits] if session.full else None
            out.print(answer_view(reply.answer, bodies))


@app.command()
@handles_errors
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only; see docs/server.md).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one, named at start).")
    ] = 8765,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    poll: Annotated[
        float,
        typer.Option("--poll", min=0, metavar="SECONDS", help="How often to look for corpus changes (0: never)."),
    ] = 2.0,
) -> None:
    """Keep the index warm behind an HTTP JSON API (/ask, /show, /terms, /health) until Ctrl-C.

    `semsearch ask` then asks it when $SEMSEARCH_SERVER (or --server) names it. A changed corpus is
    rebuilt in the background while the old index answers. See docs/server.md.
    """
    from .resident import Resident, check_poll
    from .server import make_server
    from .server import serve as run_server

    check_poll(poll)
    server = make_server(host, port)  # a bad option or a taken port fails before the index is opened
    server.resident = Resident(_open(_locations(corpus, index)), poll=poll, notice=notice)
    opened = server.resident.index
    run_server(
        server, on_ready=lambda url: notice(f"serving {opened.path} ({len(opened)} terms) at {url}; Ctrl-C to stop")
    )


@app.command("mcp")
@handles_errors
def mcp_command(
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    poll: Annotated[
        float,
        typer.Option("--poll", min=0, metavar="SECONDS", help="How often to look for corpus changes (0: never)."),
    ] = 2.0,
) -> None:
    """Serve the index to coding agents and editors over MCP (stdio): tools ask, show, terms.

    Needs the MCP SDK: pip install 'semsearch[mcp]'. See docs/server.md for client configurations.
    """
    from .mcp_server import require_sdk
    from .mcp_server import run as run_mcp
    from .resident import Resident, check_poll

    check_poll(poll)
    require_sdk()  # before opening the index
    run_mcp(Resident(_open(_locations(corpus, index)), poll=poll, notice=notice))


def _read_lines(interactive: bool):
    """Lines typed at a prompt (readline editing and a history file), or read from stdin."""
    if not interactive:
        for raw in sys.stdin.buffer:
            try:
                yield raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                err.print("[red]error:[/red] a line on stdin is not valid UTF-8; skipped")
        return
    from .session import readline_history

    with readline_history():
        while True:
            try:
                yield input("semsearch> ")
            except EOFError:
                err.print()
                return
            except KeyboardInterrupt:
                err.print()
                continue


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
