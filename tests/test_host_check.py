"""`semsearch serve` answers only requests for itself: a web page that rebinds its own name to
127.0.0.1 (DNS rebinding) sends that name in Host and is refused (403), so it cannot read /terms or
/show through the visitor's browser. Localhost names and the address it listens on are answered;
`--allow-host NAME` adds a name ('*': any). Listening beyond this machine is said on stderr; an empty
--host is refused. A real server process, raw HTTP.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import GLOSSARY, FakeEncoder
from test_server import Served, start_server

import semsearch
from semsearch.cli import app
from semsearch.serve.http import THIN_PROTOCOL

PATHS = ["/health", "/terms", "/show?term=dropout", "/ask?q=dropout", f"/cli/ask?v={THIN_PROTOCOL}&q=dropout"]


def request(served: Served, path: str, headers: list[str], version: str = "HTTP/1.1") -> tuple[int, dict]:
    """One raw request with exactly these header lines: (status, JSON body)."""
    head = f"GET {path} {version}\r\n" + "".join(f"{h}\r\n" for h in headers) + "Connection: close\r\n\r\n"
    with socket.create_connection((served.host, served.port), timeout=60) as sock:
        sock.sendall(head.encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split(b" ")[1]), json.loads(body) if body.startswith(b"{") else {}


def index_of(work: Path) -> Path:
    (work / "glossary").mkdir()
    (work / "glossary" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    semsearch.build(work / "glossary", work / "index", encoder=FakeEncoder())
    return work / "index"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("hosts")
    server = start_server(["--index", str(index_of(work)), "--poll", "0"], work / "serve.log")
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", "localhost.evil"])
def test_a_request_for_another_host_is_refused(served: Served, path: str, host: str) -> None:
    status, body = request(served, path, [f"Host: {host}"])
    assert status == 403
    assert body["error"]["type"] == "Forbidden"
    assert "--allow-host" in body["error"]["message"] and "dropout" not in json.dumps(body)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.0.0.1:{port}", "localhost", "LOCALHOST:{port}", "localhost.", "[::1]:{port}", "a.localhost"],
)
def test_a_request_for_this_machine_is_answered(served: Served, host: str) -> None:
    status, body = request(served, "/health", [f"Host: {host.format(port=served.port)}"])
    assert status == 200 and body["status"] == "ok"


def test_a_request_without_host_is_answered(served: Served) -> None:
    assert request(served, "/health", [], version="HTTP/1.0")[0] == 200


def test_two_host_headers_are_refused(served: Served) -> None:
    status, body = request(served, "/health", ["Host: 127.0.0.1", "Host: evil.example"])
    assert status == 400 and body["error"]["message"] == "more than one Host header"


@pytest.mark.slow
def test_allow_host_adds_a_name(tmp_path: Path) -> None:
    index = index_of(tmp_path)
    args = ["--index", str(index), "--poll", "0", "--allow-host", "glossary.lan", "--allow-host", "Wiki."]
    server = start_server(args, tmp_path / "serve.log")
    try:
        assert request(server, "/terms", ["Host: glossary.lan:8765"])[0] == 200
        assert request(server, "/terms", ["Host: wiki"])[0] == 200
        assert request(server, "/terms", ["Host: evil.example"])[0] == 403
    finally:
        server.stop()
    server = start_server(["--index", str(index), "--poll", "0", "--allow-host", "*"], tmp_path / "2.log")
    try:
        assert request(server, "/terms", ["Host: evil.example"])[0] == 200
    finally:
        server.stop()


def test_an_empty_host_is_refused(runner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--host", "", "--index", str(tmp_path / "index")])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --host is empty; name the address to listen on: 127.0.0.1 (this machine), or 0.0.0.0 (every "
        "interface)\n"
    )


@pytest.mark.slow
def test_listening_beyond_this_machine_is_said(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    server = start_server(["--host", "0.0.0.0", "--index", str(index_of(tmp_path)), "--poll", "0"], log)
    try:
        said = log.read_text(encoding="utf-8")
        assert (
            "warning: listening on 0.0.0.0, not only on this machine: anyone who can reach it can read the "
            "glossary and the index's paths (there is no authentication); --host 127.0.0.1 keeps it to this machine"
        ) in said
        assert request(server, "/health", [f"Host: 127.0.0.1:{server.port}"])[0] == 200
        assert request(server, "/health", ["Host: 192.0.2.7"])[0] == 403  # this machine's address by another name
    finally:
        server.stop()


def test_an_absolute_target_names_the_host_itself(served: Served) -> None:
    """`GET http://evil.example/terms` is a request for evil.example, whatever Host says (RFC 9112)."""
    assert request(served, "http://evil.example/terms", ["Host: localhost"])[0] == 403
    assert request(served, f"http://localhost:{served.port}/health", ["Host: localhost"])[0] == 200


@pytest.mark.slow
def test_a_client_gone_before_its_refusal_leaves_no_traceback(tmp_path: Path) -> None:
    """Clients that leave mid-request (here refused for their Host) printed socketserver tracebacks."""
    log = tmp_path / "serve.log"
    server = start_server(["--index", str(index_of(tmp_path)), "--poll", "0"], log)
    try:
        for _ in range(20):
            with socket.create_connection((server.host, server.port), timeout=60) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: evil.example")  # the request's end: the connection's
        assert request(server, "/health", ["Host: localhost"])[0] == 200  # the earlier ones are answered by now
    finally:
        assert server.stop() == 0
    assert "Traceback" not in log.read_text(encoding="utf-8")
