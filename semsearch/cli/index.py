"""build, info, cache: the index and the per-user caches."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import QueryError
from ..text import safe_line
from .console import (
    handles_errors,
    notice,
    out,
)

if TYPE_CHECKING:
    from ..reports import BuildReport
from .app import _Command, _Commands
from .emit import emit
from .options import (
    ENV_MAX_CHUNKS,
    ENV_MAX_FILE_MB,
    ENV_WAIT,
    CorpusOpt,
    IndexOpt,
    JsonOpt,
    _limits,
    _locations,
    _on_wait,
    _wait_seconds,
)
from .progress import _progress_callback


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _prompts(query: str, passage: str) -> str:
    if not query and not passage:
        return "no prompts"
    return f'prompts "{safe_line(query)}" (questions) and "{safe_line(passage)}" (entries)'


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
    from ..building import build as build_index

    loc = _locations(corpus_dirs, index)
    # An index named without a corpus is rebuilt from its own corpus, never from ./corpus or the bundled one.
    roots = list(loc.index_corpus) if loc.index_corpus is not None else None
    encoder = None
    if model or query_prompt is not None or passage_prompt is not None:
        from ..encoders import encoder_for

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
    emit(report.to_dict(), "json" if as_json else "text", text=lambda: _build_summary(loc.index, report))


def _line(text: str) -> None:
    """One line of a summary: wrapped to a terminal (a long path folded, never cut), whole elsewhere."""
    from rich.text import Text

    from .render import Flow

    out.print(Flow(Text(text), fold=True))


def _build_summary(index: object, report: BuildReport) -> None:
    """What `build` says when it is done, for people: counts, the encoder, what was skipped."""
    status = "built" if report.written else "up to date"
    counts = f"{_plural(report.files, 'file')}, {_plural(report.terms, 'term')}, {_plural(report.chunks, 'chunk')}"
    work = f"{report.embedded} embedded, {report.reused} reused"
    _line(f"{status}: {safe_line(str(index))}  {counts} ({work}) in {report.seconds:.1f} s")
    _line(f"encoder: {safe_line(report.encoder)}, {_prompts(report.query_prompt, report.passage_prompt)}")
    if report.skipped:
        skipped = f"skipped: {_plural(report.skipped_files, 'file')}, {_plural(report.skipped_terms, 'heading')}"
        repeated = [w.removeprefix("skipped ") for w in report.repeated if w.startswith("skipped ")]
        if repeated:
            _line(f"{skipped}, as at the previous build: {safe_line('; '.join(repeated))}")
        else:
            _line(f"{skipped} (see the warnings above)")


@handles_errors
def info(index: IndexOpt = None, corpus: CorpusOpt = None, as_json: JsonOpt = False) -> None:
    """Where the index is (and why there), the corpus and encoder it was built from and with, its
    counts, when it was built, and whether it is damaged or stale.

    \b
    Examples:
      semsearch info
      semsearch info --index ~/glossary-index --json
    """
    from ..reports import describe

    loc = _locations(corpus, index)
    described = describe(loc.index, loc.index_corpus).to_dict()
    data = {"index": described.pop("index"), "index_origin": loc.index_origin, **described}

    def text() -> None:
        from .render import info_rows, info_view

        out.print(info_view(info_rows(data)))

    emit(data, "json" if as_json else "text", text=text)


# -- cache ----------------------------------------------------------------------------------------

cache_app = typer.Typer(cls=_Commands, no_args_is_help=False, rich_markup_mode=None)


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
    data = {
        "cache": str(base) if base else None,
        "indexes": [e.to_dict() for e in entries],
        "weights": {"folder": str(root) if root else None, "entries": [w.to_dict() for w in shared]},
    }
    emit(data, "json" if as_json else "text", text=lambda: _cache_view(base, entries, root, shared))


def _cache_view(base: Path | None, entries: list[Any], root: Path | None, shared: list[Any]) -> None:
    """`cache`'s tables: the cached indexes, then the shared weights."""
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
    data = {
        "removed": [e.to_dict() for e in removed],
        "removed_weights": [w.to_dict() for w in unused],
        "dry_run": dry_run,
    }
    emit(data, "json" if as_json else "text", text=lambda: _removed_lines(removed, unused, dry_run, weights))


def _removed_lines(removed: list[Any], unused: list[Any], dry_run: bool, weights: bool) -> None:
    """What `cache prune` and `cache rm` removed (or would), a line each, then the total."""
    from .render import human_size

    verb = "would remove" if dry_run else "removed"
    for entry in removed:
        corpus = ", ".join(entry.corpus) or "corpus unknown"
        _line(f"{verb} {safe_line(entry.name)}  {human_size(entry.size)}  ({safe_line(corpus)})")
    for shared in unused:
        _line(f"{verb} {safe_line(shared.key)}  {human_size(shared.size)}  (shared weights no index uses)")
    total = sum(e.size for e in removed) + sum(w.size for w in unused)
    count = "1 index" if len(removed) == 1 else f"{len(removed)} indexes"
    if weights:
        count += ", 1 set of shared weights" if len(unused) == 1 else f", {len(unused)} sets of shared weights"
    _line(f"{verb} {count}, {human_size(total)}")
