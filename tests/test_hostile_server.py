"""The thin client (semsearch/serve/client.py) against a server that is not semsearch's: a small socket
server in this file answers whatever a test tells it to. The client treats what comes back as
untrusted input: bounded in size and in total time, every header checked, control characters
escaped as the local command escapes them; any failure is one line, then a local answer when this
command line names the index (the same index), else an error with exit 4 (a local answer would come
from another glossary than the server's).

The client runs in this process (its limits made small for the test); a few tests run the real
entry point in a child process, where the exit code matters.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from semsearch.limits import QUESTION_LIMIT, STDIN_LIMIT
from semsearch.serve import client
from semsearch.text import safe_line

Answer = Callable[[socket.socket, bytes], None]
GOOD = {"X-Semsearch-Exit": "0", "X-Semsearch-Stderr": "0"}
HEAD = b"HTTP/1.1 200 OK\r\nX-Semsearch-Exit: 0\r\nX-Semsearch-Stderr: 0\r\n"
NOT_OURS = "an exit code that is not one of semsearch's"


class FakeServer:
    """Accepts connections on a free loopback port; each is answered by `self.answer(conn, request)`
    (the request head as received), then closed. Records every request."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: list[bytes] = []
        self.answer: Answer = lambda conn, request: None
        self.stopping = threading.Event()
        self.listener.settimeout(0.05)  # a closed listener does not wake a blocked accept(): look again
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                request = b""
                try:
                    while b"\r\n\r\n" not in request and len(request) < 1 << 20:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        request += chunk
                    self.requests.append(request)
                    self.answer(conn, request)
                except OSError:
                    pass  # the client went away: what a test wants to see

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(30)
        self.listener.close()


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second for the whole exchange: the tests that wait out a server wait that long, not 60 s."""
    monkeypatch.setattr(client, "ANSWER_SECONDS", 1.0)
    for name in ("SEMSEARCH_SERVER", "SEMSEARCH_INDEX", "SEMSEARCH_CORPUS", "COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)


def thin(status: str, headers: dict[str, str], body: bytes) -> Answer:
    """An answer with this status line, these headers (Content-Length added unless given), this body."""

    def answer(conn: socket.socket, request: bytes) -> None:
        lines = [f"HTTP/1.1 {status}"]
        if not any(k.lower() == "content-length" for k in headers):
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body)

    return answer


def raw(data: bytes) -> Answer:
    return lambda conn, request: conn.sendall(data)


def ok(stdout: str, stderr: str = "", code: int = 0) -> Answer:
    body = stderr.encode() + stdout.encode()
    return thin("200 OK", {"X-Semsearch-Exit": str(code), "X-Semsearch-Stderr": str(len(stderr.encode()))}, body)


def ask(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int | None, str, str]:
    """`semsearch ask ARGS` through client.run: (its result, stdout, stderr). None: answered locally."""
    code = client.run(["ask", *args])
    out, err = capsys.readouterr()
    return code, out, err


# -- what reaches the terminal ----------------------------------------------------------------

HOSTILE = (
    "plain \x1b[1;36mcolour\x1b[0m "  # kept: what rich writes
    "\x1b]8;id=7;file:///tmp/dl.md#3\x1b\\link\x1b]8;;\x1b\\ "  # kept: a hyperlink as rich writes it
    "\x1b]52;c;ZXZpbA==\x07 "  # a clipboard write
    "\x1b]0;pwned\x07 "  # a window title
    "\x1b[2J\x1b[H "  # clear the screen
    "\x9b31m \u202egpj.md \r\n"  # a one-character CSI, a bidi override, a carriage return
)
SHOWN = (
    "plain \x1b[1;36mcolour\x1b[0m "
    "\x1b]8;id=7;file:///tmp/dl.md#3\x1b\\link\x1b]8;;\x1b\\ "
    "\\x1b]52;c;ZXZpbA==\\x07 "
    "\\x1b]0;pwned\\x07 "
    "\\x1b[2J\\x1b[H "
    "\\x9b31m \\u202egpj.md \\r\n"
)


def test_escapes_in_an_answer_are_shown_not_obeyed(fake: FakeServer, capsys) -> None:
    fake.answer = ok(HOSTILE, stderr="warning: " + HOSTILE, code=0)
    code, out, err = ask(capsys, "dropout", "--server", fake.url)
    assert code == 0
    assert out == SHOWN
    assert err == "warning: " + SHOWN


@pytest.mark.parametrize("status", ["409 Conflict", "400 Bad Request", "500 Internal Server Error"])
def test_escapes_in_a_refusal_are_shown_not_obeyed(fake: FakeServer, capsys, status: str) -> None:
    message = 'evil \x1b]52;c;ZXZpbA==\x07 \x1b[2J\\" and ' + "x" * 1000
    body = json.dumps({"error": {"type": "X", "message": message}}).encode()
    fake.answer = thin(status, {"Content-Type": "application/json"}, body)
    code, out, err = ask(capsys, "dropout", "--server", fake.url, "--index", "/nowhere")
    assert code is None and out == ""  # answered here: the index is named, the local answer is from it
    (line,) = err.splitlines()
    assert "\x1b" not in line and "\\x1b]52;c;ZXZpbA==\\x07 \\x1b[2J" in line and '"' in line
    assert len(line) < 500 and line.endswith("; answering here")


def test_the_client_escapes_one_line_as_the_local_command_does() -> None:
    """serve/client.py cannot import text.py (it would import `re`): its table must agree with safe_line."""
    every = "".join(chr(c) for c in range(0x3000)) + "\u202e\u2066\u2069\ufeff"
    assert client._line(every) == safe_line(every)


@pytest.mark.slow
def test_escaping_an_answer_is_linear() -> None:
    """A hostile answer made of unfinished sequences: each looks ahead once, not 8 KB each."""
    for text in ("\x1b]8;" * 20_000, "\x1b[" * 20_000, "\x1b]8;;" + "a" * 20_000 + "\x1b\\" * 20_000):
        steps = 0

        def count(frame, event, arg):  # a tracer
            nonlocal steps
            steps += event == "line"
            return count

        sys.settrace(lambda frame, event, arg: count if frame.f_code.co_filename == client.__file__ else None)
        try:
            client._terminal(text)
        finally:
            sys.settrace(None)
        assert steps < 40 * len(text)


# -- time and size ------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_answer_dripped_a_byte_at_a_time_is_given_up_after_the_total_time(fake: FakeServer, capsys) -> None:
    def drip(conn: socket.socket, request: bytes) -> None:
        conn.sendall(HEAD + b"Content-Length: 1000\r\n\r\n")
        for _ in range(100):  # 20 s of drip, were the client to wait per byte
            conn.sendall(b"a")
            if fake.stopping.wait(0.2):
                return

    fake.answer = drip
    code, out, err = ask(capsys, "dropout", "--server", fake.url)
    assert (code, out) == (None, "")
    assert err == f"semsearch: no semsearch server at {fake.url} (no answer within 1 s); answering here\n"


@pytest.mark.slow
def test_a_server_that_never_answers_is_given_up_after_the_total_time(fake: FakeServer, capsys) -> None:
    fake.answer = lambda conn, request: fake.stopping.wait(5)  # until the test ends
    code, _, err = ask(capsys, "dropout", "--server", fake.url)
    assert code is None and "(no answer within 1 s); answering here" in err


def test_a_huge_answer_is_refused_before_it_is_read(fake: FakeServer, capsys) -> None:
    sent = []

    def huge(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: 400000000\r\nX-Semsearch-Exit: 0\r\nX-Semsearch-Stderr: 0\r\n\r\n"
        )
        block = b"a" * (1 << 20)
        for _ in range(400):
            conn.sendall(block)
            sent.append(len(block))

    fake.answer = huge
    code, out, err = ask(capsys, "dropout", "--server", fake.url)
    assert (code, out) == (4, "")
    assert err.startswith(
        f"error: the semsearch server at {fake.url} gave no usable answer (an answer of 400000000 bytes"
    )
    assert sum(sent) < 100 << 20  # the client stopped reading: the server's writes stalled, then failed


def test_an_answer_larger_than_the_limit_is_refused(fake: FakeServer, capsys, monkeypatch) -> None:
    monkeypatch.setattr(client, "ANSWER_LIMIT", 1000)
    fake.answer = ok("x" * 2000)
    code, out, err = ask(capsys, "dropout", "--server", fake.url)
    assert (code, out) == (4, "") and "more than the 0 MiB this client reads" in err


def test_headers_without_end_are_refused(fake: FakeServer, capsys) -> None:
    fake.answer = raw(b"HTTP/1.1 200 OK\r\n" + b"X-Junk: " + b"a" * (200 << 10))
    code, out, err = ask(capsys, "dropout", "--server", fake.url)
    assert (code, out) == (4, "") and "its headers are longer than 65536 bytes" in err


# -- every header checked -----------------------------------------------------------------------

GOOD = {"X-Semsearch-Exit": "0", "X-Semsearch-Stderr": "0"}
HEAD = b"HTTP/1.1 200 OK\r\nX-Semsearch-Exit: 0\r\nX-Semsearch-Stderr: 0\r\n"
NOT_OURS = NOT_OURS


@pytest.mark.slow
@pytest.mark.parametrize(
    "answer, reason",
    [
        (thin("200 OK", {**GOOD, "X-Semsearch-Exit": "²"}, b"x"), NOT_OURS),
        (thin("200 OK", {**GOOD, "X-Semsearch-Exit": "9" * 23}, b"x"), NOT_OURS),
        (
            thin("200 OK", {**GOOD, "X-Semsearch-Exit": "256"}, b"x"),
            f"{NOT_OURS} ('256')",
        ),
        (thin("200 OK", {**GOOD, "X-Semsearch-Exit": "-1"}, b"x"), NOT_OURS),
        (thin("200 OK", {**GOOD, "X-Semsearch-Exit": ""}, b"x"), NOT_OURS),
        (thin("200 OK", {**GOOD, "X-Semsearch-Stderr": "²"}, b"x"), "a stderr length that does not fit its answer"),
        (thin("200 OK", {**GOOD, "X-Semsearch-Stderr": "5"}, b"x"), "a stderr length that does not fit its answer"),
        (thin("200 OK", {**GOOD, "Content-Length": "²"}, b"x"), "a Content-Length that is not a number"),
        (thin("200 OK", {**GOOD, "Content-Length": "-1"}, b"x"), "a Content-Length that is not a number"),
        (thin("²00 OK", GOOD, b"x"), "the answer is not HTTP"),
        (thin("20 OK", GOOD, b"x"), "the answer is not HTTP"),
        (thin("200 OK", GOOD, b"\xff\xfe"), "an answer that is not UTF-8"),
        (thin("200 OK", {**GOOD, "Transfer-Encoding": "chunked"}, b"x"), "a Transfer-Encoding"),
        (raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"), "the header Content-Length twice"),
        (raw(b"HTTP/1.1 200 OK\r\nX-Semsearch-Exit: 0\r\n\r\nx"), "no Content-Length"),
        (raw(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"), "a malformed header"),
        (raw(b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 100 + b"\r\n"), "more than 64 headers"),
        (
            raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Semsearch-Exit: 0\r\nX-Semsearch-Stderr: 0\r\n\r\nabc"),
            "cut short",
        ),
        (raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), "the answer is not HTTP"),
        (raw(b"garbage"), "the answer is not HTTP"),
        (raw(b""), "it closed the connection without answering"),
        (thin("414 Request-URI Too Long", {}, b""), "HTTP 414"),
        (
            thin("500 Internal Server Error", {}, b'{"error": {"type": "InternalError", "message": "the bug"}}'),
            "the bug",
        ),
    ],
)
def test_an_unusable_answer_is_one_line_and_exit_4(fake: FakeServer, capsys, answer: Answer, reason: str) -> None:
    """Without an index named here: an error, not an answer from the bundled glossary or ./corpus."""
    fake.answer = answer
    code, out, err = ask(capsys, "dropout", "--server", fake.url)
    assert (code, out) == (4, "")
    (line,) = err.splitlines()
    assert line.startswith(f"error: the semsearch server at {fake.url} gave no usable answer (")
    assert reason in line and line.endswith("ask again, or without it: --server ''")


def test_an_unusable_answer_with_json_is_a_json_error(fake: FakeServer, capsys) -> None:
    fake.answer = thin("200 OK", {**GOOD, "X-Semsearch-Exit": "²"}, b"x")
    code, out, err = ask(capsys, "dropout", "--server", fake.url, "--json")
    assert (code, err) == (4, "")
    error = json.loads(out)["error"]
    assert error["type"] == "IndexStoreError" and NOT_OURS in error["message"]


@pytest.mark.parametrize("named", [["--index", "/some/index"], ["--corpus", "/some/glossary"]])
def test_an_unusable_answer_with_the_index_named_is_answered_here(fake: FakeServer, capsys, named) -> None:
    fake.answer = thin("414 Request-URI Too Long", {}, b"")
    code, out, err = ask(capsys, "dropout", "--server", fake.url, *named)
    assert (code, out) == (None, "")
    assert err == f"semsearch: the server at {fake.url} gave no usable answer (HTTP 414); answering here\n"


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1:8765/ä", "'http://127.0.0.1:8765/ä' is not a http://HOST:PORT address"),
        ("http://" + "a" * 300 + ":8765", "is not a http://HOST:PORT address"),
        ("http://127.0.0.1:8765/\x1b[2J", "'http://127.0.0.1:8765/\\x1b[2J' is not a http://HOST:PORT address"),
        ("http://127.0.0.1:²", "is not a http://HOST:PORT address"),
        ("http://127.0.0.1:99999", "is not a http://HOST:PORT address"),
        ("http://bad_host!:8765", "is not a http://HOST:PORT address"),
        ("http://127.0.0.1:8765/x?y", "is not a http://HOST:PORT address"),
    ],
)
def test_an_unusable_address_is_one_line_then_a_local_answer(capsys, url: str, reason: str) -> None:
    code, out, err = ask(capsys, "dropout", "--server", url)
    assert (code, out) == (None, "")
    (line,) = err.splitlines()
    assert line.startswith("semsearch: no semsearch server at ") and reason in line
    assert "\x1b" not in line and line.endswith("; answering here")


# -- what is sent -------------------------------------------------------------------------------


def test_a_long_question_is_cut_to_what_the_server_reads(fake: FakeServer, capsys) -> None:
    fake.answer = ok("fine\n")
    code, out, err = ask(capsys, "勾配" * 100_000, "--server", fake.url)
    assert (code, out, err) == (0, "fine\n", "")
    target = fake.requests[0].split(b" ")[1].decode("ascii")
    assert len(target) <= client.TARGET_LIMIT
    query = dict(p.split("=", 1) for p in target.split("?", 1)[1].split("&") if not p.startswith("env="))
    from urllib.parse import unquote

    assert unquote(query["q"]) == ("勾配" * 100_000)[: QUESTION_LIMIT + 1]


def test_a_question_on_stdin_is_read_up_to_the_limit(fake: FakeServer, capsys, monkeypatch) -> None:
    """`yes q | semsearch ask` with a server: read to STDIN_LIMIT, as the local command reads it."""

    class Endless(io.RawIOBase):
        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            if Endless.served > 50 * STDIN_LIMIT:
                return 0  # the old client read on and on: stop it here
            buffer[: len(buffer)] = b"a" * len(buffer)
            Endless.served += len(buffer)
            return len(buffer)

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(Endless()), encoding="utf-8"))
    fake.answer = ok("fine\n")
    code, out, _ = ask(capsys, "-", "--server", fake.url)
    assert (code, out) == (0, "fine\n")
    assert Endless.served < 2 * STDIN_LIMIT + (1 << 16)


@pytest.mark.parametrize("value", ["²", "80x", "999999", " "])
def test_a_columns_that_is_no_number_is_not_sent(fake: FakeServer, capsys, monkeypatch, value: str) -> None:
    """The local command ignores it; the server would refuse it (400)."""
    monkeypatch.setenv("COLUMNS", value)
    fake.answer = ok("fine\n")
    assert ask(capsys, "dropout", "--server", fake.url)[0] == 0
    assert b"COLUMNS" not in fake.requests[0]


def test_the_client_and_the_server_agree_on_the_exchange() -> None:
    """Constants the client keeps itself, so as not to import the server's modules."""
    from semsearch.cli import formats
    from semsearch.serve import http as server

    assert client.PROTOCOL == server.THIN_PROTOCOL
    assert client.CONSOLE_ENV == server.CONSOLE_ENV
    assert tuple(formats.FORMATS) == client.FORMATS
    from semsearch.cli import console

    assert frozenset(console.EXIT_CODES.values()) == client.EXIT_CODES


