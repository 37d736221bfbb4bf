"""The bounds on what one request may ask, shared by the library and every face (the command line,
`shell`, `serve`, the thin client, MCP), so that none of them drifts. No imports: the thin client
reads it before anything else.
"""

from __future__ import annotations

__all__ = ["K_MAX", "QUESTION_LIMIT", "STDIN_LIMIT"]

#: Characters of a question that are read; the rest is cut, with a warning. The embedded encoder
#: reads about 500 of them and TF-IDF about 2,000 (`Index._truncate`), so nothing a longer question
#: holds would be searched anyway: the cut bounds what reading it costs. It also fits the thin
#: client's request line (4,096 characters percent-encoded as UTF-8 are at most 36,864 bytes;
#: `semsearch serve` reads request lines of up to 65,536).
QUESTION_LIMIT = 4096
#: Bytes of a question read from stdin (and of a line in `shell`); the rest is not read.
STDIN_LIMIT = 1 << 20
#: The most hits one question may ask for (`ask -k`, `/ask?k=`, MCP's `k`, the shell's `:k`).
K_MAX = 1000
