"""`python -m semsearch`, and the `semsearch` command's entry point.

An `ask` for a running server ($SEMSEARCH_SERVER, --server) is answered by semsearch/serve/client.py
before typer, rich or numpy is imported; everything else goes on to the command line (cli/).
Ctrl-C while either is still importing ends the command quietly (exit 130), like Ctrl-C at any
later moment.
"""

from __future__ import annotations


def main() -> None:
    import sys

    try:
        from .serve.client import run as remote

        code = remote(sys.argv[1:])
        if code is None:
            from .cli import main as run
    except KeyboardInterrupt:
        import os

        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        os._exit(130)
    if code is not None:
        import os

        for stream in (sys.stdout, sys.stderr):
            try:  # noqa: SIM105 - not contextlib: this path imports as little as it can
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)  # as cli.main: the answer is written, nothing is pending
    run()


if __name__ == "__main__":
    main()
