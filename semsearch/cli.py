"""The `semsearch` command: typer + rich. With console.py, the only module that prints or exits.

Results go to stdout (one JSON object with --json; other formats with --format); notices, warnings
and progress to stderr. How errors are shown and which exit code each gets: console.py. How text is
laid out on a terminal and off one: render.py. The other formats: formats.py.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

# A one-shot command does no large matrix work on the query path, but the BLAS thread pools that
# numpy and FAISS start at import cost CPU (measured: docs/performance.md). Set before anything
# imports numpy; a user's own setting wins. Library use is unaffected.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer
from typer.core import TyperCommand, TyperGroup

from ._version import __version__
from .console import (
    EXIT_CODES,
    JSON_FORMATS,
    LogHandler,
    UsageError,
    emit_json,
    emit_text,
    err,
    handles_errors,
    notice,
    out,
    page,
    plain,
    setup_streams,
    state,
    usage_error,
)
from .errors import QueryError
from .limits import K_MAX, STDIN_LIMIT
from .locate import Locations, resolve
from .modes import DEFAULT_MODE, MODES, check_mode

if TYPE_CHECKING:
    from .reports import BuildReport
    from .search import Answer, Index

__all__ = ["EXIT_CODES", "app", "main"]


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
    """A command whose usage line names a required argument as QUESTION, not {QUESTION}."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]


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

# How long a build waits for another build of the same index (`build --wait` overrides it).
ENV_WAIT = "SEMSEARCH_WAIT"
DEFAULT_WAIT = 600.0
# The limits on runaway input (`build --max-chunks`, `--max-file-mb`), also for the builds `ask` starts.
ENV_MAX_CHUNKS = "SEMSEARCH_MAX_CHUNKS"
ENV_MAX_FILE_MB = "SEMSEARCH_MAX_FILE_MB"
# Off a terminal, a long build says how far it is on stderr this often.
PROGRESS_EVERY = 5.0


# -- shared options -------------------------------------------------------------------------


class Mode(str, Enum):
    """The ranking modes as choices (modes.MODES; any case)."""

    dense = "dense"
    use = "use"
    tfidf = "tfidf"
    hybrid = "hybrid"


class Format(str, Enum):
    """Output formats (formats.py)."""

    text = "text"
    json = "json"
    jsonl = "jsonl"
    tsv = "tsv"
    markdown = "markdown"


assert tuple(m.value for m in Mode) == MODES
DEFAULT = Mode(DEFAULT_MODE)

IndexOpt = Annotated[
    str | None,
    typer.Option(
        "--index",
        metavar="DIR",
        help="Index directory, or a Qdrant store: qdrant+local:///PATH, qdrant://HOST:PORT/NAME (default: "
        "$SEMSEARCH_INDEX, else ./index when the corpus is ./corpus, else the index `semsearch build --index` "
        "made of this corpus, else a per-user cache folder; `semsearch info` says which).",
        show_default=False,
    ),
]
CorpusOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--corpus",
        metavar="DIR",
        help="Glossary folder; repeat for several (default: $SEMSEARCH_CORPUS, else ./corpus, else the "
        "glossary bundled with semsearch; with --index alone, the corpus that index was built from).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout (as --format json).")]
FormatOpt = Annotated[
    Format,
    typer.Option(
        "--format",
        case_sensitive=False,
        help="text: cards and tables on a terminal, plain lines elsewhere; json: one object (as --json); "
        "jsonl: one object per line; tsv: a header line, then tab-separated lines; markdown.",
    ),
]
KOpt = Annotated[
    int, typer.Option("-k", "--top", min=1, max=K_MAX, metavar="N", help=f"Number of hits (1 to {K_MAX}).")
]
ModeOpt = Annotated[
    Mode,
    typer.Option(
        "--mode",
        case_sensitive=False,
        help="Ranking: dense (the sentence encoder), tfidf (shared words and characters), hybrid (both).",
    ),
]
MinScoreOpt = Annotated[
    float | None,
    typer.Option(
        "--min-score",
        min=0.0,
        max=1.0,
        metavar="S",
        help="Only hits scoring at least S (scores go from 0 to 1; default: no minimum).",
        show_default=False,
    ),
]
QuestionArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="QUESTION",
        help="The question, in Japanese or English; several words need no quotes. Without it (or with "
        "'-'), the question is read from stdin.",
        show_default=False,
    ),
]


def _format(output_format: Format, as_json: bool) -> str:
    """The output format a command line asks for: --json is --format json."""
    chosen = output_format.value
    if as_json and chosen not in ("text", "json"):
        raise QueryError(f"--json and --format {chosen} disagree; give one of them")
    return "json" if as_json else chosen


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
    if getattr(index, "engine", None) in ("local", "edge"):  # open in another process (serve, mcp, a build)
        return lambda: notice(f"another process has {index} open; waiting up to {seconds:g} s for it to close it")
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


