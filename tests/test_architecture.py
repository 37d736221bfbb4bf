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
