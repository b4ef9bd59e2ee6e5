"""`python -m rankr_ghl_tools.ghl_sandbox --port 8100`: run the GHL sandbox in the foreground."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence

from .config import SandboxConfig
from .sandbox import GHLSandbox


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rankr_ghl_tools.ghl_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--seed", type=int, default=0, help="RNG seed for faults and webhook chaos")
    parser.add_argument("--client-id", default=SandboxConfig.client_id)
    parser.add_argument("--client-secret", default=SandboxConfig.client_secret)
    parser.add_argument(
        "--webhook-url", action="append", default=[], help="deliver webhooks here (repeatable)"
    )
    parser.add_argument(
        "--location",
        action="append",
        default=[],
        help="create this location at start and print a token pair for it (repeatable)",
    )
    args = parser.parse_args(argv)

    config = SandboxConfig(
        client_id=args.client_id,
        client_secret=args.client_secret,
        seed=args.seed,
        webhook_urls=list(args.webhook_url),
    )
    if len(args.location) == 1:
        config.auto_consent_location_id = args.location[0]
    sandbox = GHLSandbox(config, host=args.host, port=args.port).start()
    print(f"GHL sandbox listening on {sandbox.url}", flush=True)
    for location_id in args.location:
        sandbox.admin.create_location(location_id)
        tokens = sandbox.admin.tokens(location_id=location_id)
        print(
            json.dumps(
                {
                    "locationId": location_id,
                    "access_token": tokens["access_token"],
                    "refresh_token": tokens["refresh_token"],
                }
            ),
            flush=True,
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
