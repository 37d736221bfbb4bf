"""`semsearch mcp` given what an MCP client can send but the SDK's client never does: lone surrogates
in JSON strings ("\\ud800abc", which the SDK's parser refused without a reply, so the client waited
for ever), arguments the tool's schema refuses (a pydantic dump of several lines, with the values),
a question of a megabyte. Every request gets its reply; refusals are one line.

The server runs as a child process (tests/build_child.py, the fake encoder) driven over raw stdio.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import GLOSSARY, FakeEncoder

import semsearch
from semsearch.limits import QUESTION_LIMIT
from semsearch.serve.mcp import without_lone_surrogates

pytest.importorskip("mcp.server.mcpserver", reason="the MCP SDK (semsearch[mcp]) is not installed")

CHILD = Path(__file__).resolve().parent / "build_child.py"
REPLY_SECONDS = 60  # a safety limit for a loaded machine: a reply comes in well under a second


class Raw:
    """A `semsearch mcp` process spoken to in JSON-RPC lines written by hand."""

    def __init__(self, index: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), "cli", "mcp", "--index", str(index), "--poll", "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )
        self.next_id = 0
        init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}
        assert "result" in self.call("initialize", json.dumps(init))
        self.send('{"jsonrpc": "2.0", "method": "notifications/initialized"}')

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode("utf-8") + b"\n")
        self.process.stdin.flush()

    def call(self, method: str, params: str) -> dict[str, Any]:
        """Send one request (its params as JSON text, written as given); its reply, or fail."""
        self.next_id += 1
        self.send(f'{{"jsonrpc": "2.0", "id": {self.next_id}, "method": "{method}", "params": {params}}}')
        assert self.process.stdout is not None
        deadline = time.monotonic() + REPLY_SECONDS
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], deadline - time.monotonic())
            if not ready:
                break
            reply = json.loads(self.process.stdout.readline())
            if reply.get("id") == self.next_id:
                return reply
        pytest.fail(f"no reply to {params[:80]} within {REPLY_SECONDS} s")

    def tool(self, arguments_json: str) -> dict[str, Any]:
        return self.call("tools/call", arguments_json)["result"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(REPLY_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def mcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Raw]:
    work = tmp_path_factory.mktemp("mcp-input")
    (work / "glossary").mkdir()
    (work / "glossary" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    semsearch.build(work / "glossary", work / "index", encoder=FakeEncoder())
    raw = Raw(work / "index")
    yield raw
    raw.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "call",
    [
        '{"name": "ask", "arguments": {"question": "\\ud800abc"}}',
        '{"name": "ask", "arguments": {"question": "dropout\\udfff"}}',
        '{"name": "show", "arguments": {"term": "\\ud800abc"}}',
        '{"name": "terms", "arguments": {"source": "\\ud800abc"}}',
        '{"name": "ask", "arguments": {"question": "\\ud800abc", "mode": "\\udc00"}}',
    ],
)
def test_a_lone_surrogate_gets_a_reply(mcp: Raw, call: str) -> None:
    result = mcp.tool(call)  # a reply: before, none ever came
    text = result["content"][0]["text"]
    if result.get("isError"):
        assert text.startswith("Error executing tool ") and "\n" not in text
    else:  # answered, the surrogate read as U+FFFD (as the SDK reads bytes that are not UTF-8)
        assert "\ufffd" in json.loads(text)["query"]


@pytest.mark.slow
def test_after_a_lone_surrogate_the_server_goes_on_answering(mcp: Raw) -> None:
    mcp.tool('{"name": "ask", "arguments": {"question": "\\ud800"}}')
    result = mcp.tool('{"name": "ask", "arguments": {"question": "dropout", "k": 1}}')
    assert result["structuredContent"]["hits"][0]["term"] == "ドロップアウト"


@pytest.mark.slow
@pytest.mark.parametrize(
    "arguments, said",
    [
        ({"question": "x", "k": 0}, "k: Input should be greater than or equal to 1"),
        ({"question": "x", "k": 1001}, "k: Input should be less than or equal to 1000"),
        ({"question": "x", "k": "many"}, "k: Input should be a valid integer"),
        ({"question": "x", "mode": "psychic"}, "mode: Input should be 'hybrid', 'dense', 'use' or 'tfidf'"),
        ({"question": "x", "min_score": 2}, "min_score: Input should be less than or equal to 1"),
        ({}, "question: Field required"),
        ({"question": ["a", "list"]}, "question: Input should be a valid string"),
    ],
)
def test_refused_arguments_are_one_line_without_the_values(mcp: Raw, arguments: dict, said: str) -> None:
    result = mcp.tool(json.dumps({"name": "ask", "arguments": arguments}))
    text = result["content"][0]["text"]
    assert result["isError"] is True
    assert text.startswith("Error executing tool ask: ") and said in text
    assert "\n" not in text and "pydantic" not in text and "input_value" not in text and "psychic" not in text


@pytest.mark.slow
def test_a_megabyte_question_is_answered(mcp: Raw) -> None:
    question = "what is " * 130_000 + "dropout"
    result = mcp.tool(json.dumps({"name": "ask", "arguments": {"question": question, "k": 1}}))
    assert not result.get("isError")
    assert result["structuredContent"]["query"] == question[:QUESTION_LIMIT]


@pytest.mark.parametrize(
    "line, expected",
    [
        ('{"q": "\\ud800abc"}', '{"q": "\\ufffdabc"}'),
        ('{"q": "\\uDBFF"}', '{"q": "\\ufffd"}'),
        ('{"q": "\\udc00\\ud800"}', '{"q": "\\ufffd\\ufffd"}'),
        ('{"q": "\\ud83d\\ude00"}', '{"q": "\\ud83d\\ude00"}'),  # a pair: one character, kept
        ('{"q": "\\\\ud800"}', '{"q": "\\\\ud800"}'),  # an escaped backslash, then text
        ('{"q": "\\\\\\ud800"}', '{"q": "\\\\\\ufffd"}'),
        ('{"q": "plain"}', '{"q": "plain"}'),
    ],
)
def test_only_lone_surrogate_escapes_are_replaced(line: str, expected: str) -> None:
    assert without_lone_surrogates(line) == expected
    json.loads(without_lone_surrogates(line))


@pytest.mark.slow
def test_a_request_nested_deeper_than_the_parser_goes_gets_an_error_reply(mcp: Raw) -> None:
    """Valid JSON, but deeper than the SDK's parser goes: it dropped the request without a reply."""
    nested = "[" * 100_000 + "]" * 100_000
    reply = mcp.call("tools/call", f'{{"name": "ask", "arguments": {{"question": {nested}}}}}')
    assert reply["error"]["code"] == -32601
    assert reply["error"]["data"].startswith("semsearch: the request cannot be read (")
    assert "recursion limit" in reply["error"]["data"]
    after = mcp.tool('{"name": "ask", "arguments": {"question": "dropout", "k": 1}}')
    assert after["structuredContent"]["hits"][0]["term"] == "ドロップアウト"
