"""The runaway inputs and the Ctrl-C of issue 16, timed with the embedded encoder.

    python bench/adversarial.py build aliases300     a term with 300 aliases (and two plain terms)
    python bench/adversarial.py build aliases1000    ... with 1,000 aliases
    python bench/adversarial.py build big50          a 50 MB file holding one entry, every line different
    python bench/adversarial.py interrupt            seconds from SIGINT to exit of a build (and the
                                                     batches that still ran after it)

Each run builds from scratch in a temporary folder and prints one line: the terms, chunks and wall
seconds of the build, or the interrupt's reaction time. Run it on a quiet machine, several times,
and compare medians; `cat /proc/loadavg` says how quiet it was. To time another version of
semsearch, put it first on PYTHONPATH.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLAIN = (
    "## 過学習 | Overfitting\n- 訓練データに適合しすぎて汎化性能が落ちること。\n\n"
    "## 学習率 | Learning Rate\n- 勾配降下法で一回の更新幅を決めるハイパーパラメータ。\n\n"
)


def make(kind: str, root: Path) -> None:
    root.mkdir(parents=True)
    if kind.startswith("aliases"):
        n = int(kind.removeprefix("aliases"))
        names = " | ".join(["ドロップアウト", "Dropout", *(f"dropout variant {i} 別名{i}" for i in range(n))])
        body = "\n".join(
            f"- 学習時にユニットをランダムに無効化する正則化手法の説明 {i}。過学習を防ぐ。" for i in range(30)
        )
        text = f"{PLAIN}## {names}\n{body}\n"
    elif kind == "big50":
        lines, size, i = [], 0, 0
        while size < 50 * 1000 * 1000:  # every line different: identical pieces would be embedded once
            line = f"- 段落{i}: ユニットをランダムに無効化する正則化手法。Dropout zeroes unit {i} in training.\n"
            lines.append(line)
            size += len(line.encode())
            i += 1
        text = PLAIN + "## 巨大な項目 | Huge Entry\n" + "".join(lines)
    elif kind == "interrupt":
        text = "\n".join(
            f"## 用語{i} | Term {i}\n- 説明 {i}: 学習時にユニット {i} を無効化する手法の一つ。\n" for i in range(700)
        )
    else:
        raise SystemExit(f"unknown corpus {kind!r}")
    (root / "g.md").write_text(text, encoding="utf-8")


def build(kind: str) -> None:
    with tempfile.TemporaryDirectory(prefix="semsearch-adversarial-") as scratch:
        make(kind, Path(scratch) / "corpus")
        started = time.perf_counter()
        import semsearch

        index = semsearch.build(Path(scratch) / "corpus", Path(scratch) / "index", force=True)
        report = index.build_report
        print(f"{kind}: {report.terms} terms, {report.chunks} chunks, {time.perf_counter() - started:.1f} s")


def interrupt() -> None:
    """A real `semsearch build` (the embedded encoder, its engines logging each batch they start),
    interrupted once two batches have started."""
    with tempfile.TemporaryDirectory(prefix="semsearch-adversarial-") as scratch:
        corpus, log = Path(scratch) / "corpus", Path(scratch) / "batches.log"
        make("interrupt", corpus)
        command = ["build", str(corpus), "--index", str(Path(scratch) / "index"), "--force", "--model", "embedded"]
        child = subprocess.Popen(
            [sys.executable, str(HERE.parent / "tests" / "interrupt_child.py"), str(log), *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ,
        )
        while (not log.exists() or len(log.read_text().splitlines()) < 2) and child.poll() is None:
            time.sleep(0.01)
        started, batches = time.monotonic(), len(log.read_text().splitlines())
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate()
        after = len(log.read_text().splitlines()) - batches
        last = stderr.strip().splitlines()[-1:] or [""]
        print(
            f"interrupt: exit {child.returncode} after {time.monotonic() - started:.2f} s, "
            f"{after} batches started after SIGINT (of 44), last line {last[0]!r}"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["build"] and len(sys.argv) == 3:
        build(sys.argv[2])
    elif sys.argv[1:] == ["interrupt"]:
        interrupt()
    else:
        raise SystemExit(__doc__)
