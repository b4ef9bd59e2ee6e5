"""`rankr-ghl`: the operators' command line.

Each command group lives in `rankr_ghl_tools.commands.<group>` and exposes
`register(subparsers)`; this module only discovers and dispatches them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence

from rankr_ghl_tools import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rankr-ghl", description="Rankr <-> GoHighLevel connector operations"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(sub)
    return parser


def stage_defaults(stage: str) -> dict[str, str]:
    """The deployed resource names of a stage (template.yaml names them after `Stage`)."""
    return {
        "STAGE": stage,
        "CONNECTIONS_TABLE": f"rankr-ghl-{stage}-connections",
        "SYNC_TABLE": f"rankr-ghl-{stage}-sync-state",
        "AUDIT_TABLE": f"rankr-ghl-{stage}-audit",
        "IDEMPOTENCY_TABLE": f"rankr-ghl-{stage}-idempotency",
        "APP_SECRET_ID": f"rankr-ghl/{stage}/app",
        "TOKEN_SECRET_PREFIX": f"rankr-ghl/{stage}/tokens/",
    }


def main(argv: Sequence[str] | None = None) -> int:
    # Operators set STAGE (default dev); explicit variables win, e.g. inside the local runtime.
    for key, value in stage_defaults(os.environ.get("STAGE", "dev")).items():
        os.environ.setdefault(key, value)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
