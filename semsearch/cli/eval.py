"""eval: Recall@1, Recall@5, MRR@10, nDCG@10 per mode over labelled questions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..modes import check_mode
from .console import (
    handles_errors,
    out,
)
from .emit import emit
from .options import CorpusOpt, Format, FormatOpt, IndexOpt, JsonOpt, Mode, _format, _locations, _open


@handles_errors
def eval_command(
    queries: Annotated[
        list[Path],
        typer.Argument(
            metavar="QUERIES.jsonl...",
            help="Labelled query files (JSON lines, the format is in the description above); - reads stdin.",
        ),
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
      {"q": "勾配消失とは", "gold": ["勾配消失問題"], "lang": "ja"}
      {"q": "明日の天気は", "gold": []}

    q is the question; gold, the names of the entries that answer it (any of an entry's
    names; case and width do not matter); "gold": [] marks an off-topic question, which
    should get "no match"; id, lang and kind are optional (lang and kind give
    the tables by language and kind). Blank lines and lines starting with // are skipped.
    """
    from ..evaluation import evaluate, read_queries

    fmt = _format(output_format, as_json)
    modes = [check_mode(m.value) for m in mode or ()]
    labelled = [query for path in queries for query in (_stdin_queries() if str(path) == "-" else read_queries(path))]
    opened = _open(_locations(corpus, index))
    result = evaluate(opened, labelled, modes or opened.modes)
    data = result.to_dict(misses=misses)
    emit(data, fmt, machine="eval_text", text=lambda: _eval_view(result, queries, misses), misses=misses)


def _stdin_queries() -> list[Any]:
    """`eval -`: the query file on stdin (at most 64 MiB)."""
    import sys

    from ..errors import QueryError
    from ..evaluation import parse_queries

    data = sys.stdin.buffer.read(64 << 20)
    try:
        return parse_queries(data.decode("utf-8"), "<stdin>")
    except UnicodeDecodeError as error:
        raise QueryError(f"the query file on stdin is not valid UTF-8 (byte {error.start})") from None


def _eval_view(result: Any, queries: list[Path], misses: bool) -> None:
    """`eval`'s tables: a table per mode, then, with --misses, the questions each mode missed."""
    from .render import eval_tables, misses_table

    for number, view in enumerate(eval_tables(result, title=" + ".join(map(str, queries)))):
        if number:
            out.print()
        out.print(view)
    if misses:
        for mode_result in result.modes.values():
            out.print()
            out.print(misses_table(mode_result))
