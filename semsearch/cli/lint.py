"""lint: what a glossary's authors should know. One block: the options, the library call, the output
(the rules themselves: semsearch/linter/).
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .console import (
    EXIT_CODES,
    handles_errors,
    notice,
)
from .emit import emit
from .options import CorpusOpt, IndexOpt, JsonOpt, _format, _limits, _locations, _open

# -- lint -----------------------------------------------------------------------------------------
# One block: the options, the library call, the output (the rules themselves: semsearch/linter/).


def _lint_rules() -> list[str]:
    """The rules, for shell completion (loaded only when completing: not at every start)."""
    from ..linter.findings import RULES

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
    from ..corpus import MAX_FILE_BYTES
    from ..linter import lint

    fmt = _format(output_format, as_json)
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
    emit(data, fmt, machine="lint_text", cwd=os.getcwd())
    for line in report.notes:
        notice(line)
    notice(f"lint: {report.summary()}")
    if report.findings:
        raise typer.Exit(EXIT_CODES["findings"])