# -- through the entry point ---------------------------------------------------------------------

CHILD = Path(__file__).resolve().parent / "build_child.py"


def entry(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, str(CHILD), "entry", *args],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **env},
    )
    return done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("code", ["256", "99999999999999999999999"])
def test_an_exit_code_out_of_range_is_exit_4_not_0(fake: FakeServer, tmp_path: Path, code: str) -> None:
    fake.answer = thin("200 OK", {**GOOD, "X-Semsearch-Exit": code}, b"x")
    done = entry(["ask", "dropout"], {"SEMSEARCH_SERVER": fake.url, "XDG_CACHE_HOME": str(tmp_path)})
    assert done[0] == 4 and done[1] == "" and "Traceback" not in done[2]
    assert done[2].startswith("error: the semsearch server at ")


@pytest.mark.slow
def test_a_refused_question_is_not_answered_from_another_glossary(fake: FakeServer, tmp_path: Path) -> None:
    """With SEMSEARCH_SERVER set and no index named, a 414 used to be answered here from the bundled
    glossary, which is not the server's."""
    fake.answer = thin("414 Request-URI Too Long", {}, b"")
    done = entry(["ask", "dropout"], {"SEMSEARCH_SERVER": fake.url, "XDG_CACHE_HOME": str(tmp_path)})
    assert done == (4, "", done[2]) and done[2].count("\n") == 1 and "HTTP 414" in done[2]
    assert not (tmp_path / "semsearch").exists()  # no local index was built