def _question(ctx: typer.Context, words: list[str] | None) -> str:
    """The question: its words joined (no quotes needed), or stdin for "-" or when no word is given
    and stdin is not a terminal (`echo q | semsearch ask`); refuses undecodable bytes."""
    words = list(words or [])
    if not words and _interactive_stdin():
        raise UsageError("Missing argument 'QUESTION'.", ctx)
    if words in ([], ["-"]):
        # Bounded: `yes q | semsearch ask` must not read forever (the encoder reads ~500 characters).
        data = sys.stdin.buffer.read(STDIN_LIMIT + 1)
        try:
            text = codecs.getincrementaldecoder("utf-8")().decode(data[:STDIN_LIMIT], final=len(data) <= STDIN_LIMIT)
        except UnicodeDecodeError as error:
            raise QueryError(f"the question on stdin is not valid UTF-8 (byte {error.start})") from None
        text = text.removesuffix("\n").removesuffix("\r")  # `echo question |` ends it with a newline
        if not words and not text.strip():
            raise UsageError("Missing argument 'QUESTION' (and nothing on stdin).", ctx)
    else:
        text = " ".join(_argv_text(word, "question") for word in words)
    if not text.strip():
        raise QueryError("the question is empty")
    return text


def _interactive_stdin() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _locations(corpus: list[Path] | None, index: str | None) -> Locations:
    """Where the corpus and the index are. An index the user built of this corpus elsewhere
    (`semsearch build CORPUS --index DIR`) is used rather than a second copy in the cache."""
    loc = resolve(corpus or None, index)
    if loc.index_origin == "cache" and isinstance(loc.index, Path) and not (loc.index / "manifest.json").exists():
        from .caches import remembered

        known = remembered(loc.corpus)
        if known is not None:
            return Locations(loc.corpus, known, loc.corpus_origin, "built by `semsearch build --index`")
    return loc


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


def _open(loc: Locations) -> Index:
    from .building import BuildOptions
    from .opening import open_index

    wait = _wait_seconds(None)
    options = BuildOptions(
        progress=_progress_callback(), lock_timeout=wait, on_wait=_on_wait(loc.index, wait), **_limits()
    )
    opened = open_index(loc.index_corpus, loc.index, options)
    if loc.index_origin == "cache" and isinstance(loc.index, Path):
        from .caches import mark_used

        mark_used(loc.index)  # for `semsearch cache`: when it was last used
        report = opened.build_report
        if report is not None and report.written and report.reused == 0:
            corpus = " ".join(map(str, loc.corpus))
            notice(
                f"(that index is in the per-user cache; `semsearch build {corpus} --index DIR` keeps one where "
                "you choose, and `semsearch cache` lists and prunes cached indexes)"
            )
    return opened


