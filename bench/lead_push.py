"""Lead-push benchmark: GHL calls per lead and throughput against the location's rate budget.

Distinct new leads are pushed into ONE location of an in-process GHL sandbox whose window is 100
requests per 1 s: 300 leads with --quick (2,000 without), each with an e-mail, a phone and one tag;
then 100 more (500 without --quick) with no tags. The real flow runs in-process (batches of 100, as
Rankr invokes it) with its stores (mappings, ledger, audit, connections, Powertools Idempotency) on
the embedded AWS. A second mode re-pushes the first 300 leads: it must create no contact.

Last stdout line (JSON): leads, ghl_calls (sandbox stats), calls_per_lead (tagged),
calls_per_untagged_lead, seconds, floor_seconds (the honest floor: (ghl_calls / 100 - 1) windows of
1 s, the first window being free; rankr_ghl_tools.rate_floor), efficiency (floor_seconds / seconds),
duplicates_created, failed, repush_created, repush_ghl_calls, dynamodb_calls_per_lead (DynamoDB
requests of the first push, per lead: what bounds the pace once the rate budget is large).
Targets: calls_per_lead <= 2.0, calls_per_untagged_lead <= 1.05, efficiency >= 0.85, zero
duplicates and failures, repush_created = 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
import types
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "rankr_ghl"), str(ROOT / "devtools")]

LOCATION = "locBenchLeadPush01"
WINDOW_MAX = 100
WINDOW_MS = 1000
BATCH = 100
REPUSH = 300


@contextlib.contextmanager
def embedded_aws_process(template: Any) -> Iterator[Any]:
    """The embedded AWS on a moto server in a process of its own (moto's CPU stays off the flow's GIL;
    the runtime's moto child serialises transactions and snapshots only touched items)."""
    from rankr_ghl_tools.local.aws import EmbeddedAws

    with EmbeddedAws(template) as aws:
        yield aws


@contextlib.contextmanager
def sandbox_process() -> Iterator[str]:
    """The GHL sandbox in a process of its own, so its CPU does not share the flow's GIL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rankr_ghl_tools.ghl_sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"GHL sandbox did not start: {line!r}")
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def make_lead(i: int, *, tagged: bool) -> dict[str, Any]:
    lead: dict[str, Any] = {
        "leadId": f"bench-{i:06d}",
        "firstName": "Lead",
        "lastName": f"Number{i}",
        "email": f"lead{i:06d}@bench.example.com",
        "phone": f"+1555{i:07d}",
        "company": "Bench Co",
    }
    if tagged:
        lead["tags"] = ["bench"]
    return lead


def push_all(service: Any, leads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for start in range(0, len(leads), BATCH):
        batch = service.push({"locationId": LOCATION, "leads": leads[start : start + BATCH]})
        results.extend(batch.results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 + 100 leads instead of 2,000 + 500")
    parser.add_argument("--workers", type=int, default=8, help="threads per push (one invocation)")
    args = parser.parse_args()
    tagged_n, untagged_n = (300, 100) if args.quick else (2000, 500)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    import boto3
    from rankr_ghl.aws.connections_store import DynamoConnectionStore
    from rankr_ghl.connections.models import Connection, UserType
    from rankr_ghl.flows.lead_push import PushSettings
    from rankr_ghl.ghl.client import GHLClient
    from rankr_ghl.ghl.ratelimit import RateLimiter
    from rankr_ghl.ghl.tokens import StaticTokenSource
    from rankr_ghl.observability import logger
    from rankr_ghl.wiring.lead_push import build_container
    from rankr_ghl_tools.ghl_sandbox.admin_client import SandboxAdmin
    from rankr_ghl_tools.local.template import load_template

    logger.setLevel("WARNING")  # one INFO line per lead and per GHL request otherwise

    with (
        embedded_aws_process(load_template(ROOT / "template.yaml")) as aws,
        sandbox_process() as sandbox_url,
    ):
        sandbox = types.SimpleNamespace(url=sandbox_url, admin=SandboxAdmin(sandbox_url))
        tables = aws.template.tables
        sync_table = tables["SyncStateTable"].name
        audit_table = tables["AuditTable"].name
        idem_table = tables["IdempotencyTable"].name
        connections_table = tables["ConnectionsTable"].name

        sandbox.admin.create_location(
            LOCATION, rate_limit={"max": WINDOW_MAX, "intervalMs": WINDOW_MS, "daily": 200_000}
        )
        token = str(sandbox.admin.tokens(location_id=LOCATION)["access_token"])
        dynamodb = boto3.client("dynamodb", endpoint_url=aws.endpoint_url)
        dynamodb_calls = Counter[str]()
        dynamodb.meta.events.register(
            "before-call.dynamodb", lambda model, **_: dynamodb_calls.update([model.name])
        )
        connections = DynamoConnectionStore(connections_table, client=dynamodb)
        connections.save(
            Connection(connection_id=LOCATION, location_id=LOCATION, user_type=UserType.LOCATION)
        )

        client = GHLClient(
            StaticTokenSource(token), base_url=sandbox.url, timeout=10.0, rate_limiter=RateLimiter()
        )
        # The production wiring (claims, ledger, audit, Powertools Idempotency), over the embedded AWS.
        service = build_container(
            ghl_client=lambda: client,
            connections=connections,
            sync_table=sync_table,
            audit_table=audit_table,
            idempotency_table=idem_table,
            settings=PushSettings(workers=args.workers),
            dynamodb=dynamodb,
        ).service

        tagged = [make_lead(i, tagged=True) for i in range(tagged_n)]
        untagged = [make_lead(tagged_n + i, tagged=False) for i in range(untagged_n)]
        sandbox.admin.reset_stats()
        dynamodb_calls.clear()
        started = time.monotonic()
        results = push_all(service, tagged)
        tagged_calls = int(sandbox.admin.stats()["total"])
        results += push_all(service, untagged)
        seconds = time.monotonic() - started
        first_push_dynamodb_calls = sum(dynamodb_calls.values())
        stats = sandbox.admin.stats()
        ghl_calls = int(stats["total"])
        untagged_calls = ghl_calls - tagged_calls

        contacts = sandbox.admin.state(LOCATION)["contacts"]
        per_email = Counter(str(c.get("email") or "").lower() for c in contacts)
        duplicates = sum(n - 1 for n in per_email.values() if n > 1) + max(0, len(contacts) - len(per_email))
        failed = [r for r in results if r["outcome"] != "created"]

        # Second mode: the same leads again (a retrying caller) create nothing.
        before = len(contacts)
        sandbox.admin.reset_stats()
        repush = push_all(service, tagged[:REPUSH])
        repush_calls = int(sandbox.admin.stats()["total"])
        repush_created = len(sandbox.admin.state(LOCATION)["contacts"]) - before
        failed += [r for r in repush if r["outcome"] == "failed"]

    from rankr_ghl_tools.rate_floor import efficiency, floor_seconds

    floor = floor_seconds(ghl_calls, WINDOW_MAX, WINDOW_MS / 1000)
    summary = {
        "leads": tagged_n + untagged_n,
        "ghl_calls": ghl_calls,
        "calls_per_lead": round(tagged_calls / tagged_n, 3),
        "calls_per_untagged_lead": round(untagged_calls / untagged_n, 3),
        "seconds": round(seconds, 2),
        "floor_seconds": round(floor, 2),
        "efficiency": efficiency(ghl_calls, WINDOW_MAX, WINDOW_MS / 1000, seconds),
        "duplicates_created": duplicates,
        "failed": len(failed),
        "repush_created": repush_created,
        "repush_ghl_calls": repush_calls,
        "responses_429": int(stats.get("responses429", 0)),
        "dynamodb_calls_per_lead": round(first_push_dynamodb_calls / (tagged_n + untagged_n), 2),
    }
    if failed:
        print("failures (first 5):", json.dumps(failed[:5]), file=sys.stderr)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
