"""The `semsearch` command (typer + rich): the only face that prints or exits.

main.py         every command registered on the app, in --help's order, and `main`
app.py          the typer app and its plumbing (the command classes, the root callback)
options.py      the options the commands share; opening the index they name
reading.py      arguments as text, the question (words or stdin), the shell's lines
progress.py     a long embedding's progress on stderr
emit.py         `emit(data, format)`: a result as JSON, the other formats, or its text view
ask.py          ask, compare, show, terms      index.py    build, info, cache
eval.py         eval                           lint.py     lint
serving.py      shell, serve, mcp: the index kept loaded
console.py      streams, errors and exit codes; render.py and formats.py lay things out
shell.py        the shell's session; paths.py: where the corpus and index are by default;
caches.py       the per-user caches; editor.py: an entry opened in the user's editor
"""

from __future__ import annotations

import os

# A one-shot command does no large matrix work on the query path, but the BLAS thread pools that
# numpy and FAISS start at import cost CPU (measured: docs/performance.md). Set before anything
# imports numpy; a user's own setting wins. Library use is unaffected.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .main import EXIT_CODES, app, main

__all__ = ["EXIT_CODES", "app", "main"]