def _duration(seconds: float) -> str:
    """A duration for people: 12 s, 2 min 5 s, 1 h 3 min."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def _progress_lines(
    clock: Callable[[], float] = time.monotonic, every: float | None = None
) -> Callable[[int, int], None]:
    """Off a terminal (a log, CI): a line on stderr every PROGRESS_EVERY seconds of a long embedding,
    with the rate so far and the time left at that rate."""
    every = PROGRESS_EVERY if every is None else every
    started: float | None = None
    last = 0.0

    def update(done: int, total: int) -> None:
        nonlocal started, last
        now = clock()
        if started is None:
            started = last = now
        if now - last < every or not total:
            return
        last = now
        elapsed = now - started
        line = f"embedding: {done}/{total} chunks ({100 * done // total}%), {_duration(elapsed)}"
        if elapsed > 0 and done:
            rate = done / elapsed
            line += f", {rate:.1f} chunks/s"
            if done < total:
                line += f", about {_duration((total - done) / rate)} left"
        notice(line)

    return update


def _progress_callback() -> Callable[[int, int], None] | None:
    """Progress of embedding on stderr: a rich bar on a terminal, a line every few seconds elsewhere."""
    if not err.is_terminal:
        return _progress_lines()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TaskProgressColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f} chunks/s" if task.speed else "", style="dim")

    bar = Progress(
        "embedding",
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        Rate(),
        TimeElapsedColumn(),
        "left",
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _prompts(query: str, passage: str) -> str:
    if not query and not passage:
        return "no prompts"
    return f'prompts "{plain(query)}" (questions) and "{plain(passage)}" (entries)'


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


@app.command(cls=_Command, short_help="Build or update an index (only changed entries are embedded again).")
@handles_errors
def build(
    corpus_dirs: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[CORPUS_DIR]...",
            help="Glossary folder(s) (default: with --index, the corpus that index was built from; else as --corpus "
            "of the other commands).",
            show_default=False,
        ),
    ] = None,
    index: IndexOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Embed every chunk again.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse unreadable files instead of skipping them.")] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="NAME",
            help="sentence-transformers model name or folder, or 'embedded' for the built-in "
            "multilingual-e5-small (default: the index's own encoder, else embedded).",
            show_default=False,
        ),
    ] = None,
    query_prompt: Annotated[
        str | None,
        typer.Option("--query-prompt", metavar="TEXT", help="Override the model's query prompt.", show_default=False),
    ] = None,
    passage_prompt: Annotated[
        str | None,
        typer.Option(
            "--passage-prompt", metavar="TEXT", help="Override the model's passage prompt.", show_default=False
        ),
    ] = None,
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
    """Build or update the index of a glossary. Only entries whose text changed are embedded again;
    a build that finds nothing changed says "up to date".

    \b
    Examples:
      semsearch build ~/glossary --index ~/glossary-index
      semsearch build --index ~/glossary-index          (refresh it from its own corpus)
      semsearch build --force --model intfloat/multilingual-e5-base
    """
    from .building import build as build_index

    loc = _locations(corpus_dirs, index)
    # An index named without a corpus is rebuilt from its own corpus, never from ./corpus or the bundled one.
    roots = list(loc.index_corpus) if loc.index_corpus is not None else None
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
    if loc.index_origin != "cache" and isinstance(loc.index, Path):  # a directory, not a Qdrant store
        from .caches import remember

        remember(loc.index, built.manifest.roots)  # so that `ask --corpus` finds it, not the cache
    if report.replaced:
        notice(f"replaced the index at {loc.index}, built from {', '.join(report.replaced)}")
    if as_json:
        emit_json(report.to_dict())
        return
    _build_summary(loc.index, report)


def _build_summary(index: object, report: BuildReport) -> None:
    """What `build` says when it is done, for people: counts, the encoder, what was skipped."""
    status = "built" if report.written else "up to date"
    counts = f"{_plural(report.files, 'file')}, {_plural(report.terms, 'term')}, {_plural(report.chunks, 'chunk')}"
    work = f"{report.embedded} embedded, {report.reused} reused"
    out.print(f"{status}: {plain(str(index))}  {counts} ({work}) in {report.seconds:.1f} s")
    out.print(f"encoder: {plain(report.encoder)}, {_prompts(report.query_prompt, report.passage_prompt)}")
    if report.skipped:
        skipped = f"skipped: {_plural(report.skipped_files, 'file')}, {_plural(report.skipped_terms, 'heading')}"
        repeated = [w.removeprefix("skipped ") for w in report.repeated if w.startswith("skipped ")]
        if repeated:
            out.print(f"{skipped}, as at the previous build: {plain('; '.join(repeated))}")
        else:
            out.print(f"{skipped} (see the warnings above)")


@app.command(cls=_Command, short_help="Ask a question; prints the best glossary entries.")
@handles_errors
def ask(
    ctx: typer.Context,
    question: QuestionArg = None,
    k: KOpt = 5,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    mode: ModeOpt = DEFAULT,
    min_score: MinScoreOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Show each entry in full (in JSON: its body).")] = False,
    sure_only: Annotated[
        bool,
        typer.Option(
            "--sure-only",
            help="Count only a sure answer as an answer: possible matches exit 1, as no match does.",
        ),
    ] = False,
    output_format: FormatOpt = Format.text,
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
    """Ask a question in Japanese or English; prints the best glossary entries, each with its file
    and line, the line of it that matches best, and related terms. The first question builds the
    index when there is none (and a changed corpus is indexed again).

    Every answer says how sure it is: sure (the first entry is the answer), possible (the entries
    are possible matches, none of them sure) or no match (the glossary has nothing for it; the
    closest entries are named). Exit status, as grep's: 0 an answer (sure or possible), 1 no match
    (also possible matches with --sure-only), 2 and up an error.

    \b
    Examples:
      semsearch ask 勾配消失とは
      semsearch ask how do I stop overfitting -k 3
      echo "過学習を防ぐには" | semsearch ask
      semsearch ask dropout --format tsv | cut -f3,7
      semsearch ask "attention" --json --full | jq -r '.hits[0].body'
      semsearch ask --sure-only -k 1 --format tsv "$word" > hit.tsv || echo "no sure answer"
    """
    # --server is taken by semsearch/client.py before this command is parsed; here the question
    # is answered locally (the server was unreachable, or the command line is one it leaves to us).
    fmt = _format(output_format, as_json)
    text = _question(ctx, question)
    opened = _open(_locations(corpus, index))
    answer = opened.query(text, k=k, mode=mode.value, related=True, min_score=min_score)
    _print_answer(answer, opened, fmt, full)
    from .confidence import answered, unanswered_notice

    if not answered(answer.state, sure_only):
        if fmt != "text":  # the text says it; other formats carry the state, and stderr says it
            notice(unanswered_notice(answer.state, text, bool(answer.hits)))
        raise typer.Exit(EXIT_CODES["no_match"])


def _print_answer(answer: Answer, index: Index, fmt: str, full: bool) -> None:
    """An answer in a format, as `ask` prints it (and `semsearch serve` for the thin client)."""
    if fmt == "json":
        from .payloads import answer_object  # the same object `semsearch serve` and `semsearch mcp` return

        emit_json(answer_object(answer, index, full))
        return
    from .render import answer_output

    output = answer_output(answer, index, fmt, full)
    if isinstance(output, str):
        emit_text(output)
    else:
        out.print(output)


@app.command(cls=_Command, short_help="The dense, tfidf and hybrid rankings side by side.")
@handles_errors
def compare(
    ctx: typer.Context,
    question: QuestionArg = None,
    k: KOpt = 5,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    min_score: MinScoreOpt = None,
    output_format: FormatOpt = Format.text,
    as_json: JsonOpt = False,
) -> None:
    """Show how each mode the index has (dense, use, tfidf, hybrid) ranks a question, side by side (one list after
    another on a narrow terminal).

    \b
    Examples:
      semsearch compare 過学習を防ぐには -k 3
      semsearch compare attention --format tsv
    """
    fmt = _format(output_format, as_json)
    text = _question(ctx, question)
    opened = _open(_locations(corpus, index))
    rankings = {mode: opened.query(text, k=k, mode=mode, min_score=min_score) for mode in opened.modes}
    from .payloads import compare_object

    data = compare_object(text, rankings, opened)
    if fmt == "json":
        emit_json(data)
        return
    if fmt != "text":
        from .formats import compare_text

        emit_text(compare_text(data, fmt))
        return
    from .render import compare_view

    out.print(compare_view(rankings, k))


@app.command("eval", cls=_Command, short_help="Recall@1, Recall@5, MRR@10, nDCG@10 per mode over labelled questions.")
@handles_errors
def eval_command(
    queries: Annotated[
        list[Path],
        typer.Argument(metavar="QUERIES.jsonl...", help="Labelled query files (JSON lines, format below)."),
    ],
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    mode: Annotated[
        list[Mode] | None,
        typer.Option(
            "--mode",
            case_sensitive=False,
            help="Mode to evaluate; repeat for several (default: every mode the index has).",
            show_default=False,
        ),
    ] = None,
    misses: Annotated[
        bool,
        typer.Option(
            "--misses", help="Also list the questions whose gold entry is not first, and off-topic ones answered sure."
        ),
    ] = False,
    output_format: FormatOpt = Format.text,
    as_json: JsonOpt = False,
) -> None:
    """Measure retrieval: Recall@1, Recall@5, MRR@10 and nDCG@10 per mode over labelled questions,
    by language and kind when the file says them, and how off-topic questions were answered. A gold
    name that no entry of the glossary has is an error (exit 2) that lists them.

    \b
    Examples:
      semsearch eval bench/queries/deep-learning.dev.jsonl bench/queries/offtopic.dev.jsonl
      semsearch eval my-questions.jsonl --mode hybrid --misses
      semsearch eval my-questions.jsonl --format tsv

    \b
    Query file: JSON lines, one question per line:
      {"q": "勾配消失とは", "gold": ["勾配消失問題"], "lang": "ja", "kind": "definition"}
      {"q": "明日の天気は", "gold": []}
    q is the question; gold, the names of the entries that answer it (any of an entry's
    names; case and width do not matter); "gold": [] marks an off-topic question, which
    should get "no confident match"; id, lang and kind are optional (lang and kind give
    the tables by language and kind). Blank lines and lines starting with // are skipped.
    """
    from .evaluation import evaluate, read_queries

    fmt = _format(output_format, as_json)
    modes = [check_mode(m.value) for m in mode or ()]
    labelled = [query for path in queries for query in read_queries(path)]
    opened = _open(_locations(corpus, index))
    result = evaluate(opened, labelled, modes or opened.modes)
    data = result.to_dict(misses=misses)
    if fmt == "json":
        emit_json(data)
        return
    if fmt != "text":
        from .formats import eval_text

        emit_text(eval_text(data, fmt, misses=misses))
        return
    from .render import eval_tables, misses_table

    for number, view in enumerate(eval_tables(result, title=" + ".join(map(str, queries)))):
        if number:
            out.print()
        out.print(view)
    if misses:
        for mode_result in result.modes.values():
            out.print()
            out.print(misses_table(mode_result))


@app.command(cls=_Command, short_help="Print a term's glossary entries in full (--open: in your editor).")
@handles_errors
def show(
    name: Annotated[
        list[str],
        typer.Argument(
            metavar="TERM", help="Any of the term's names (case-, width- and kana-insensitive; no quotes needed)."
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            metavar="FILE",
            help="Only the entry from this file (its path as `terms` lists it, or its name alone when unique).",
            show_default=False,
        ),
    ] = None,
    open_editor: Annotated[
        bool,
        typer.Option("--open", help="Open the entry in $VISUAL or $EDITOR at its line, instead of printing it."),
    ] = False,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    output_format: FormatOpt = Format.text,
    as_json: JsonOpt = False,
) -> None:
    """Print a term's glossary entries in full, found by any of its names; or open it in your editor
    at its line (--open: $VISUAL, else $EDITOR, given `+LINE FILE` as vi, vim, nvim, emacs, nano,
    micro and kak take it, `--goto FILE:LINE` for VS Code and `FILE:LINE` for Sublime Text, Zed and
    Helix).

    \b
    Examples:
      semsearch show dropout
      semsearch show 勾配消失問題 --open
      semsearch show overfitting --source ml.md --format markdown
    """
    from .payloads import show_object, show_terms  # shared with `semsearch serve` and `semsearch mcp`

    fmt = _format(output_format, as_json)
    term = " ".join(_argv_text(word, "name") for word in name)
    source = _argv_text(source, "--source value") if source is not None else None
    if not term.strip():
        raise QueryError("the name is empty")
    opened = _open(_locations(corpus, index))
    if open_editor:
        (_, entries), *homonyms = show_terms(opened, term, source)
        for names, others in homonyms:  # the name is a homonym's: say where the other terms are
            other = opened.terms[others[0]]
            notice(f"{term} also names {' | '.join(names)} ({other.source}:{other.line})")
        entry = opened.terms[entries[0]]
        _edit(opened.source_path(entry), entry.line, entry.source)
        return
    data = show_object(opened, term, source)
    if fmt == "json":
        emit_json(data)
        return
    if fmt != "text":
        from .formats import show_text

        emit_text(show_text(data, fmt))
        return
    from rich.console import Group
    from rich.text import Text

    from .render import entry_view

    views: list[Any] = []
    for term in [data, *data["homonyms"]]:  # a homonym's terms one under the other
        if views:
            views.append(Text(""))
        shown = [(e["source"], e["line"], e["path"] or "", e["body"]) for e in term["entries"]]
        views.append(entry_view(term["term"]["names"], shown))
    out.print(Group(*views))


def _edit(path: str, line: int, source: str) -> None:
    """Run the user's editor on `path` at `line` (it has the terminal until it exits)."""
    import subprocess

    from .editor import editor_command

    if not path:
        raise QueryError(f"the file {source!r} is no longer where the index found it; rebuild the index")
    command = editor_command(os.environ, path, line)
    try:
        done = subprocess.run(command, check=False)
    except OSError as error:
        raise QueryError(f"cannot run the editor {command[0]!r} ({error.strerror or error})") from None
    if done.returncode:
        raise QueryError(f"the editor {command[0]!r} exited with status {done.returncode}")


