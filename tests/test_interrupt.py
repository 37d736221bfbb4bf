"""Ctrl-C (issue 16): a build stops at once, exit 130, the old index intact; Ctrl-C at start-up
prints no traceback. Real processes, real signals, the real embedded encoder."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FakeEncoder

import semsearch

HERE = Path(__file__).resolve().parent
TERMS = 700  # 44 batches of 16: far more than two engines run at once
BUILD = ("build", "--force", "--model", "embedded")


@pytest.fixture
def big(tmp_path: Path) -> Path:
    root = tmp_path / "big"
    root.mkdir()
    entries = (
        f"## 用語{i} | Term {i}\n- 説明 {i}: 学習時にユニット {i} を無効化する手法の一つ。\n" for i in range(TERMS)
    )
    (root / "g.md").write_text("\n".join(entries), encoding="utf-8")
    return root


def _wait_for_lines(path: Path, n: int, process: subprocess.Popen, timeout: float = 120.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0
        if lines >= n or process.poll() is not None:
            return lines
        time.sleep(0.02)
    process.kill()
    pytest.fail(f"the build did not reach {n} batches")


@pytest.mark.slow
def test_ctrl_c_stops_a_build_without_running_the_queued_batches(big: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    semsearch.build(big, index, encoder=FakeEncoder())  # the old index
    manifest = (index / "manifest.json").read_bytes()
    entries = sorted(p.name for p in index.iterdir())
    log = tmp_path / "batches.log"
    build = subprocess.Popen(
        [sys.executable, str(HERE / "interrupt_child.py"), str(log), *BUILD, str(big), "--index", str(index)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = _wait_for_lines(log, 2, build)
    assert build.poll() is None, build.communicate()
    build.send_signal(signal.SIGINT)
    _, stderr = build.communicate(timeout=60)
    ran = len(log.read_text(encoding="utf-8").splitlines())
    assert build.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in stderr
    # Batches already running finish (a C call cannot be stopped); none of the queued ones start.
    assert ran <= started + 2 < TERMS // 16
    assert (index / "manifest.json").read_bytes() == manifest
    assert sorted(p.name for p in index.iterdir()) == entries
    assert semsearch.load(index, encoder=FakeEncoder()).search("用語5", k=1)[0].term == "用語5"


def _child(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_ctrl_c_while_the_command_imports_prints_no_traceback() -> None:
    child = _child(
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def interrupted(name, *args, **kwargs):\n"
        "    if name == 'typer':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = interrupted\n"
        "sys.argv = ['semsearch', '--help']\n"
        "from semsearch.__main__ import main\n"
        "main()\n"
    )
    assert (child.returncode, child.stderr, child.stdout) == (130, "interrupted\n", "")


def test_ctrl_c_while_the_command_line_is_parsed_prints_no_traceback() -> None:
    child = _child(
        "import sys, typer.main\n"
        "def interrupted(*args, **kwargs):\n"
        "    raise KeyboardInterrupt\n"
        "typer.main.get_command = interrupted\n"
        "sys.argv = ['semsearch', 'ask', 'x']\n"
        "from semsearch.__main__ import main\n"
        "main()\n"
    )
    assert (child.returncode, child.stderr.strip(), child.stdout) == (130, "interrupted", "")
