"""ask, compare, show, terms: questions and glossary entries."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import QueryError
from .completion import complete_names, complete_sources
from .console import (
    EXIT_CODES,
    handles_errors,
    notice,
    out,
    page,
)

if TYPE_CHECKING:
    from ..search import Answer, Index
from ..request import Request
from .emit import emit
from .options import (
    DEFAULT,
    CorpusOpt,
    Format,
    FormatOpt,
    IndexOpt,
    JsonOpt,
    KOpt,
    MinScoreOpt,
    ModeOpt,
    NoHeaderOpt,
    QuestionArg,
    _format,
    _locations,
    _open,
)
from .reading import _argv_text, _question, _questions


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
    no_header: NoHeaderOpt = False,
    files: Annotated[
        bool,
        typer.Option(
            "--files",
            "-l",
            help="Print only the files of the hits, each once, best first (as grep -l), for xargs or an editor.",
        ),
    ] = False,
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

    Several questions on stdin, one per line, are answered in turn: text in a block each under its
    question, json one object per line, jsonl and tsv with the question on every row; exit 1 when
    any of them has no answer.

    \b
    Examples:
      semsearch ask 勾配消失とは
      semsearch ask how do I stop overfitting -k 3
      echo "過学習を防ぐには" | semsearch ask
      printf '過学習\nドロップアウト\n' | semsearch ask -k 1 --format tsv
      semsearch ask dropout --format tsv | cut -f3,7
      semsearch ask "attention" --json --full | jq -r '.hits[0].body'
      semsearch ask --sure-only -k 1 --format tsv "$word" > hit.tsv || echo "no sure answer"
    """
    # --server is taken by semsearch/serve/client.py before this command is parsed; here the question
    # is answered locally (the server was unreachable, or the command line is one it leaves to us).
    fmt = _format(output_format, as_json)
    questions = _questions(ctx, question)
    if files:
        requests = [Request(q, k, mode.value, min_score, full, fmt, sure_only) for q in questions]
        _ask_files(requests, _open(_locations(corpus, index)))
        return
    if len(questions) > 1:
        requests = [Request(q, k, mode.value, min_score, full, fmt, sure_only) for q in questions]
        _ask_several(requests, _open(_locations(corpus, index)), header=not no_header)
        return
    text = questions[0]
    request = Request(text, k, mode.value, min_score, full, fmt, sure_only)  # the checks every face runs
    opened = _open(_locations(corpus, index))
    answer = opened.query(request.question, k=request.k, mode=request.mode, related=True, min_score=request.min_score)
    _print_answer(answer, opened, request.format, request.full, header=not no_header)
    from ..confidence import answered, unanswered_notice

    if not answered(answer.state, request.sure_only):
        if fmt != "text":  # the text says it; other formats carry the state, and stderr says it
            notice(unanswered_notice(answer.state, text, bool(answer.hits)))
        raise typer.Exit(EXIT_CODES["no_match"])


def _ask_files(requests: list[Request], opened: Index) -> None:
    """`ask -l`: the files the hits of every question are in, each once, in the order of the first
    hit found there; exit 1 when no question has an answer."""
    from ..confidence import answered

    seen: dict[str, None] = {}
    any_answer = False
    for r in requests:
        answer = opened.query(r.question, k=r.k, mode=r.mode, min_score=r.min_score)
        any_answer = any_answer or answered(answer.state, r.sure_only)
        for hit in answer.hits:
            seen.setdefault(hit.path or hit.source, None)
    from rich.text import Text

    from ..text import safe_line

    for path in seen:
        out.print(Text(safe_line(path)), soft_wrap=True)
    if not any_answer:
        raise typer.Exit(EXIT_CODES["no_match"])