@app.command(cls=_Command, short_help="Every term, grouped by file.")
@handles_errors
def terms(
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            metavar="FILE",
            help="Only terms from this file (its path as listed, or its name alone when unique: llm-rag.md).",
            show_default=False,
        ),
    ] = None,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    output_format: FormatOpt = Format.text,
    as_json: JsonOpt = False,
) -> None:
    """List every term in the index, grouped by file: line, names, and how many chunks a long entry
    is embedded as. On a terminal, a list longer than the screen goes through $PAGER (else less).

    \b
    Examples:
      semsearch terms
      semsearch terms --source llm-rag.md
      semsearch terms --format tsv | cut -f1,4
    """
    from .payloads import terms_object  # shared with `semsearch serve` and `semsearch mcp`

    fmt = _format(output_format, as_json)
    source = _argv_text(source, "--source value") if source is not None else None
    data = terms_object(_open(_locations(corpus, index)), source)
    if fmt == "json":
        emit_json(data)
        return
    if fmt != "text":
        from .formats import terms_text

        emit_text(terms_text(data, fmt))
        return
    from .render import terms_view

    page(terms_view(data["terms"]))


@app.command(cls=_Command, short_help="Where the index is, what it holds, whether it is stale or damaged.")
@handles_errors
def info(index: IndexOpt = None, corpus: CorpusOpt = None, as_json: JsonOpt = False) -> None:
    """Where the index is (and why there), the corpus and encoder it was built from and with, its
    counts, when it was built, and whether it is damaged or stale.

    \b
    Examples:
      semsearch info
      semsearch info --index ~/glossary-index --json
    """
    from .reports import describe

    loc = _locations(corpus, index)
    described = describe(loc.index, loc.index_corpus).to_dict()
    data = {"index": described.pop("index"), "index_origin": loc.index_origin, **described}
    if as_json:
        emit_json(data)
        return
    from .render import info_rows, info_view

    out.print(info_view(info_rows(data)))


