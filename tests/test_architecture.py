"""The house's shape: imports point one way (no circle, no arrow back up the layers), every module
has a layer, and docs/architecture.md shows the import graph as the code has it."""

from __future__ import annotations

from conftest import ROOT
from import_graph import ARCHITECTURE, LAYERS, cycles, graph, imports, layer_of, render, upward


def test_no_import_circle() -> None:
    assert cycles(graph()) == []


def test_no_import_points_back_up_the_layers() -> None:
    assert upward(graph()) == []


def test_every_module_has_a_layer_and_every_layer_name_a_module() -> None:
    modules = graph()
    assert [m for m in modules if layer_of(m) is None] == []
    units = {m.split(".")[1] if "." in m else m for m in modules}
    assert [name for _, names in LAYERS for name in names if name not in units] == []


def test_architecture_doc_shows_the_graph_as_it_is() -> None:
    assert render() in ARCHITECTURE.read_text(encoding="utf-8"), "run: python tests/import_graph.py --write"


def test_lazy_and_relative_imports_are_read() -> None:
    registry = imports(ROOT / "semsearch" / "encoders" / "registry.py")
    assert {"semsearch.encoders.st", "semsearch.encoders.embedded", "semsearch.errors"} <= registry  # inside functions
    assert "semsearch.encoders" not in registry  # `from .base import Encoder` is the module base, not the package


def test_the_checks_catch_what_they_are_for() -> None:
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"]}) == [["a", "b", "c", "a"]]
    assert upward({"semsearch.text": ["semsearch.search"], "semsearch.search": ["semsearch.text"]}) == [
        ("semsearch.text", "semsearch.search")
    ]


def module_rows(text: str) -> list[str]:
    """The modules docs/architecture.md's tables name: the first cell of every `| \\`name\\` | job |` row."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| `") else []
        if len(cells) >= 2 and cells[0].startswith("`") and cells[0].endswith("`"):
            assert cells[1], f"{cells[0]} has no job in docs/architecture.md"
            rows.append(cells[0].strip("`"))
    return rows


def package_modules() -> list[str]:
    """Every module of semsearch/ as the tables name it: `pkg/` for a package's __init__.py."""
    names = []
    for path in sorted((ROOT / "semsearch").rglob("*.py")):
        relative = path.relative_to(ROOT / "semsearch").as_posix()
        names.append(relative.removesuffix("__init__.py") if "/" in relative else relative)
    return names


def test_the_module_table_lists_every_module_once_with_its_job() -> None:
    rows = module_rows(ARCHITECTURE.read_text(encoding="utf-8"))
    assert sorted(name for name in set(rows) if rows.count(name) > 1) == [], "listed more than once"
    assert sorted(set(package_modules()) - set(rows)) == [], "modules docs/architecture.md does not list"
    assert sorted(set(rows) - set(package_modules())) == [], "rows for modules that do not exist"


def test_the_module_table_check_catches_what_it_is_for() -> None:
    text = "| module | what it holds |\n|---|---|\n| `a.py` | one job |\n| `pkg/` | a package |\n| `a.py` | again |\n"
    assert module_rows(text) == ["a.py", "pkg/", "a.py"]
