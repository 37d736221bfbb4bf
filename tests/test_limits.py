"""The limits on runaway input and the progress of long builds (issue 16): `--max-chunks` and
`--max-file-mb` (and their environment variables), kept across rebuilds; progress lines off a terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import FakeEncoder
from typer.testing import CliRunner

import semsearch
from semsearch.chunking import MAX_CHUNKS, ChunkSettings
from semsearch.cli import app
from semsearch.cli import progress as cli

pytestmark = pytest.mark.usefixtures("fake_default_encoder")

BOOK = "## 本 | Book\n" + "\n".join(f"- 段落{i}: " + "説明文" * 30 for i in range(400)) + "\n"


@pytest.fixture
def book(glossary: Path) -> Path:
    (glossary / "book.md").write_text(BOOK, encoding="utf-8")
    return glossary


def _chunks_of(index: Path, name: str) -> int:
    rows = json.loads(
        CliRunner().invoke(app, ["terms", "--index", str(index), "--json"], catch_exceptions=False).stdout
    )["terms"]
    return next(r["chunks"] for r in rows if r["term"] == name)


def test_build_caps_a_runaway_entry_and_says_so(runner: CliRunner, book: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    result = runner.invoke(app, ["build", str(book), "--index", str(index), "--max-chunks", "3"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "warning: book.md:1: the entry '本' is too long: only its first 3 pieces are embedded"
    )
    assert _chunks_of(index, "本") == 3
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["chunking"]["max_chunks"] == 3


def test_a_rebuild_keeps_the_limit_the_index_was_built_with(book: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    semsearch.build(book, index, encoder=FakeEncoder(), settings=ChunkSettings(max_chunks=3))
    (book / "dl.md").write_text("## 正則化 | Regularization\n- 過学習を抑える。\n", encoding="utf-8")
    report = semsearch.build(book, index, encoder=FakeEncoder()).build_report
    assert report is not None and report.written
    assert _chunks_of(index, "本") == 3
    semsearch.build(book, index, encoder=FakeEncoder(), settings=ChunkSettings(max_chunks=4))
    assert _chunks_of(index, "本") == 4


def test_the_default_limit(book: Path, tmp_path: Path) -> None:
    semsearch.build(book, tmp_path / "index", encoder=FakeEncoder())
    assert _chunks_of(tmp_path / "index", "本") == MAX_CHUNKS


def test_the_environment_sets_the_limits_for_builds_that_ask_starts(
    runner: CliRunner, book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEMSEARCH_MAX_CHUNKS", "2")
    monkeypatch.setenv("SEMSEARCH_MAX_FILE_MB", "0.001")  # 1,048 bytes: book.md and dl.md are larger
    index = tmp_path / "index"
    result = runner.invoke(app, ["ask", "転移学習", "--index", str(index), "--corpus", str(book)])
    assert result.exit_code == 0, result.output
    assert "warning: skipped book.md: larger than 1048 bytes" in result.stderr
    assert "raise the limit with --max-file-mb" in result.stderr
    assert json.loads((index / "manifest.json").read_text(encoding="utf-8"))["chunking"]["max_chunks"] == 2


def test_max_file_mb_skips_larger_files(runner: CliRunner, book: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", str(book), "--index", str(tmp_path / "index"), "--max-file-mb", "0.001"])
    assert result.exit_code == 0, result.output
    assert "warning: skipped book.md: larger than 1048 bytes (" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--max-chunks", "0"], {}, "Invalid value for '--max-chunks'"),
        (["--max-file-mb", "0"], {}, "--max-file-mb must be a positive number, not 0"),
        (["--max-file-mb", "nan"], {}, "--max-file-mb must be a positive number, not nan"),
        ([], {"SEMSEARCH_MAX_CHUNKS": "lots"}, "$SEMSEARCH_MAX_CHUNKS must be a positive number, not 'lots'"),
        ([], {"SEMSEARCH_MAX_FILE_MB": "-1"}, "$SEMSEARCH_MAX_FILE_MB must be a positive number, not '-1'"),
        (["--wait", "nan"], {}, "--wait must be a number of seconds, not nan"),
    ],
)
def test_bad_limits_are_usage_errors(
    runner: CliRunner, glossary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args, env, message
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["build", str(glossary), "--index", str(tmp_path / "index"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "index").exists()


def test_progress_lines_off_a_terminal_every_few_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    now = [100.0]
    update = cli._progress_lines(clock=lambda: now[0], every=5.0)
    for done, at in ((0, 100.0), (16, 102.0), (32, 105.5), (48, 107.0), (64, 111.0), (1000, 200.0)):
        now[0] = at
        update(done, 1000)
    lines = capsys.readouterr().err.splitlines()
    # The rate so far (chunks since the first call, 100.0) and the time left at that rate.
    assert lines == [
        "embedding: 32/1000 chunks (3%), elapsed 6 s, 5.8 chunks/s, about 2 min 46 s left",
        "embedding: 64/1000 chunks (6%), elapsed 11 s, 5.8 chunks/s, about 2 min 40 s left",
        "embedding: 1000/1000 chunks (100%), elapsed 1 min 40 s, 10.0 chunks/s",
    ]


def test_a_build_off_a_terminal_gets_progress_lines(
    runner: CliRunner, glossary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "PROGRESS_EVERY", 0.0)  # every batch: this build is short
    result = runner.invoke(app, ["build", str(glossary), "--index", str(tmp_path / "index")])
    assert result.exit_code == 0, result.output
    assert "embedding: 6/6 chunks (100%)" in result.stderr


def test_a_snippet_is_chosen_from_the_beginning_of_a_runaway_entry() -> None:
    from semsearch.search import SNIPPET_SCAN_CHARS, snippet

    filler = "".join(f"- 段落{i}: 説明文。\n" for i in range(SNIPPET_SCAN_CHARS // 8))
    body = "- 最初の行。\n" + filler + "- 過学習を防ぐ方法。\n"
    assert snippet(body, "過学習") == "最初の行。"  # the matching line lies beyond what is looked at
    assert snippet("- 最初の行。\n- 過学習を防ぐ方法。\n", "過学習") == "過学習を防ぐ方法。"


@pytest.mark.parametrize("width", [40, 60, 80, 140])
def test_the_progress_line_fits_one_line_and_reads_right(width: int) -> None:
    from semsearch.cli.progress import progress_line

    loading = progress_line(0, 301, 3.2, width)
    assert loading.startswith("loading the encoders") and len(loading) <= width
    midway = progress_line(120, 301, 7.0, width)
    assert len(midway) <= width and midway.startswith("embedding ") and "120/301 39%" in midway
    # The time left reads as time left, never as a second elapsed time.
    assert "left" not in midway or re.search(r"about \d+:\d\d left", midway)
    if width >= 60:
        assert "about 0:11 left" in midway
    if width >= 80:
        assert "elapsed 0:07" in midway and "17.1 chunks/s" in midway
    done = progress_line(301, 301, 20.0, width)
    assert "301/301 100%" in done and "left" not in done and len(done) <= width