@app.command(cls=_Command, short_help="Many questions with the index kept loaded (:mode, :k, :full, :q).")
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
    :full [on|off], :help, :q (or exit, or Ctrl-D); alone, :mode and :k show the current value.

    On a terminal: line editing and a history. Otherwise one question per line from stdin.

    \b
    Examples:
      semsearch shell -k 3
      printf 'dropout\\n過学習\\n' | semsearch shell --json
    """
    from .session import Session

    check_mode(mode.value)
    session = Session(_open(_locations(corpus, index)), k=k, mode=mode.value, min_score=min_score)
    interactive = _interactive_stdin()
    if interactive:
        err.print(f"semsearch shell: {len(session.index)} terms. Ask in Japanese or English; :help for commands.")
    for line in _read_lines(interactive):
        reply = session.handle(line)
        if reply.quit:
            break
        if reply.message:
            err.print(plain(reply.message), soft_wrap=True)
        if reply.answer is None:
            continue
        _print_answer(reply.answer, session.index, "json" if as_json else "text", session.full)


@app.command(cls=_Command, short_help="Keep the index warm behind an HTTP JSON API.")
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
) -> None:
    """Keep the index warm behind an HTTP JSON API (GET /ask?q=…, /show?term=…, /terms, /health)
    until Ctrl-C. `semsearch ask` then asks it when $SEMSEARCH_SERVER (or --server) names it. A
    changed corpus is indexed again in the background while the old index answers.

    \b
    Examples:
      semsearch serve --corpus ~/glossary &
      curl -s --get --data-urlencode 'q=勾配消失とは' http://127.0.0.1:8765/ask
      SEMSEARCH_SERVER=http://127.0.0.1:8765 semsearch ask 過学習
    """
    from .resident import Resident, check_poll
    from .server import make_server
    from .server import serve as run_server

    check_poll(poll)
    # A bad option or a taken port fails before the index is opened.
    server = make_server(host, port, allow_hosts=[_argv_text(name, "--allow-host value") for name in allow_host or ()])
    server.resident = Resident(_open(_locations(corpus, index)), poll=poll, notice=notice)
    opened = server.resident.index
    run_server(
        server, on_ready=lambda url: notice(f"serving {opened.path} ({len(opened)} terms) at {url}; Ctrl-C to stop")
    )


@app.command("mcp", cls=_Command, short_help="Serve the index to coding agents and editors over MCP.")
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
    from .mcp_server import require_sdk
    from .mcp_server import run as run_mcp
    from .resident import Resident, check_poll

    check_poll(poll)
    require_sdk()  # before opening the index
    run_mcp(Resident(_open(_locations(corpus, index)), poll=poll, notice=notice))


# -- lint -----------------------------------------------------------------------------------------
# One block: the options, the library call, the output (the rules themselves: semsearch/linter/).


def _lint_rules() -> list[str]:
    """The rules, for shell completion (loaded only when completing: not at every start)."""
    from .linter.findings import RULES

    return list(RULES)


class LintFormat(str, Enum):
    """`lint`'s output formats (formats.LINT_FORMATS)."""

    text = "text"
    json = "json"
    jsonl = "jsonl"
    tsv = "tsv"
    grep = "grep"


RuleOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--rule",
        metavar="RULE",
        help="Run only this rule; repeat for several (the rules are named above).",
        autocompletion=_lint_rules,
        show_default=False,
    ),
]
IgnoreOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ignore",
        metavar="RULE",
        help="Do not run this rule; repeat for several.",
        autocompletion=_lint_rules,
        show_default=False,
    ),
]


@app.command("lint", cls=_Command, short_help="What a glossary's authors should know: duplicates, homonyms, gaps.")
@handles_errors
def lint_command(
    corpus_dirs: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[CORPUS_DIR]...",
            help="Glossary folder(s), the same as --corpus (default: see --corpus).",
            show_default=False,
        ),
    ] = None,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    rule: RuleOpt = None,
    ignore: IgnoreOpt = None,
    max_chunks: Annotated[
        int | None,
        typer.Option(
            "--max-chunks",
            min=1,
            metavar="N",
            help="oversized: report entries longer than N pieces (default: the glossary's settings, else what "
            "the index was built with).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        LintFormat,
        typer.Option(
            "--format",
            case_sensitive=False,
            help="text: a line per finding, its places under it; json: one object (as --json); jsonl: a finding "
            "per line; tsv; grep: path:line:col: rule: message, a line per place (editors, CI annotations).",
        ),
    ] = LintFormat.text,
    as_json: JsonOpt = False,
) -> None:
    """Report what a glossary's authors should know: one term written in several places with
    different bodies (duplicate), one name for two concepts (homonym), two names for one concept
    (near-duplicate), entries without a body or with too little of one (empty, short), terms named
    in one language only (one-language), links to entries that do not exist (broken-link), headings
    that parse oddly and files not read (parse), entries too long to embed whole (oversized).

    Findings go to stdout, a summary line to stderr. Exit status: 0 no findings, 1 findings, 2 and
    up an error. Settings (rules off, thresholds): a .semsearch.toml ([lint]) or pyproject.toml
    ([tool.semsearch.lint]) in the glossary folder; an entry accepts a finding with
    <!-- semsearch: allow RULE --> under its heading. The index is built or refreshed when needed,
    as for ask; its stored vectors say how alike entries are.

    \b
    Examples:
      semsearch lint ~/glossary
      semsearch lint ~/glossary --format grep > lint.txt; vim -q lint.txt
      semsearch lint --rule duplicate --rule homonym --format json | jq '.findings[].message'
      semsearch lint ~/glossary --ignore one-language --ignore short
    """
    from .corpus import MAX_FILE_BYTES
    from .linter import lint

    if as_json and output_format.value not in ("text", "json"):
        raise QueryError(f"--json and --format {output_format.value} disagree; give one of them")
    fmt = "json" if as_json else output_format.value
    loc = _locations([*(corpus_dirs or ()), *(corpus or ())] or None, index)
    opened = _open(loc)
    report = lint(
        loc.index_corpus,
        opened,
        select=rule or None,
        ignore=ignore or (),
        max_pieces=max_chunks,
        max_file_bytes=_limits().get("max_file_bytes", MAX_FILE_BYTES),
    )
    data = report.to_dict()
    if fmt == "json":
        emit_json(data)
    else:
        from .formats import lint_text

        emit_text(lint_text(data, fmt, cwd=os.getcwd()))
    for line in report.notes:
        notice(line)
    notice(f"lint: {report.summary()}")
    if report.findings:
        raise typer.Exit(EXIT_CODES["findings"])


