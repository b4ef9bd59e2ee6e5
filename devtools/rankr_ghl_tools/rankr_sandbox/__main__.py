"""Standalone Rankr sandbox: python -m rankr_ghl_tools.rankr_sandbox --port 8200 --db .local/rankr.sqlite3"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading

from rankr_ghl_tools.rankr_sandbox import DEFAULT_API_KEY, RankrSandbox, RankrSandboxConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rankr API sandbox (docs/rankr-api.yaml)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200, help="0 picks a free port")
    parser.add_argument("--db", default=".local/rankr-sandbox.sqlite3", help="SQLite file, or :memory:")
    parser.add_argument(
        "--api-key", action="append", help=f"accepted API key (repeatable; default {DEFAULT_API_KEY})"
    )
    parser.add_argument("--seed", type=int, default=0, help="fault-injection RNG seed")
    args = parser.parse_args(argv)
    config = RankrSandboxConfig(
        api_keys=tuple(args.api_key or [DEFAULT_API_KEY]), db_path=args.db, seed=args.seed
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with RankrSandbox(config, host=args.host, port=args.port) as sandbox:
        print(f"Rankr sandbox on {sandbox.url} (db: {args.db})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