def _ask_several(requests: list[Request], opened: Index, header: bool = True) -> None:
    """`ask` with one question per line of stdin: each answered in turn (text: a block each, under
    its question; json: one object per line; jsonl, tsv: each row with its question). Exit 1 when
    any of them is not answered (no match, or not sure with --sure-only), after all are printed."""
    from ..confidence import answered, unanswered_notice
    from ..serve.payloads import answer_object

    first = requests[0]
    answers = [opened.query(r.question, k=r.k, mode=r.mode, related=True, min_score=r.min_score) for r in requests]
    if first.format == "text":
        from rich.text import Text

        from .render import Flow, answer_output

        for number, (request, answer) in enumerate(zip(requests, answers, strict=True)):
            if number:
                out.print()
            out.print(Flow(Text(f"» {request.question}", style="bold"), fold=True))
            out.print(answer_output(answer, opened, "text", first.full))
    else:
        objects = [answer_object(answer, opened, first.full) for answer in answers]
        if first.format == "json":
            for data in objects:
                emit(data, "json")
        else:
            emit(objects, first.format, machine="answers_text", header=header)
    unanswered = [(r, a) for r, a in zip(requests, answers, strict=True) if not answered(a.state, first.sure_only)]
    if first.format != "text":
        for request, answer in unanswered:
            notice(unanswered_notice(answer.state, request.question, bool(answer.hits)))
    if unanswered:
        raise typer.Exit(EXIT_CODES["no_match"])


def _print_answer(answer: Answer, index: Index, fmt: str, full: bool, header: bool = True) -> None:
    """An answer in a format, as `ask` prints it (and `semsearch serve` for the thin client)."""
    from ..serve.payloads import answer_object  # the same object `semsearch serve` and `semsearch mcp` return

    def text() -> None:
        from .render import answer_output

        out.print(answer_output(answer, index, "text", full))

    emit(answer_object(answer, index, full), fmt, machine="answer_text", text=text, header=header)


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
    from ..serve.payloads import compare_object

    data = compare_object(text, rankings, opened)

    def cards() -> None:
        from .render import compare_view

        out.print(compare_view(rankings, k))

    emit(data, fmt, machine="compare_text", text=cards)


@handles_errors
def show(
    ctx: typer.Context,
    name: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TERM",
            help="Any of the term's names (case-, width- and kana-insensitive; no quotes needed). Without it "
            "(or with '-'), the name is read from stdin.",
            show_default=False,
            autocompletion=complete_names,
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            metavar="FILE",
            help="Only the entry from this file (its path as `terms` lists it, or its name alone when unique).",
            show_default=False,
            autocompletion=complete_sources,
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
    from ..serve.payloads import show_object, show_terms  # shared with `semsearch serve` and `semsearch mcp`

    fmt = _format(output_format, as_json)
    term = _question(ctx, name, "name").strip()
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
        _edit(opened.entries.source_path(entry), entry.line, entry.source)
        return
    data = show_object(opened, term, source)
    emit(data, fmt, machine="show_text", text=lambda: _show_view(data))


def _show_view(data: dict[str, Any]) -> None:
    """`show`'s cards: the term's entries, then each homonym's."""
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


@handles_errors
def terms(
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            metavar="FILE",
            help="Only terms from this file (its path as listed, or its name alone when unique: llm-rag.md).",
            show_default=False,
            autocompletion=complete_sources,
        ),
    ] = None,
    index: IndexOpt = None,
    corpus: CorpusOpt = None,
    output_format: FormatOpt = Format.text,
    as_json: JsonOpt = False,
    no_header: NoHeaderOpt = False,
    entries: Annotated[
        bool,
        typer.Option("--entries", help="List every entry apart (entries sharing a name are otherwise one term)."),
    ] = False,
) -> None:
    """List every term in the index, grouped by file, as `ask` returns them: entries sharing a name
    are one term, listed at its first entry with all its names and its other places ("also in");
    --entries lists every entry apart. Each with its line, and how many chunks a long one is embedded
    as. On a terminal, a list longer than the screen goes through $PAGER (else less).

    \b
    Examples:
      semsearch terms
      semsearch terms --source llm-rag.md
      semsearch terms --entries --format tsv | cut -f1,4
    """
    from ..serve.payloads import terms_object  # shared with `semsearch serve` and `semsearch mcp`

    fmt = _format(output_format, as_json)
    source = _argv_text(source, "--source value") if source is not None else None
    data = terms_object(_open(_locations(corpus, index)), source, entries)

    def text() -> None:
        from .render import terms_view

        page(terms_view(data["terms"], "entry" if entries else "term"))

    emit(data, fmt, machine="terms_text", text=text, header=not no_header)
