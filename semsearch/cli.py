"""The `semsearch` command: typer + rich. The only module that prints or exits.

Results go to stdout (one JSON object with --json); notices, warnings and progress to stderr.
Library errors (`semsearch.errors`) become one line on stderr, or `{"error": {...}}` on stdout with
--json, and the exit code their class names; --debug shows the traceback instead.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from . import __version__
from .errors import QueryError, SemsearchError
from .locate import Locations, resolve
from .search import DEFAULT_MODE, MODES, Answer, Index

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Semantic search over a Japanese/English technical glossary.",
)

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)
_state = {"debug": False}

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = {"ok": 0, "internal": 1, "usage": 2, "corpus": 3, "index": 4, "encoder": 5}

# -- shared options -------------------------------------------------------------------------

IndexOpt = Annotated[
    Path | None, typer.Option("--index", help="Index directory (default: see README, 'Where things live').")
]
CorpusOpt = Annotated[
    list[Path] | None, typer.Option("--corpus", help="Glossary folder; repeat for several.", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
KOpt = Annotated[int, typer.Option("-k", "--top", min=1, max=1000, help="Number of hits.")]
ModeOpt = Annotated[str, typer.Option("--mode", help=f"Ranking: {', '.join(MODES)}.")]


def _emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _notice(message: str) -> None:
    err.print(_plain(message), style="dim")


def _plain(message: str) -> str:
    from .text import safe_text

    return safe_text(message).replace("[", "\\[")


class _WarningHandler(logging.Handler):
    """Library warnings become one 'warning:' line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"[yellow]warning:[/yellow] {_plain(record.getMessage())}")


def _handles_errors(command: F) -> F:
    """Turn library errors into one line (or a JSON error object) and the right exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except SemsearchError as error:
            if _state["debug"]:
                raise
            _fail(type(error).__name__, str(error), error.exit_code, as_json)
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as error:
            if _state["debug"]:
                raise
            _fail(
                "InternalError",
                f"internal error: {type(error).__name__}: {error} (run with --debug for details)",
                EXIT_CODES["internal"],
                as_json,
            )

    return wrapper  # type: ignore[return-value]


def _fail(kind: str, message: str, code: int, as_json: bool) -> None:
    if as_json:
        _emit_json({"error": {"type": kind, "message": message}})
    else:
        err.print(f"[red]error:[/red] {_plain(message)}")
    raise typer.Exit(code)


def _question(text: str) -> str:
    """The question from argv, or stdin for "-"; refuses undecodable bytes."""
    if text == "-":
        data = sys.stdin.buffer.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise QueryError(f"the question on stdin is not valid UTF-8 (byte {error.start})") from None
    if any("\udc80" <= c <= "\udcff" for c in text):  # undecodable argv bytes arrive as lone surrogates
        raise QueryError("the question is not valid UTF-8 text")
    if not text.strip():
        raise QueryError("the question is empty")
    return text


def _locations(corpus: list[Path] | None, index: Path | None) -> Locations:
    return resolve(corpus or None, index)


def _open(loc: Locations, **build_options: Any) -> Index:
    from .indexer import open_index

    return open_index(
        loc.staleness_corpus,
        loc.index,
        default_corpus=loc.corpus,
        notice=_notice,
        progress=_progress_callback(),
        **build_options,
    )


def _progress_callback() -> Callable[[int, int], None] | None:
    """A rich progress bar on stderr for embedding, shown only on a terminal."""
    if not err.is_terminal:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress("embedding", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True)
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("embed", total=total)
        bar.update(task, completed=done, total=total)
        if done >= total:
            bar.stop()

    return update


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise QueryError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    return mode


# -- commands -------------------------------------------------------------------------------


@app.callback(invoke_without_command=True)
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Semantic search over a Japanese/English technical glossary."""
    _state["debug"] = debug
    logger = logging.getLogger("semsearch")
    if not any(isinstance(h, _WarningHandler) for h in logger.handlers):
        logger.addHandler(_WarningHandler())
        logger.propagate = False
    if version:
        out.print(f"semsearch {__version__}")
        raise typer.Exit()


