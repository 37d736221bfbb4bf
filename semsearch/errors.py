"""The exceptions semsearch raises. The library raises them; only the CLI turns them into messages.

Each class carries the exit code the CLI uses for it, so the mapping lives in one place.
"""

from __future__ import annotations

__all__ = [
    "SemsearchError",
    "QueryError",
    "ConfigError",
    "CorpusError",
    "IndexStoreError",
    "IndexLockedError",
    "IndexVersionError",
    "IndexMismatchError",
    "IndexWriteError",
    "EncoderError",
    "ServiceError",
]


# As grep and rg: 0 an answer, 1 no match, 2 and up an error (70: sysexits' EX_SOFTWARE); 141 as a
# process that SIGPIPE ended (the reader went away), 130 Ctrl-C.
EXIT_CODES = {
    "ok": 0,
    "no_match": 1,
    "findings": 1,  # `lint`: the glossary has findings
    "usage": 2,
    "corpus": 3,
    "index": 4,
    "encoder": 5,
    "internal": 70,
    "interrupted": 130,
    "broken_pipe": 141,
}


class SemsearchError(Exception):
    """Base class: something the user can act on. `str(error)` is a one-line message. Exit codes
    follow grep's: 0 an answer, 1 no match (not an error: confidence.py), 2 and up an error."""

    exit_code = 70  # as an internal error (sysexits' EX_SOFTWARE); every subclass names its own


class QueryError(SemsearchError, ValueError):
    """A question or option the engine cannot take (empty question, unknown mode, bad query file)."""

    exit_code = 2


class ConfigError(QueryError):
    """A glossary's lint settings cannot be used: `.semsearch.toml` or `[tool.semsearch.lint]` in
    `pyproject.toml` is not valid TOML, names an unknown rule or setting, or gives a bad value."""


class CorpusError(SemsearchError):
    """The glossary cannot be read: missing folder, nothing to index, a file refused under --strict."""

    exit_code = 3


class IndexStoreError(SemsearchError):
    """The index directory is missing, damaged, from a newer version, or not a semsearch index."""

    exit_code = 4


class IndexLockedError(IndexStoreError):
    """Another build holds the index lock and did not release it in time."""


class IndexVersionError(IndexStoreError):
    """The index was written by a newer semsearch: never rebuilt implicitly, only by `build --force`."""


class IndexMismatchError(IndexStoreError):
    """The index was built from another corpus than the one named: only `semsearch build` replaces it."""


class IndexWriteError(IndexStoreError):
    """The index directory cannot be written (read-only, disk full, a file size limit): nothing
    was committed, and the previous index, if any, is unchanged."""

    reason = ""  # what the file system said, in a few words ("the file system is read-only")


class EncoderError(SemsearchError):
    """The encoder cannot be loaded or used (package or weights missing, model not available offline)."""

    exit_code = 5


class ServiceError(SemsearchError):
    """`semsearch serve` or `semsearch mcp` cannot start: the address is taken or not allowed, or the
    optional package the command needs is not installed."""

    exit_code = 2
