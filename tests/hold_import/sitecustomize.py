"""A hold for tests, put on PYTHONPATH: the module named by ``HOLD_IMPORT`` is found as
usual, but its code runs only once a writer opens the FIFO ``HOLD_IMPORT_GATE`` (the
file ``HOLD_IMPORT_GATE.held`` says the import is waiting there). With
``HOLD_IMPORT_FAILS`` set, the import then fails (ImportError), as in a broken
installation.

It stands in for a slow import at a chosen moment (the app's Textual import, which a
run must not wait for); the import itself is the real one. The wait is in the loader,
not the finder: Python finds modules under its global import lock, which a fork
(every git command started meanwhile) takes too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.abc import Loader
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType


class _HeldLoader(Loader):
    def __init__(self, loader: Loader, gate: str) -> None:
        self.loader = loader
        self.gate = gate

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with open(self.gate + ".held", "w"):
            pass
        with open(self.gate, "rb"):
            pass  # opening a FIFO to read blocks until the test opens it to write
        if os.environ.get("HOLD_IMPORT_FAILS"):
            raise ImportError(f"{module.__name__} is broken (a test's hold)")
        self.loader.exec_module(module)


class _Hold:
    def __init__(self, name: str, gate: str) -> None:
        self.name = name
        self.gate = gate

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != self.name:
            return None
        spec = PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _HeldLoader(spec.loader, self.gate)
        return spec


if os.environ.get("HOLD_IMPORT") and os.environ.get("HOLD_IMPORT_GATE"):
    sys.meta_path.insert(0, _Hold(os.environ["HOLD_IMPORT"], os.environ["HOLD_IMPORT_GATE"]))
