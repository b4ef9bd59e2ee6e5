"""Agency install benchmark: one agency of 1,000 locations installed through the real OAuth callback.

The local runtime (template.yaml: OAuthCallbackFunction, AgencyInstallQueue, AgencyInstallFunction) runs
against the GHL sandbox, whose company budget is 100 requests per 1 s and whose installedLocations is
adversarial (`limit` capped at 20, `count` per page). A browser-like walk opens a Rankr-minted agency
install link; the callback answers, and the queued fan-out connects every location. Two runs, each on
a fresh stack: a clean one, and one whose fan-out process is killed on its 500th secret write (devtools'
fault injection through the composition root) and resumed from the queue.

Per run: locations, connected (active record + secret), ghl_calls (company-budget calls: installedLocations
and locationToken), responses_429, efficiency (the honest floor, (ghl_calls / 100 - 1) windows of 1 s,
over the seconds from the fan-out's start, a crashed run's included, to the last location connected;
`seconds_from_callback` adds the queue pickup and the function's cold start), callback_ms and
secrets_without_record. Last stdout line: the clean run's figures, with the crash run's under
`with_crash`. Targets, both runs: connected = locations, 0 x 429, efficiency >= 0.8, callback_ms < 3000,
secrets_without_record = 0. `--quick`: 1,000 locations (so is the default); `--locations` changes it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "rankr_ghl"), str(ROOT / "devtools")]

WINDOW_MAX = 100
WINDOW_MS = 1000
CRASH_AFTER_SECRETS = 500
COMPANY_ROUTES = ("GET /oauth/installedLocations", "POST /oauth/locationToken")
# The message of a killed run comes back after the queue's visibility timeout (180 s) x this.
TIME_SCALE = 0.002
POLL_S = 1.0  # the progress record is read this often while the fan-out runs


def run_once(locations: int, *, crash: bool, timeout_s: float) -> dict[str, Any]:
    from rankr_ghl_tools import faults
    from rankr_ghl_tools.agency_installs import (
        agency_progress,
        agency_records,
        location_token_secrets,
        seed_agency,
    )
    from rankr_ghl_tools.ghl_sandbox import SandboxConfig
    from rankr_ghl_tools.installs import mint_install_link, walk_install
    from rankr_ghl_tools.local.stack import LocalStack
    from rankr_ghl_tools.local.template import load_template
    from rankr_ghl_tools.rate_floor import efficiency

    [source] = load_template(ROOT / "template.yaml").functions["AgencyInstallFunction"].sqs_sources
    containers = int(source.maximum_concurrency or 2)
    workdir = Path(tempfile.mkdtemp(prefix="bench-agency-"))
    env: dict[str, str] = {}
    if crash:
        env = {
            faults.CRASH_AGENCY_INSTALL_AFTER_ENV: str(CRASH_AFTER_SECRETS),
            faults.CRASH_ONCE_MARKER_ENV: str(workdir / "crashed"),
        }
    config = SandboxConfig(rate_limit_max=WINDOW_MAX, rate_limit_interval_ms=WINDOW_MS)
    with LocalStack(
        gateway_port=0,
        invoke_port=0,
        rankr_sandbox=False,
        schedules=False,
        echo_logs=False,
        log_path=workdir / "functions.log",
        # As many AgencyInstallFunction containers as the template's ScalingConfig allows (Lambda
        # scales a FIFO source with its message groups); the local runtime's default is 2.
        concurrency={"AgencyInstallFunction": containers, "*": 2},
        time_scale=TIME_SCALE,
        ghl_sandbox_config=config,
        extra_env=env,
    ) as stack:
        admin = stack.ghl.admin
        company = f"coBench{uuid.uuid4().hex[:8]}"
        account = f"acctBench{uuid.uuid4().hex[:6]}"
        ids = [f"locAgB{uuid.uuid4().hex[:12]}" for _ in range(locations)]
        seed_agency(admin, company, ids, page_cap=20)
        link = mint_install_link(stack, account, agency=True)
        admin.reset_stats()
        walk = walk_install(link, timeout=60)
        if walk.callback is None or walk.done is None or walk.done.status_code != 200:
            raise RuntimeError(
                f"the agency install failed: HTTP {walk.page.status_code} {walk.page.text[:300]}"
            )
        callback_ms = round(walk.callback.elapsed.total_seconds() * 1000, 1)
        answered_ms = time.time() * 1000
        deadline = time.monotonic() + timeout_s
        progress: dict[str, Any] = {}
        first_started_ms = float("inf")  # the first fan-out run's start (a crashed run's included)
        while time.monotonic() < deadline:
            progress = agency_progress(stack, company)
            if progress.get("startedMs") is not None:
                first_started_ms = min(first_started_ms, float(progress["startedMs"]))
            if progress.get("status") == "done":
                break
            # The run's start and end come from the record's own times, not from when this loop
            # saw them, so a slow poll costs no precision (and less of the 2 cores it measures).
            time.sleep(POLL_S)
        finished_ms = float(progress.get("updatedMs") or time.time() * 1000)
        stats = admin.stats()
        records = agency_records(stack, company)
        secrets = location_token_secrets(stack)
        connected = sum(
            1
            for location_id in ids
            if records.get(location_id, {}).get("status") == "active" and location_id in secrets
        )
        ghl_calls = sum(int(stats["requests"].get(route, 0)) for route in COMPANY_ROUTES)
        seconds = max(finished_ms - min(first_started_ms, finished_ms), 1.0) / 1000
        return {
            "locations": locations,
            "connected": connected,
            "ghl_calls": ghl_calls,
            "responses_429": int(stats["responses429"]),
            "efficiency": efficiency(ghl_calls, WINDOW_MAX, WINDOW_MS / 1000, seconds),
            "callback_ms": callback_ms,
            "secrets_without_record": len(secrets - set(records)),
            "seconds": round(seconds, 2),
            "seconds_from_callback": round((finished_ms - answered_ms) / 1000, 2),
            "status": progress.get("status"),
            "crashes": int((workdir / "crashed").exists()),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the default size (1,000 locations)")
    parser.add_argument("--locations", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for each fan-out")
    parser.add_argument("--only", choices=("clean", "crash"), help="run one of the two runs")
    args = parser.parse_args()
    runs: dict[str, dict[str, Any]] = {}
    for mode in ("clean", "crash"):
        if args.only in (None, mode):
            runs[mode] = run_once(args.locations, crash=mode == "crash", timeout_s=args.timeout)
            print(json.dumps({"mode": mode, **runs[mode]}), flush=True)
    if args.only is None:
        print(json.dumps({**runs["clean"], "with_crash": runs["crash"]}), flush=True)


if __name__ == "__main__":
    main()
