"""A benchmark client of `semsearch serve` (run by bench/serve.py, one process per client).

    python -m bench.children.serve_client HOST PORT QUESTIONS.json PASSES START_AT [PATH [EVERY]]

Asks every question of QUESTIONS.json (a JSON list) PASSES times over one keep-alive connection,
starting at the wall-clock time START_AT (so that several clients start together), and prints the
latency of each request in seconds as a JSON list. PATH (default /ask) may be /health: then the
questions only set the number of requests. EVERY (seconds, default 0: back to back) paces the
client: one request every EVERY seconds, as an editor or agent asks, not a load generator.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
import urllib.parse


def main(argv: list[str]) -> None:
    host, port, questions_file, passes, start_at, *rest = argv
    path = rest[0] if rest else "/ask"
    every = float(rest[1]) if len(rest) > 1 else 0.0
    with open(questions_file, encoding="utf-8") as f:
        questions = json.load(f)
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    times = []
    while time.time() < float(start_at):
        time.sleep(0.001)
    sent = 0
    for _ in range(int(passes)):
        for question in questions:
            if every:
                time.sleep(max(0.0, float(start_at) + sent * every - time.time()))
            sent += 1
            target = f"/ask?{urllib.parse.urlencode({'q': question, 'k': 5})}" if path == "/ask" else path
            started = time.perf_counter()
            connection.request("GET", target)
            response = connection.getresponse()
            body = response.read()
            times.append(time.perf_counter() - started)
            if response.status != 200 or not body:
                raise SystemExit(f"HTTP {response.status} for {target}: {body[:200]!r}")
    connection.close()
    print(json.dumps(times))


if __name__ == "__main__":
    main(sys.argv[1:])
