"""Terminals of every width, as a user in a narrow split or a phone's SSH client has them: every
table and key-value view fits, nothing a user must copy (a path, a cache name, a score) is cut, and
messages on stderr wrap between words. Each command runs in a child whose stdout and stderr are a
real pseudo-terminal of the width under test (tests/build_child.py, with the fake encoder)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from conftest import FakeEncoder

import semsearch

HERE = Path(__file__).resolve().parent
CHILD = HERE / "build_child.py"
ESCAPES = re.compile(r"\x1b\]8;[^\x1b]*\x1b\\|\x1b\[[0-9;?]*[A-Za-z]")
WIDTHS = (40, 60, 80, 140)


def on_a_terminal(args: list[str], columns: int, codes: tuple[int, ...] = (0,)) -> list[str]:
    """The lines a terminal `columns` wide shows for the command (stdout and stderr both on it)."""
    import pty

    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS", "LINES")}
    env.update({"TERM": "xterm-256color", "NO_COLOR": "1", "SEMSEARCH_SERVER": ""})
    with subprocess.Popen(
        [sys.executable, str(CHILD), "entry", *args],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env=env,
    ) as process:
        os.close(secondary)
        chunks = []
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not data:
                break
            chunks.append(data)
        assert process.wait(timeout=120) in codes
    os.close(primary)
    text = ESCAPES.sub("", b"".join(chunks).decode("utf-8")).replace("\r\n", "\n")
    return text.splitlines()


def assert_fits(lines: list[str], columns: int) -> None:
    from rich.cells import cell_len

    assert all(cell_len(line) <= columns for line in lines), (columns, lines)
    assert not any("…" in line for line in lines), (columns, lines)


def squeezed(lines: list[str]) -> str:
    """The text with every space and line break taken out: a value wrapped or folded over lines
    reads whole again."""
    return re.sub(r"\s+", "", "".join(lines))


@pytest.fixture
def index(glossary: Path, tmp_path: Path) -> Path:
    # A long, deep index path: the value a narrow `info` used to cut.
    where = tmp_path / "a-rather-long-folder-name-for-indexes" / "glossary-index-2026"
    semsearch.build(glossary, where, encoder=FakeEncoder())
    return where


@pytest.mark.slow
@pytest.mark.parametrize("columns", WIDTHS)
def test_info_shows_every_value_whole(index: Path, columns: int) -> None:
    lines = on_a_terminal(["info", "--index", str(index)], columns)
    assert_fits(lines, columns)
    data = json.loads(
        subprocess.run(
            [sys.executable, str(CHILD), "entry", "info", "--index", str(index), "--json"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "SEMSEARCH_SERVER": ""},
        ).stdout
    )
    assert str(index) in squeezed(lines)
    assert re.sub(r"\s+", "", str(data["encoder"]["id"])) in squeezed(lines)


@pytest.mark.slow
@pytest.mark.parametrize("columns", WIDTHS)
def test_compare_never_cuts_a_term_or_a_score(index: Path, columns: int) -> None:
    args = ["compare", "dropout", "-k", "3", "--index", str(index)]
    lines = on_a_terminal(args, columns)
    assert_fits(lines, columns)
    data = json.loads(
        subprocess.run(
            [sys.executable, str(CHILD), "entry", *args, "--json"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "SEMSEARCH_SERVER": ""},
        ).stdout
    )
    shown = "\n".join(lines)
    for hits in data["modes"].values():
        for hit in hits:
            assert f"{hit['score']:.3f}" in shown, (hit, columns)
            assert hit["term"] in shown, (hit, columns)
    # Side by side where the table fits whole, else one list per mode.
    assert ("┃" in shown) == (columns >= 80), shown


@pytest.mark.slow
@pytest.mark.parametrize("columns", WIDTHS)
def test_cache_names_are_whole_on_their_line(glossary: Path, columns: int) -> None:
    on_a_terminal(["ask", "dropout", "--corpus", str(glossary)], 80)  # builds an index in the cache
    lines = on_a_terminal(["cache"], columns)
    assert_fits(lines, columns)
    names = json.loads(
        subprocess.run(
            [sys.executable, str(CHILD), "entry", "cache", "--json"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "SEMSEARCH_SERVER": ""},
        ).stdout
    )["indexes"]
    assert names
    for entry in names:
        assert any(re.search(rf"(^|[\s│]){re.escape(entry['name'])}($|[\s│])", line) for line in lines), lines


@pytest.mark.slow
@pytest.mark.parametrize("columns", (40, 60))
def test_errors_wrap_between_words(tmp_path: Path, columns: int) -> None:
    missing = tmp_path / "no-index-was-ever-built-here"
    lines = on_a_terminal(["ask", "dropout", "--index", str(missing)], columns, codes=(4,))
    text = "\n".join(lines)
    assert len(lines) > 1 and all(len(line) <= columns for line in lines), lines
    assert lines[0].startswith("error: no index at")
    # Every word of the message whole on some line: none was broken by the terminal.
    for word in ("build", "semsearch", "CORPUS", "--index"):
        assert re.search(rf"(^|\s|`){re.escape(word)}(\s|`|$)", text, re.M), (word, lines)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["ask", "build", "eval", "lint", "cache"])
def test_help_fits_the_terminal(command: str) -> None:
    """A command's --help in a 60-column terminal, examples and file formats included: wrapped
    between words, no line wider than the terminal."""
    from rich.cells import cell_len

    lines = on_a_terminal([command, "--help"], 60)
    assert lines and not [line for line in lines if cell_len(line) > 60], lines
    words = {word for line in lines for word in line.split()}
    assert "semsearch" in words and not {"defin", "ition", "orpus"} & words


@pytest.mark.slow
def test_show_in_an_fzf_preview_wraps_to_the_preview(index: Path) -> None:
    """fzf runs `semsearch show {..}` with its output in a pipe and the preview's width in
    FZF_PREVIEW_COLUMNS: the entry is laid out for that width, not left as one long line."""
    from rich.cells import cell_len

    env = {**os.environ, "SEMSEARCH_SERVER": "", "FZF_PREVIEW_COLUMNS": "30", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, str(CHILD), "entry", "show", "Backpropagation", "--index", str(index)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    lines = ESCAPES.sub("", result.stdout).splitlines()
    assert len(lines) >= 3 and all(cell_len(line) <= 30 for line in lines), lines
