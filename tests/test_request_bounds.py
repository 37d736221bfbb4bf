"""What one request may cost `semsearch serve`, and the values it refuses as a 400 where they were a 500
(or, on the command line, a traceback): a question is read up to QUESTION_LIMIT characters whatever
it repeats; the thin client's console variables are numbers where they must be; index and corpus
hold no NUL; a poll interval below 0.1 s is refused (an idle server spun a core); the listen backlog
holds a burst of connections (5 made every ~7th wait a second). A real server process, raw HTTP.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import GLOSSARY, FakeEncoder
from test_server import CHILD, Served, get, start_server

import semsearch
from semsearch.cli import app
from semsearch.cli.shell import Session
from semsearch.limits import QUESTION_LIMIT
from semsearch.serve.http import BACKLOG, THIN_PROTOCOL, make_server


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("bounds")
    (work / "glossary").mkdir()
    (work / "glossary" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    semsearch.build(work / "glossary", work / "index", encoder=FakeEncoder())
    return work / "index"


@pytest.fixture(scope="module")
def served(index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(["--index", str(index), "--poll", "0"], tmp_path_factory.mktemp("log") / "serve.log")
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.parametrize(
    "query, message",
    [
        ("env=COLUMNS%3D%C2%B2", "env COLUMNS must be a whole number, not '²'"),
        ("env=LINES%3D12x", "env LINES must be a whole number, not '12x'"),
        ("env=COLUMNS%3D999999", "env COLUMNS must be a whole number, not '999999'"),
        ("env=HOME%3D%2Froot", "env takes NAME=VALUE for one of TERM, COLORTERM, NO_COLOR, FORCE_COLOR"),
        ("env=TERM", "env takes NAME=VALUE for one of TERM, COLORTERM, NO_COLOR, FORCE_COLOR"),
        ("index=%00", "index and corpus are paths or URIs, which hold no NUL character"),
        ("index=%2Ftmp%2Fx%00y", "index and corpus are paths or URIs, which hold no NUL character"),
        ("corpus=%00", "index and corpus are paths or URIs, which hold no NUL character"),
    ],
)
def test_bad_thin_client_values_are_400_not_500(served: Served, query: str, message: str) -> None:
    status, _, body = get(served, f"/cli/ask?v={THIN_PROTOCOL}&q=dropout&{query}")
    assert status == 400
    assert body["error"]["type"] == "QueryError" and body["error"]["message"].startswith(message)


@pytest.mark.parametrize("framing", ["what is ", "とは", "what is what is "])
def test_a_question_as_long_as_a_request_line_is_answered(served: Served, framing: str) -> None:
    """A 56 KB GET /ask?q=what+is+… took 6.8 s of CPU; it is now read up to QUESTION_LIMIT characters."""
    question = framing * (56_000 // len(framing.encode()) // 3) + "dropout"
    status, _, body = get(served, "/ask?" + urllib.parse.urlencode({"q": question, "k": 1}))
    assert status == 200 and body["query"] == question[:QUESTION_LIMIT]


def test_a_name_as_long_as_a_request_line_is_looked_up(served: Served) -> None:
    status, _, body = get(served, "/show?" + urllib.parse.urlencode({"term": "what is " * 2_000}))
    assert status == 404 and body["error"]["type"] == "QueryError"


@pytest.mark.parametrize("command", ["serve", "mcp"])
@pytest.mark.parametrize("poll", ["1e-9", "0.05"])
def test_a_poll_interval_below_a_tenth_of_a_second_is_refused(tmp_path: Path, runner, command: str, poll: str) -> None:
    result = runner.invoke(app, [command, "--poll", poll, "--index", str(tmp_path / "index")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the poll interval must be 0 (never) or at least 0.1 seconds, not ")
    assert not (tmp_path / "index").exists()


def test_a_burst_of_connections_is_queued_not_dropped() -> None:
    """Nobody accepts yet: the kernel completes as many handshakes as the backlog holds. With 5,
    the rest waited for a retransmitted SYN (a second, then more)."""
    server = make_server("127.0.0.1", 0)
    clients = []
    try:
        port = server.socket.getsockname()[1]
        for _ in range(100):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            clients.append(sock)
        pending = list(clients)
        while pending:  # a generous limit: connected sockets become writable at once
            _, writable, _ = select.select([], pending, [], 10)
            if not writable:
                break
            pending = [s for s in pending if s not in writable]
        connected = [s for s in clients if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and s not in pending]
        assert len(connected) == 100
        assert BACKLOG >= 100
    finally:
        for sock in clients:
            sock.close()
        server.server_close()


@pytest.mark.slow
def test_a_columns_of_other_digits_is_ignored_not_a_traceback(index: Path) -> None:
    """COLUMNS=² crashed every command, --help too, inside rich."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "²", "LINES": "³", "SEMSEARCH_SERVER": ""}
    for args in (["--help"], ["ask", "dropout", "-k", "1", "--index", str(index)], ["terms", "--index", str(index)]):
        done = subprocess.run(
            [sys.executable, str(CHILD), "cli", *args], capture_output=True, timeout=120, env=env, text=True
        )
        assert done.returncode == 0 and done.stderr == "", (args, done.stderr)


def test_the_shell_refuses_other_digits_for_k(index: Path) -> None:
    session = Session(semsearch.load(index, encoder=FakeEncoder()))
    assert session.handle(":k ²").message == "error: k must be a whole number from 1 to 1000, not '²'"


def test_a_server_uri_with_other_digits_is_a_usage_error(runner) -> None:
    result = runner.invoke(app, ["ask", "dropout", "--index", "qdrant://localhost:6333/g?shards=²"])
    assert result.exit_code == 2 and "unknown or invalid option 'shards'" in result.stderr
