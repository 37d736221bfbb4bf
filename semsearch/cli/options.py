"""The options the commands share, the output format asked for, and opening the index the options
name (built or refreshed as needed, waiting for another build).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import QueryError
from ..limits import K_MAX
from ..modes import DEFAULT_MODE, MODES
from ..request import FORMATS
from .console import (
    notice,
)
from .paths import Locations, resolve

if TYPE_CHECKING:
    from ..search import Index
from .progress import _progress_callback

# How long a build waits for another build of the same index (`build --wait` overrides it).
ENV_WAIT = "SEMSEARCH_WAIT"
DEFAULT_WAIT = 600.0
# The limits on runaway input (`build --max-chunks`, `--max-file-mb`), also for the builds `ask` starts.
ENV_MAX_CHUNKS = "SEMSEARCH_MAX_CHUNKS"
ENV_MAX_FILE_MB = "SEMSEARCH_MAX_FILE_MB"


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
    grep = "grep"


assert tuple(m.value for m in Mode) == MODES  # the choices are the modes (tests/test_request.py)
assert tuple(f.value for f in Format) == FORMATS
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
        help="Ranking: dense (the e5 sentence encoder), use (the Universal Sentence Encoder), tfidf (shared words "
        "and characters), hybrid (all of them).",
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
NoHeaderOpt = Annotated[
    bool, typer.Option("--no-header", help="With --format tsv: the rows only, without the header line.")
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


def _format(output_format: Enum, as_json: bool) -> str:
    """The output format a command line asks for (--format, lint's own formats too): --json is --format json."""
    chosen = str(output_format.value)
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
            from ..chunking import ChunkSettings

            options["settings"] = ChunkSettings(max_chunks=int(value))
        else:
            options["max_file_bytes"] = int(value * 1024 * 1024)
    return options


def _open(loc: Locations) -> Index:
    from ..building import BuildOptions
    from ..opening import open_index

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
