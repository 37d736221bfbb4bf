"""Every module that semsearch, its tests, its benchmark and its build hook import is the standard
library, the project's own, or a distribution pyproject.toml declares by name (in `dependencies` or
an extra). A test must not pass only because another package happened to bring one along: the test
suite once imported `click`, which only huggingface_hub installed."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT

SOURCES = [
    *sorted((ROOT / "semsearch").rglob("*.py")),
    *sorted((ROOT / "tests").rglob("*.py")),
    *sorted((ROOT / "bench").rglob("*.py")),
    ROOT / "hatch_build.py",
]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    """Distribution names pyproject.toml requires, in any extra."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"].values()
    requirements = [*project["dependencies"], *(r for extra in extras for r in extra)]
    names = {_normal(re.match(r"[A-Za-z0-9._-]+", r)[0]) for r in requirements}  # type: ignore[index]
    return names - {"semsearch"}


def local(module: str, source: Path) -> bool:
    """The project's own package, or a module of its tree (tests import their helpers by name)."""
    folders = (source.parent, source.parent.parent, ROOT)
    return any((folder / module).is_dir() or (folder / f"{module}.py").is_file() for folder in folders)


def imported(source: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.slow
def test_every_import_is_declared() -> None:
    allowed = declared()
    distributions = importlib.metadata.packages_distributions()
    undeclared = []
    for source in SOURCES:
        for module in sorted(imported(source)):
            if module in sys.stdlib_module_names or local(module, source):
                continue
            # An optional extra that is not installed here (ray: ~600 MB, not in the test extra) is
            # judged by its name: the module of that distribution is the one the code imports.
            provided_by = {_normal(d) for d in distributions.get(module, [])} or {_normal(module)}
            if not provided_by & allowed:
                undeclared.append(f"{source.relative_to(ROOT)}: {module} ({', '.join(provided_by) or 'not installed'})")
    assert not undeclared, "imports of packages pyproject.toml does not declare:\n" + "\n".join(undeclared)


def test_the_check_sees_an_undeclared_import(tmp_path: Path) -> None:
    source = tmp_path / "test_x.py"
    source.write_text("import click\nfrom typer.testing import CliRunner\nimport helper\n", encoding="utf-8")
    (tmp_path / "helper.py").write_text("", encoding="utf-8")
    assert imported(source) == {"click", "typer", "helper"}
    assert local("helper", source) and not local("click", source)
    assert "typer" in declared() and "click" not in declared()
