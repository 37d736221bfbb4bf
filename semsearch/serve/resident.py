"""An index kept open for many questions (`semsearch serve`, `semsearch mcp`): answered from several
threads at once, and refreshed in the background when its corpus changes.

Every question is answered by the index that was current when it arrived. A watcher thread checks
the corpus with the store's own staleness check every `poll` seconds; when it changed, it rebuilds
with `semsearch.build` (incrementally, under the index's build lock, committed atomically on disk)
while questions are still answered from the old index, then swaps the new one in with one assignment.
A question never sees a half-built index: the new one is an `Index` only once `build` has returned.
An index replaced on disk by someone else (`semsearch build`) is picked up the same way.

Concurrency: `Index.query` is safe to call from several threads (its only cache is replaced as one
tuple); an encoder that is not `reentrant` is used by one question at a time, and a rebuild then
loads its own instance of it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EncoderError, IndexStoreError, QueryError, SemsearchError
from ..request import Request
from ..search import Answer, Index
from ..staleness import stale_reason
from ..stores import open_store

__all__ = ["Resident", "Rebuild", "check_poll"]

log = logging.getLogger(__name__)

#: Seconds between two looks at the corpus, by default, and at least (but 0: never).
DEFAULT_POLL = 2.0
MIN_POLL = 0.1
#: After a failed rebuild, the next try waits this long at most (doubling from `poll`).
MAX_BACKOFF = 60.0
# A background rebuild runs at this niceness (Linux: per thread, inherited by its embedding threads),
# so that questions keep the CPU while it embeds.
REBUILD_NICENESS = 10


@dataclass(frozen=True)
class Rebuild:
    """What the last background refresh did."""

    reason: str  # why: the staleness reason, or "the index was replaced on disk"
    started_at: str  # ISO 8601, UTC
    seconds: float
    ok: bool
    error: str = ""  # the one-line error when it failed (the old index stays in use)
    embedded: int = 0
    terms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
            "error": self.error or None,
            "embedded": self.embedded,
            "terms": self.terms,
        }


def check_poll(poll: float) -> float:
    """A poll interval (seconds, 0: never), or QueryError. Below MIN_POLL, an idle server would
    spend a core looking at its corpus."""
    if not 0 <= poll < float("inf"):  # NaN too
        raise QueryError(f"the poll interval must be a number of seconds, not {poll}")
    if 0 < poll < MIN_POLL:
        raise QueryError(f"the poll interval must be 0 (never) or at least {MIN_POLL:g} seconds, not {poll:g}")
    return poll


class Resident:
    """One index, kept open: `ask` and friends from any thread, `start()` to watch the corpus."""

    def __init__(
        self,
        index: Index,
        *,
        poll: float = DEFAULT_POLL,
        notice: Callable[[str], None] = log.info,
        lock_timeout: float = 600.0,
    ) -> None:
        self._index = index
        self.poll = check_poll(poll)
        self._notice = notice
        self._lock_timeout = lock_timeout
        self._encoder_lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.rebuilding = False
        self.last_rebuild: Rebuild | None = None
        self.generation = 1  # how many indexes this process has answered from
        self._warm(index)

    # -- answering ----------------------------------------------------------------------------

    @property
    def index(self) -> Index:
        """The index answering now (a question keeps the one it started with)."""
        return self._index

    def ask(self, request: Request) -> tuple[Index, Answer]:
        """The answer `semsearch ask` gives to `request` (with related terms), and the index that gave it."""
        index = self._index
        with self.guard(index):
            answer = index.query(
                request.question, k=request.k, mode=request.mode, related=True, min_score=request.min_score
            )
            return index, answer

    @contextlib.contextmanager
    def guard(self, index: Index) -> Iterator[None]:
        """Hold this around anything that may embed with `index`'s encoder (a query, `show`'s
        suggestions): one at a time unless the encoder is reentrant."""
        encoder = index.scoring.loaded_encoder
        if encoder is not None and encoder.reentrant:
            yield
            return
        with self._encoder_lock:
            yield

    def _warm(self, index: Index) -> None:
        """Load the encoder and run one question, so that the first user question is not the one
        that pays for loading the model and touching its pages."""
        try:
            index.scoring.encoder  # noqa: B018 - loads it; a failure means TF-IDF answers (and says so)
        except EncoderError:
            return
        with contextlib.suppress(SemsearchError), self.guard(index):
            index.query("warm-up", k=1, related=True)

    # -- staying fresh ------------------------------------------------------------------------

    def start(self) -> None:
        """Watch the corpus in a background thread (no-op when `poll` is 0)."""
        if self.poll <= 0 or self._watcher is not None:
            return
        self._watcher = threading.Thread(target=self._watch, name="semsearch-watch", daemon=True)
        self._watcher.start()

    def stop(self, timeout: float = 0.0) -> None:
        """Stop watching. A rebuild under way is not waited for beyond `timeout` seconds: killed
        midway, it leaves the old index in place on disk (the store's commit is atomic)."""
        self._stop.set()
        if self._watcher is not None and timeout > 0:
            self._watcher.join(timeout)

    def _watch(self) -> None:
        if sys.platform == "linux":  # niceness is per thread there; elsewhere this would renice a process
            with contextlib.suppress(OSError, AttributeError):
                import os

                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), REBUILD_NICENESS)
        wait = self.poll
        while not self._stop.wait(wait):
            try:
                ok = self.refresh()
            except Exception:  # never let the watcher die: log it and look again later
                log.exception("semsearch: checking the corpus failed")
                ok = False
            wait = self.poll if ok else min(MAX_BACKOFF, max(wait, self.poll) * 2)

    def stale(self) -> str | None:
        """Why the index answering now no longer matches its corpus or its directory (None: it does)."""
        index = self._index
        try:
            on_disk = open_store(index.path).read_manifest()
        except IndexStoreError as error:
            return f"the index on disk cannot be read ({error})"
        if on_disk.data != index.manifest.data:
            return "the index was replaced on disk"
        roots = list(index.manifest.roots)
        if not all(Path(root).exists() for root in roots):
            return None  # the corpus is gone: answer from the index as built (as `ask` does)
        return stale_reason(index.manifest, roots)

    def refresh(self) -> bool:
        """Rebuild (or reload) the index when it is stale, and swap it in. Returns False when that
        failed (the old index stays in use, and `last_rebuild` says why)."""
        reason = self.stale()
        if reason is None:
            return True
        old = self._index
        self.rebuilding = True
        started = time.perf_counter()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        self._notice(f"index at {old.path} is stale: {reason}; rebuilding in the background")
        try:
            new = self._rebuilt(old)
        except SemsearchError as error:
            self.last_rebuild = Rebuild(reason, stamp, time.perf_counter() - started, False, str(error))
            self._notice(
                f"rebuilding {old.path} failed: {error}; "
                f"still answering from the index built at {old.manifest.built_at}"
            )
            return False
        finally:
            self.rebuilding = False
        self._warm(new)
        self._index = new  # the swap: questions from now on get the new index
        self.generation += 1
        report = new.build_report
        embedded = report.embedded if report is not None else 0
        self.last_rebuild = Rebuild(reason, stamp, time.perf_counter() - started, True, "", embedded, len(new))
        self._notice(f"now answering from the rebuilt index: {len(new)} terms ({embedded} chunks embedded)")
        return True

    def _rebuilt(self, old: Index) -> Index:
        """The index brought up to date: rebuilt from its corpus, or read again when someone else
        replaced it on disk (and it is fresh)."""
        from ..building import build

        encoder = (
            old.scoring.loaded_encoder
            if old.scoring.loaded_encoder is not None and old.scoring.loaded_encoder.reentrant
            else None
        )
        store = open_store(old.path)
        on_disk = store.read_manifest()
        if on_disk.data != old.manifest.data:
            stored = store.read()
            roots = list(stored.manifest.roots)
            fresh = not all(Path(r).exists() for r in roots) or stale_reason(stored.manifest, roots) is None
            if fresh:
                same = encoder is not None and stored.manifest.encoder == old.manifest.encoder
                return Index(stored, encoder if same else None)
        manifest = on_disk
        return build(
            list(manifest.roots),
            old.path,
            encoder=encoder if manifest.encoder == old.manifest.encoder else None,
            lock_timeout=self._lock_timeout,
        )
