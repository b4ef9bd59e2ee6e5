"""Package exports that load on first access (PEP 562): importing one submodule of a package does not
pull in its other modules and their dependencies at cold start."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], object]:
    """The package's module `__getattr__`: `exports` maps each name to the module that defines it; a
    loaded name is kept in the package namespace, so it is looked up once."""
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
