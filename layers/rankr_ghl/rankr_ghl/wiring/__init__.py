"""The composition root: every service of every function, built from one `Settings`.

Handlers call `root().<function service>()`; nothing else builds services. `Root` caches each
factory per container and builds lazily (cold start stays small): a path that never calls GHL never
imports the HTTP stack or reads the app secret. Tests and the local runtime replace the root with
`install(Root(settings, overrides=...))` and forget it with `reset()`.
"""

from __future__ import annotations

import threading

from rankr_ghl.wiring.root import Overrides, Root

_lock = threading.Lock()
_root: Root | None = None


def root() -> Root:
    """The container's root, built from the environment on first use."""
    global _root
    with _lock:
        if _root is None:
            from rankr_ghl.config import Settings

            _root = Root(Settings.from_env())
        return _root


def install(new_root: Root) -> Root:
    """Use `new_root` from now on (tests, the local runtime's fault injection)."""
    global _root
    with _lock:
        _root = new_root
    return new_root


def reset() -> None:
    """Forget the root (and Powertools' cached parameters); the next `root()` reads the environment."""
    global _root
    from aws_lambda_powertools.utilities import parameters

    with _lock:
        _root = None
    parameters.clear_caches()  # type: ignore[no-untyped-call]


__all__ = ["Overrides", "Root", "install", "reset", "root"]
