"""Where a one-shot `semsearch ask` spends its time, phase by phase, in one process.

    python -m bench.children.ask_phases INDEX_DIR CORPUS_DIR QUESTION

Runs what `semsearch ask QUESTION --index INDEX_DIR --corpus CORPUS_DIR` runs (the CLI's imports,
`open_index` with its staleness check, a hybrid query, rendering), timing the library's own
functions from outside; prints {phase: seconds}. The index must be up to date (a rebuild would be
timed as "check the corpus").
"""

from __future__ import annotations

import time

started = time.perf_counter()
import semsearch.cli  # noqa: E402, F401 - typer, rich, numpy, semsearch: what `semsearch ask` imports first

imported = time.perf_counter()

import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from semsearch import opening  # noqa: E402
from semsearch.stores import files as directory  # noqa: E402

spent: dict[str, float] = {"read": 0.0, "encoder": 0.0, "embed": 0.0, "second": 0.0}


def timed(function: Callable[..., Any], bucket: str) -> Callable[..., Any]:
    """`function`, adding the seconds each call takes to `spent[bucket]`."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[bucket] += time.perf_counter() - began

    return wrapper


def main(index_dir: str, corpus: str, question: str) -> dict[str, float]:
    directory.read_index = timed(directory.read_index, "read")  # type: ignore[assignment]
    opening.load_encoder = timed(opening.load_encoder, "encoder")  # type: ignore[assignment]
    began = time.perf_counter()
    index = opening.open_index([Path(corpus)], Path(index_dir))
    opened = time.perf_counter()
    encoder = index.scoring.encoder
    encoder.encode_queries = timed(encoder.encode_queries, "embed")  # type: ignore[method-assign]
    second = index.scoring.use_encoder
    use_found = time.perf_counter()
    if second is not None:
        second.encode_queries = timed(second.encode_queries, "second")  # type: ignore[method-assign]
    answer = index.query(question, k=5, related=True)  # hybrid, as `ask` does by default
    answered = time.perf_counter()

    from rich.console import Console

    from semsearch.cli.render import answer_view

    Console(file=io.StringIO(), width=100).print(answer_view(answer, None))
    rendered = time.perf_counter()
    return {
        "import semsearch.cli (typer, rich, numpy, semsearch)": imported - started,
        "read the index (the FAISS file read with NumPy)": spent["read"],
        "load the encoder (C engine; weights mapped, then unpacked)": spent["encoder"],
        "check the corpus for changes (staleness)": opened - began - spent["read"] - spent["encoder"],
        "embed the question (first call)": spent["embed"],
        "find the second encoder (its version, no weights yet)": use_found - opened,
        "second encoder: load its converted weights and embed the question": spent["second"],
        "rest of the query (vector search, TF-IDF, fusion, ranking, snippets)": answered
        - use_found
        - spent["embed"]
        - spent["second"],
        "render (rich)": rendered - answered,
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
