"""The embedding as a Ray Data job (`semsearch build --ray [ADDRESS]`, `build(..., ray=…)`).

The chunks a build must embed become a Ray Dataset of (chunk sha256, text) rows; `map_batches` runs
them through a pool of actors, each holding one encoder (rebuilt in the actor from the index's
encoder spec), and the job gives back `(encoder id, chunk sha256, vector)` rows: an embedding cache
that the build then reuses exactly as it reuses the vectors of a previous index, so nothing else in
the build changes. With no address Ray starts here on this machine's cores (`ray.init(num_cpus=…)`);
with one (`auto`, `ray://head:10001`) the same job runs on a cluster, one actor per CPU.

Each actor embeds one batch at a time on one engine, so Ray's one-CPU actors do not oversubscribe the
cores. The texts go out longest first, as a local build batches them, so that batches need little
padding. The hubness pseudo-questions (the glossary's names, a few thousand at most) are embedded by
the build itself. Ray is imported only here, only for `--ray`.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .encoders import Encoder
from .encoders.registry import factory_for
from .errors import EncoderError

__all__ = ["LOCAL", "Embeddings", "embed_on_ray"]

#: The address that means "start Ray here" (`--ray` without one).
LOCAL = "local"
#: Rows per actor call when the encoder does not say how many it embeds at once.
DEFAULT_BATCH = 16

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Embeddings:
    """Rows of an embedding cache: `vectors[i]` is the embedding of the chunk whose text hashes to
    `sha256[i]`, by the encoder `encoder` (its id)."""

    encoder: str
    sha256: tuple[str, ...]
    vectors: np.ndarray  # (rows, dim) float32

    def by_hash(self, encoder_id: str) -> dict[str, np.ndarray]:
        """The vectors by content hash, for an encoder of id `encoder_id` (none for another encoder)."""
        if encoder_id != self.encoder:
            return {}
        return dict(zip(self.sha256, self.vectors, strict=True))


class Embedder:
    """A Ray actor holding one encoder: (sha256, text) batches in, (encoder, sha256, vector) batches out."""

    def __init__(self, factory: Callable[[dict[str, Any]], Encoder], spec: dict[str, Any]) -> None:
        self.encoder = factory(spec)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(text) for text in batch["text"]]
        vectors = np.asarray(self.encoder.encode_passages(texts), dtype=np.float32)
        return {
            "encoder": np.array([self.encoder.id] * len(texts)),
            "sha256": np.asarray(batch["sha256"]),
            "vector": vectors,
        }


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise EncoderError("embedding on Ray needs ray: pip install 'semsearch[ray]'") from None
    return ray


def embed_on_ray(
    items: Mapping[str, str],
    encoder: Encoder,
    address: str | None = LOCAL,
    *,
    actors: int | None = None,
    local_cpus: int | None = None,
    progress: Progress | None = None,
) -> Embeddings:
    """Embed the texts of `items` (content hash -> text) as passages with `encoder` on Ray.

    `address`: LOCAL (or None) to start Ray here with `local_cpus` CPUs (default: this machine's),
    else a Ray address (`auto`, `ray://head:10001`). A Ray already initialised in this process is
    used as it is. `actors`: how many encoders embed at once (default: one per CPU Ray has).
    Raises EncoderError when ray is not installed, cannot start, or the job fails.
    """
    ray = _ray()
    if not items:
        return Embeddings(encoder.id, (), np.zeros((0, encoder.dim), dtype=np.float32))
    started_here = not ray.is_initialized()
    local = address in (None, LOCAL)
    if started_here:
        # Ray's own notices (token authentication, deprecations) would bury the build's one line of
        # progress; its errors still come through as an EncoderError.
        try:
            ray.init(
                address=None if local else address,
                num_cpus=(local_cpus or os.cpu_count() or 1) if local else None,
                include_dashboard=False,
                logging_level=logging.ERROR,
                log_to_driver=False,
            )
        except Exception as error:
            where = "on this machine" if local else f"at {address}"
            raise EncoderError(f"cannot start Ray {where}: {' '.join(str(error).split())[:300]}") from error
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _run(ray, items, encoder, actors, progress)
    except EncoderError:
        raise
    except Exception as error:
        raise EncoderError(f"the embedding job on Ray failed: {' '.join(str(error).split())[:300]}") from error
    finally:
        if started_here:
            ray.shutdown()


def _run(
    ray: Any, items: Mapping[str, str], encoder: Encoder, actors: int | None, progress: Progress | None
) -> Embeddings:
    from ray import data as ray_data

    context = ray_data.DataContext.get_current()
    context.enable_progress_bars = False  # the build shows its own
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    pool = max(1, min(actors or cpus, cpus))
    batch = int(getattr(encoder, "BATCH", DEFAULT_BATCH))
    rows = sorted(items.items(), key=lambda item: -len(item[1]))  # longest first, as a local build batches
    blocks = max(1, min(-(-len(rows) // batch), 4 * pool))
    dataset = ray_data.from_items([{"sha256": h, "text": t} for h, t in rows], override_num_blocks=blocks)
    embedded = dataset.map_batches(
        Embedder,
        fn_constructor_kwargs={"factory": factory_for(encoder.spec()), "spec": encoder.spec()},
        batch_size=batch,
        batch_format="numpy",
        compute=ray_data.ActorPoolStrategy(size=pool),
        num_cpus=1,
        max_restarts=0,
    )
    hashes: list[str] = []
    vectors: list[np.ndarray] = []
    done = 0
    if progress:
        progress(0, len(rows))
    for out in embedded.iter_batches(batch_size=None, batch_format="numpy"):
        ids = {str(e) for e in out["encoder"]}
        if ids != {encoder.id}:
            raise EncoderError(f"the Ray actors embedded with {', '.join(sorted(ids))}, not {encoder.id}")
        hashes.extend(str(h) for h in out["sha256"])
        vectors.append(np.asarray(out["vector"], dtype=np.float32).reshape(len(out["sha256"]), -1))
        done += len(out["sha256"])
        if progress:
            progress(done, len(rows))
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, encoder.dim), dtype=np.float32)
    if sorted(hashes) != sorted(items):
        raise EncoderError(f"the Ray job returned {len(hashes)} vectors for {len(items)} chunks")
    return Embeddings(encoder.id, tuple(hashes), matrix)
