"""Rate-limit benchmark: how close to GHL's physical limit the client runs without a single 429.

The client makes N GET /contacts/{contactId} requests for one location against an in-process GHL
sandbox whose window for that location is 100 requests per 1 s (N = 600 with --quick, else 3,000),
from several threads sharing one process-wide rate budget. The client starts from GHL's documented
100/10 s and learns the real window from the X-RateLimit-* headers.

Last stdout line: {"requests", "seconds", "floor_seconds", "efficiency", "responses_429", "failed"}
where floor_seconds is the honest floor (N / 100 - 1) windows of 1 s (the first window is free;
rankr_ghl_tools.rate_floor) and efficiency = floor_seconds / seconds (target >= 0.9, with zero 429s and
zero failures).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "rankr_ghl"), str(ROOT / "devtools")]

from rankr_ghl.ghl.client import GHLClient  # noqa: E402
from rankr_ghl.ghl.tokens import StaticTokenSource  # noqa: E402
from rankr_ghl_tools.ghl_sandbox import GHLSandbox, SandboxConfig  # noqa: E402
from rankr_ghl_tools.rate_floor import efficiency, floor_seconds  # noqa: E402

LOCATION = "locBenchRate0001"
WINDOW_MAX = 100
WINDOW_MS = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 requests instead of 3,000")
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    total = args.requests or (600 if args.quick else 3000)
    logging.getLogger("rankr-ghl").setLevel(logging.WARNING)  # one INFO line per request otherwise

    with GHLSandbox(SandboxConfig(), host="127.0.0.1", port=0) as sandbox:
        sandbox.admin.create_location(
            LOCATION, rate_limit={"max": WINDOW_MAX, "intervalMs": WINDOW_MS, "daily": 200_000}
        )
        token = str(sandbox.admin.tokens(location_id=LOCATION)["access_token"])
        contact_id = sandbox.admin.seed(LOCATION, 1)[0]
        sandbox.admin.reset_stats()

        client = GHLClient(StaticTokenSource(token), base_url=sandbox.url, timeout=10.0)
        remaining = [total]
        lock = threading.Lock()
        failures: list[str] = []

        def worker() -> None:
            while True:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                try:
                    client.get_contact(LOCATION, contact_id)
                except Exception as exc:  # counted and reported, never hidden
                    with lock:
                        failures.append(type(exc).__name__)

        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        stats = sandbox.admin.stats()
        client.close()

    floor = floor_seconds(total, WINDOW_MAX, WINDOW_MS / 1000)
    print(f"threads={args.threads} served={stats['total']} failures={sorted(set(failures))}", file=sys.stderr)
    print(
        json.dumps(
            {
                "requests": total,
                "seconds": round(seconds, 3),
                "floor_seconds": round(floor, 3),
                "efficiency": efficiency(total, WINDOW_MAX, WINDOW_MS / 1000, seconds),
                "responses_429": int(stats["responses429"]),
                "failed": len(failures),
            }
        )
    )


if __name__ == "__main__":
    main()