# -- cache ----------------------------------------------------------------------------------------

cache_app = typer.Typer(cls=_Commands, no_args_is_help=False, rich_markup_mode=None)
app.add_typer(
    cache_app, name="cache", short_help="List, prune or remove the indexes and shared weights in the per-user cache."
)


@cache_app.callback(invoke_without_command=True)
@handles_errors
def cache(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the indexes semsearch keeps in the per-user cache ($XDG_CACHE_HOME/semsearch/indexes,
    by default under ~/.cache): an index goes there when no --index is given and the corpus is not
    ./corpus. Each with its corpus, its size and when it was last used. Then the converted model
    weights every index shares ($XDG_CACHE_HOME/semsearch/models), each with how many indexes use it.

    \b
    Examples:
      semsearch cache
      semsearch cache prune --older-than 30
      semsearch cache prune --missing-corpus
      semsearch cache prune --unused-weights
      semsearch cache rm glossary-0123456789ab
    """
    if ctx.invoked_subcommand is not None:
        return
    from .caches import cached_indexes, shared_weights

    base, entries = cached_indexes()
    root, shared = shared_weights()
    if as_json:
        emit_json(
            {
                "cache": str(base) if base else None,
                "indexes": [e.to_dict() for e in entries],
                "weights": {"folder": str(root) if root else None, "entries": [w.to_dict() for w in shared]},
            }
        )
        return
    from .render import cache_view, weights_view

    out.print(cache_view(base, entries, time.time()))
    if shared:
        out.print(weights_view(root, shared))


@cache_app.command(
    "prune",
    cls=_Command,
    short_help="Remove cached indexes not used for DAYS days or whose corpus is gone, and weights no index uses.",
)
@handles_errors
def cache_prune(
    older_than: Annotated[
        float | None,
        typer.Option(
            "--older-than", min=0, metavar="DAYS", help="Remove those not used for DAYS days.", show_default=False
        ),
    ] = None,
    missing_corpus: Annotated[
        bool, typer.Option("--missing-corpus", help="Remove those whose corpus folder is gone (or unknown).")
    ] = False,
    unused_weights: Annotated[
        bool,
        typer.Option(
            "--unused-weights",
            help="Remove the shared weights that no index semsearch knows of uses, nor the installed encoder.",
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove the cached indexes that match every condition given: not used for DAYS days
    (--older-than), their corpus gone (--missing-corpus). With --unused-weights, then the shared
    weights that no index semsearch knows of uses (those in the cache and those `build --index`
    made elsewhere) and that the installed encoder would not load: another index that uses them
    converts them again (seconds) when next used. Nothing is removed without a condition.

    \b
    Examples:
      semsearch cache prune --older-than 30
      semsearch cache prune --missing-corpus --dry-run
      semsearch cache prune --unused-weights
    """
    from .caches import cached_indexes

    if older_than is None and not missing_corpus and not unused_weights:
        raise QueryError(
            "say what to prune: --older-than DAYS, --missing-corpus, --unused-weights, or several (or `cache rm NAME`)"
        )
    if older_than is not None and not math.isfinite(older_than):
        raise QueryError(f"--older-than must be a number of days, not {older_than}")
    now = time.time()
    chosen = []
    if older_than is not None or missing_corpus:
        _, entries = cached_indexes()
        chosen = [
            e
            for e in entries
            if (older_than is None or now - e.last_used >= older_than * 86400)
            and (not missing_corpus or e.corpus_missing)
        ]
    _remove_cached(chosen, dry_run, as_json, weights=unused_weights)


@cache_app.command("rm", cls=_Command, short_help="Remove cached indexes by name.")
@handles_errors
def cache_rm(
    names: Annotated[list[str], typer.Argument(metavar="NAME...", help="Names as `semsearch cache` lists them.")],
    as_json: JsonOpt = False,
) -> None:
    """Remove cached indexes by name (as `semsearch cache` lists them; a unique beginning is enough).

    \b
    Examples:
      semsearch cache rm glossary-0123456789ab
    """
    from .caches import cached_indexes

    _, entries = cached_indexes()
    chosen = []
    for name in names:
        if not name.strip():
            raise QueryError("an empty name matches nothing; name the index as `semsearch cache` lists it")
        matches = [e for e in entries if e.name == name] or [e for e in entries if e.name.startswith(name)]
        if len(matches) != 1:
            listed = ", ".join(e.name for e in matches) if matches else ", ".join(e.name for e in entries) or "none"
            what = "could be" if matches else "is not in the cache; cached indexes:"
            raise QueryError(f"{name!r} {what} {listed}")
        chosen += [e for e in matches if e not in chosen]
    _remove_cached(chosen, False, as_json)


def _remove_cached(chosen: list[Any], dry_run: bool, as_json: bool, *, weights: bool = False) -> None:
    """Remove the cached indexes `chosen`, then (`weights`) the shared weights no index uses."""
    from .caches import remove, remove_weights, shared_weights
    from .render import human_size

    removed = []
    for entry in chosen:
        if not dry_run:
            remove(entry)
        removed.append(entry)
    # After the indexes: weights that only a removed index used are unused now (in a dry run, counted so).
    gone = {str(e.path) for e in removed}
    unused = [w for w in shared_weights()[1] if weights and not w.installed and set(w.used_by) <= gone]
    for entry in unused:
        if not dry_run:
            remove_weights(entry)
    if as_json:
        emit_json(
            {
                "removed": [e.to_dict() for e in removed],
                "removed_weights": [w.to_dict() for w in unused],
                "dry_run": dry_run,
            }
        )
        return
    verb = "would remove" if dry_run else "removed"
    for entry in removed:
        corpus = ", ".join(entry.corpus) or "corpus unknown"
        out.print(f"{verb} {plain(entry.name)}  {human_size(entry.size)}  ({plain(corpus)})")
    for shared in unused:
        out.print(f"{verb} {plain(shared.key)}  {human_size(shared.size)}  (shared weights no index uses)")
    total = sum(e.size for e in removed) + sum(w.size for w in unused)
    count = "1 index" if len(removed) == 1 else f"{len(removed)} indexes"
    if weights:
        count += ", 1 set of shared weights" if len(unused) == 1 else f", {len(unused)} sets of shared weights"
    out.print(f"{verb} {count}, {human_size(total)}")


def _read_lines(interactive: bool) -> Iterator[str]:
    """Lines typed at a prompt (readline editing and a history file), or read from stdin."""
    if not interactive:
        while raw := sys.stdin.buffer.readline(STDIN_LIMIT):
            try:
                yield codecs.getincrementaldecoder("utf-8")().decode(raw, final=False).rstrip("\r\n")
            except UnicodeDecodeError:
                err.print("[red]error:[/red] a line on stdin is not valid UTF-8; skipped")
            if len(raw) == STDIN_LIMIT and not raw.endswith(b"\n"):  # overlong: answered, the rest skipped
                while (rest := sys.stdin.buffer.readline(STDIN_LIMIT)) and not rest.endswith(b"\n"):
                    pass
        return
    from .session import forget_blank, readline_history

    with readline_history():
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
