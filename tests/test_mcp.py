"""`semsearch mcp` over stdio, driven as an MCP client drives it: the SDK's own stdio client starts the
server process (the fake encoder through tests/build_child.py), initializes, lists the tools and calls
each one; their results are the objects the `--json` commands print; refused input is a tool error
with the command's message. Without the SDK, `semsearch mcp` is one line naming the install command.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeEncoder
from test_server import CHILD

import semsearch
from semsearch.cli import app
from semsearch.modes import MODES

pytest.importorskip("mcp.client.stdio", reason="the MCP SDK (semsearch[mcp]) is not installed")


def session_run(index: Path, calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Start `semsearch mcp --index INDEX`, initialize, list the tools, make the calls; what came back."""
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable,
        args=[str(CHILD), "cli", "mcp", "--index", str(index), "--poll", "0"],
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )

    async def main() -> dict[str, Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            results = [await session.call_tool(name, arguments) for name, arguments in calls]
            return {"init": init, "tools": tools.tools, "results": results}

    return asyncio.run(asyncio.wait_for(main(), 180))


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import GLOSSARY

    work = tmp_path_factory.mktemp("mcp")
    (work / "glossary").mkdir()
    (work / "glossary" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    (work / "glossary" / "more.md").write_text("## 転移学習 | Transfer Learning\n- 事前学習済みモデルを使う。\n")
    semsearch.build(work / "glossary", work / "index", encoder=FakeEncoder())
    return work / "index"


def printed(runner, *args: str) -> Any:
    return json.loads(runner.invoke(app, [*args, "--json"]).stdout)


@pytest.mark.slow
def test_initialize_list_and_call_every_tool_over_stdio(index: Path, runner) -> None:
    got = session_run(
        index,
        [
            ("ask", {"question": "勾配消失とは", "k": 2}),
            ("ask", {"question": "dropout", "mode": "tfidf", "min_score": 0.1}),
            ("show", {"term": "learning rate"}),
            ("terms", {}),
            ("terms", {"source": "more.md"}),
            ("ask", {"question": "dropout", "k": 1, "full": True}),
            ("terms", {"entries": True}),
        ],
    )
    assert got["init"].server_info.name == "semsearch"
    assert got["init"].server_info.version == semsearch.__version__
    tools = {tool.name: tool for tool in got["tools"]}
    assert sorted(tools) == ["ask", "show", "terms"]
    schema = tools["ask"].input_schema
    assert schema["required"] == ["question"]
    assert schema["properties"]["k"]["minimum"] == 1 and schema["properties"]["k"]["default"] == 5
    assert sorted(schema["properties"]["mode"]["enum"]) == sorted(MODES)  # every mode
    assert tools["show"].input_schema["required"] == ["term"]
    assert "required" not in tools["terms"].input_schema

    ask, tfidf, show, terms, some, full, entries = got["results"]
    assert not any(r.is_error for r in got["results"])
    expected = printed(runner, "ask", "勾配消失とは", "-k", "2", "--index", str(index))
    assert ask.structured_content == expected
    assert json.loads(ask.content[0].text) == expected  # the same object as text, for clients without structure
    assert ask.structured_content["hits"][0]["term"] == "勾配消失問題"
    assert tfidf.structured_content == printed(
        runner, "ask", "dropout", "--mode", "tfidf", "--min-score", "0.1", "--index", str(index)
    )
    assert show.structured_content == printed(runner, "show", "learning rate", "--index", str(index))
    assert show.structured_content["term"]["body"].startswith("- 勾配降下法")
    assert terms.structured_content == printed(runner, "terms", "--index", str(index))
    assert [row["term"] for row in some.structured_content["terms"]] == ["転移学習"]
    assert entries.structured_content == printed(runner, "terms", "--entries", "--index", str(index))
    assert full.structured_content == printed(runner, "ask", "dropout", "-k", "1", "--full", "--index", str(index))
    assert (
        full.structured_content["hits"][0]["body"]
        == "- 学習時にユニットをランダムに無効化する正則化手法。過学習を防ぐ。"
    )
    assert full.structured_content["hits"][0]["path"] == str(index.parent.resolve() / "glossary" / "dl.md")


@pytest.mark.slow  # a second MCP server process: CI's run, not every `pytest`
def test_refused_calls_are_tool_errors_with_the_commands_message(index: Path) -> None:
    got = session_run(
        index,
        [
            ("show", {"term": "存在しない用語"}),
            ("terms", {"source": "nowhere.md"}),
            ("ask", {"question": "   "}),
            ("ask", {"question": "x", "k": 0}),
            ("ask", {"question": "x", "mode": "sparse"}),
            ("ask", {"question": "過学習"}),  # and it goes on answering
        ],
    )
    missing, nowhere, empty, zero, sparse, fine = got["results"]
    assert [r.is_error for r in got["results"]] == [True, True, True, True, True, False]
    assert "no term named '存在しない用語'" in missing.content[0].text
    assert "no file 'nowhere.md' in the index; the files are: dl.md, more.md" in nowhere.content[0].text
    assert "the question is empty" in empty.content[0].text
    assert "k" in zero.content[0].text and "greater than or equal to 1" in zero.content[0].text
    assert "mode" in sparse.content[0].text
    assert fine.structured_content["hits"][0]["term"] == "過学習"


@pytest.mark.slow
def test_without_the_sdk_mcp_is_one_line_naming_the_extra(tmp_path: Path, index: Path) -> None:
    hidden = tmp_path / "no-sdk" / "mcp"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('No module named mcp')\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "semsearch", "mcp", "--index", str(index)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "no-sdk"), "PYTHONIOENCODING": "utf-8"},
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: semsearch mcp needs the MCP Python SDK (mcp 2.x), which is not installed (No module named mcp); "
        "run: pip install 'semsearch[mcp]'"
    ]
