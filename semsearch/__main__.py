"""`python -m semsearch`, and the `semsearch` command's entry point.

Kept apart from cli.py so that Ctrl-C while the command is still importing (typer, rich: a few
tenths of a second) ends it quietly, like Ctrl-C at any later moment.
"""

from __future__ import annotations


def main() -> None:
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        import os
        import sys

        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        os._exit(130)
    run()


if __name__ == "__main__":
    main()