@app.command()
@_handles_errors
def build(
    corpus_dirs: Annotated[list[Path] | None, typer.Argument(help="Glossary folder(s).", show_default=False)] = None,
    index: IndexOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Re-embed every chunk.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse unreadable files instead of skipping.")] = False,
    model: Annotated[
        str | None, typer.Option("--model", help="sentence-transformers model name or folder (default: embedded e5).")
    ] = None,
    query_prompt: Annotated[str | None, typer.Option("--query-prompt", help="Override the query prompt.")] = None,
    passage_prompt: Annotated[str | None, typer.Option("--passage-prompt", help="Override the passage prompt.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build or update the index of a glossary (only changed chunks are re-embedded)."""
    from .indexer import build as build_index

    loc = _locations(corpus_dirs, index)
    encoder = None
    if model or query_prompt is not None or passage_prompt is not None:
        from .encoders import encoder_for

        encoder = encoder_for(model, query_prompt=query_prompt, passage_prompt=passage_prompt)
    built = build_index(
        list(loc.corpus),
        loc.index,
        encoder=encoder,
        force=force,
        strict=strict,
        progress=_progress_callback(),
        on_wait=lambda: _notice(f"another build is writing {loc.index}; waiting for it to finish"),
    )
    report = built.build_report
    if as_json:
        _emit_json(
            {
                "index": str(loc.index),
                **{
                    k: getattr(report, k)
                    for k in ("files", "terms", "chunks", "embedded", "reused", "seconds", "written", "encoder")
                },
                "skipped": list(report.skipped),
                "prompts": _prompts(built),
            }
        )
        return
    status = "built" if report.written else "up to date"
    out.print(
        f"{status}: {_plain(str(loc.index))}  {report.files} files, {report.terms} terms, {report.chunks} chunks "
        f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f} s"
    )
    out.print(f"encoder: {_plain(report.encoder)}  prompts: {_plain(json.dumps(_prompts(built), ensure_ascii=False))}")
    if report.skipped:
        out.print(f"skipped: {len(report.skipped)} (see warnings above)")


def _prompts(index: Index) -> dict[str, str]:
    spec = index.manifest.encoder
    return {"query": str(spec.get("query_prompt", "")), "passage": str(spec.get("passage_prompt", ""))}


def _answer_json(answer: Answer, index: Index) -> dict[str, Any]:
    return {
        "query": answer.query,
        "mode": answer.mode,
        "encoder": index.encoder_id,
        "confident": answer.confident,
        "hits": [h.to_dict() for h in answer.hits],
    }


@app.command()
@_handles_errors
def ask(
    question: Annotated[str, typer.Argument(help='The question ("-" reads it from stdin).')],
    k: KOpt = 5,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    mode: ModeOpt = DEFAULT_MODE,
    full: Annotated[bool, typer.Option("--full", help="Show each entry in full.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Ask a question in Japanese or English; prints the best glossary entries."""
    question = _question(question)
    _check_mode(mode)
    opened = _open(_locations(corpus, index))
    answer = opened.query(question, k=k, mode=mode)
    if as_json:
        _emit_json(_answer_json(answer, opened))
        return
    from .render import answer_view

    bodies = [opened.term(h).body for h in answer.hits] if full else None
    out.print(answer_view(answer, bodies))


@app.command()
@_handles_errors
def compare(
    question: Annotated[str, typer.Argument(help="The question.")],
    k: KOpt = 5,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the dense, tfidf and hybrid rankings of a question side by side."""
    question = _question(question)
    opened = _open(_locations(corpus, index))
    rankings = {mode: opened.query(question, k=k, mode=mode) for mode in MODES}
    if as_json:
        _emit_json(
            {
                "query": question,
                "encoder": opened.encoder_id,
                "modes": {m: [h.to_dict() for h in a.hits] for m, a in rankings.items()},
            }
        )
        return
    from .render import compare_table

    out.print(compare_table(rankings, k))


@app.command("eval")
@_handles_errors
def eval_command(
    queries: Annotated[Path, typer.Argument(help="Labelled queries (JSON lines).")],
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    mode: Annotated[list[str] | None, typer.Option("--mode", help="Mode(s) to evaluate (default: all).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recall@1, Recall@5, MRR@10, nDCG@10 per mode over a labelled query file."""
    from .evaluate import evaluate, read_queries

    modes = [_check_mode(m) for m in (mode or MODES)]
    labelled = read_queries(queries)
    opened = _open(_locations(corpus, index))
    result = evaluate(opened, labelled, modes)
    if as_json:
        _emit_json(result.to_dict())
        return
    from .render import eval_tables

    for table in eval_tables(result, title=str(queries)):
        out.print(table)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="semsearch")
