"""The `semsearch` command (typer + rich): the only face that prints or exits.

app.py          the typer app, its plumbing (the command classes, the root callback) and `main`
options.py      the options every command shares, reading a question, opening the index, progress
emit.py         `emit(data, format)`: one object out as JSON, text, markdown, TSV, ...
ask.py          ask, compare, show, terms: questions and entries
index.py        build, info, cache: the index and the caches
eval.py         eval: measuring the modes over labelled questions
lint.py         lint: what a glossary's authors should know
serve.py        serve, mcp, shell: the index kept loaded
console.py      streams, errors and exit codes; render.py, formats.py: how things are laid out
shell.py        the interactive shell's session; paths.py: where the corpus and index are by default;
caches.py       the per-user caches; editor.py: opening an entry in the user's editor
"""

from __future__ import annotations

import os

# A one-shot command does no large matrix work on the query path, but the BLAS thread pools that
# numpy and FAISS start at import cost CPU (measured: docs/performance.md). Set before anything
# imports numpy; a user's own setting wins. Library use is unaffected.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .main import EXIT_CODES, app, main

__all__ = ["EXIT_CODES", "app", "main"]
