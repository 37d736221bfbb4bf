"""Nothing semsearch writes follows a symbolic link or lands outside the index directory, and a
manifest or data file that is a link is refused (issue 16). An index unpacked from someone else's
archive can carry such links."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FakeEncoder
from typer.testing import CliRunner

import semsearch
from semsearch.cli import app
from semsearch.errors import IndexStoreError

pytestmark = pytest.mark.usefixtures("fake_default_encoder")


@pytest.fixture
def index(glossary: Path, tmp_path: Path) -> Path:
    path = tmp_path / "index"
    semsearch.build(glossary, path, encoder=FakeEncoder())
    return path


def _manifest(index: Path) -> dict:
    return json.loads((index / "manifest.json").read_text(encoding="utf-8"))


def _data(index: Path, role: str) -> Path:
    m = _manifest(index)
    return index / m["data"] / m["data_files"][role]["path"]


def test_a_planted_tmp_manifest_link_is_replaced_not_followed(
    runner: CliRunner, index: Path, glossary: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    (index / ".tmp-manifest.json").symlink_to(victim)
    result = runner.invoke(app, ["build", str(glossary), "--index", str(index), "--force"])
    assert result.exit_code == 0, result.output
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not (index / "manifest.json").is_symlink()
    assert not (index / ".tmp-manifest.json").exists() and not (index / ".tmp-manifest.json").is_symlink()
    assert semsearch.load(index).search("dropout", k=1)[0].term == "ドロップアウト"


def test_a_lock_link_is_replaced_and_its_target_never_created(
    runner: CliRunner, index: Path, glossary: Path, tmp_path: Path
) -> None:
    (index / ".lock").unlink()
    target = tmp_path / "outside" / "created-by-semsearch"
    target.parent.mkdir()
    (index / ".lock").symlink_to(target)
    result = runner.invoke(app, ["build", str(glossary), "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert not target.exists()
    assert (index / ".lock").is_file() and not (index / ".lock").is_symlink()


def test_a_lock_link_to_an_existing_file_leaves_that_file_alone(index: Path, glossary: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    (index / ".lock").unlink()
    (index / ".lock").symlink_to(victim)
    semsearch.build(glossary, index, encoder=FakeEncoder(), force=True)
    assert victim.read_text(encoding="utf-8") == "precious"


def test_a_manifest_that_is_a_link_is_refused_then_replaced_by_build(
    runner: CliRunner, index: Path, glossary: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere-manifest.json"
    shutil.copy(index / "manifest.json", elsewhere)
    (index / "manifest.json").unlink()
    (index / "manifest.json").symlink_to(elsewhere)
    before = elsewhere.read_bytes()
    with pytest.raises(IndexStoreError, match="symbolic link"):
        semsearch.load(index)
    result = runner.invoke(app, ["ask", "dropout", "--index", str(index)])
    assert result.exit_code == 4
    assert "manifest.json is a symbolic link" in result.stderr
    assert "semsearch build --force" in result.stderr
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["build", str(glossary), "--index", str(index), "--force"])
    assert result.exit_code == 0, result.output
    assert not (index / "manifest.json").is_symlink()
    assert elsewhere.read_bytes() == before


@pytest.mark.parametrize("role", ["terms", "vectors", "lexical"])
def test_a_data_file_that_is_a_link_is_refused(index: Path, tmp_path: Path, role: str) -> None:
    path = _data(index, role)
    copy = tmp_path / f"copy-{path.name}"
    shutil.copy(path, copy)  # same bytes: the checksum matches, only the link is wrong
    path.unlink()
    path.symlink_to(copy)
    with pytest.raises(IndexStoreError, match="symbolic link") as raised:
        semsearch.load(index)
    assert "semsearch build --force" in str(raised.value)


def test_a_generation_folder_that_is_a_link_is_refused(index: Path, tmp_path: Path) -> None:
    generation = index / _manifest(index)["data"]
    moved = tmp_path / "moved-generation"
    shutil.move(generation, moved)
    generation.symlink_to(moved, target_is_directory=True)
    with pytest.raises(IndexStoreError, match="symbolic link"):
        semsearch.load(index)


def test_leftover_links_named_like_generations_are_removed_not_followed(
    index: Path, glossary: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious", encoding="utf-8")
    (index / "data-20000101T000000-deadbeef").symlink_to(outside, target_is_directory=True)
    (index / ".tmp-deadbeef").symlink_to(outside, target_is_directory=True)
    semsearch.build(glossary, index, encoder=FakeEncoder())  # up to date: only cleans
    assert (outside / "keep.txt").read_text(encoding="utf-8") == "precious"
    assert not (index / "data-20000101T000000-deadbeef").is_symlink()
    assert not (index / ".tmp-deadbeef").is_symlink()


def test_a_fifo_as_manifest_is_refused_without_blocking(index: Path) -> None:
    import os

    (index / "manifest.json").unlink()
    os.mkfifo(index / "manifest.json")
    with pytest.raises(IndexStoreError, match="not a regular file"):
        semsearch.load(index)
