"""What `ask` could cost with today's library and no CLI framework: argv in, plain text out.

python -m bench.children.lean_ask INDEX_DIR QUESTION
"""

from __future__ import annotations

import sys

from semsearch.search import load


def main(index_dir: str, question: str) -> None:
    index = load(index_dir)
    for hit in index.search(question, k=5):
        print(hit.rank, " | ".join(hit.names), f"{hit.score:.3f}", f"{hit.source}:{hit.line}", hit.snippet)


if __name__ == "__main__":
    main(*sys.argv[1:3])
