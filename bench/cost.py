"""Cost benchmark: the AWS calls, capacity units and dollars of one unit of work of each flow.

    .venv/bin/python bench/cost.py [--quick]

The whole stack runs on the local runtime (LocalStack: embedded AWS, GHL and Rankr sandboxes, gateway,
SQS pumps, worker processes) with every AWS call recorded per function (`local/aws_calls.py`) and the
DynamoDB capacity units of each call computed from its items (`local/aws_units.py`: item sizes by
DynamoDB's published rules, since moto reports none). Units of work, each measured as the difference
of the records before and after it, on a location of its own, after a warm-up:

- contact_webhook: a signed ContactUpdate for a contact the connector already mirrors (the steady state),
  through the gateway, the intake function, the FIFO queue and the worker (one GHL fetch, one Rankr
  write); contact_webhook_first: the same for a contact seen the first time (creates the mapping).
- tagged_lead / untagged_lead: a lead pushed by Rankr (`lambda.invoke` on the alias, LEADS_PER_INVOKE a
  call), with and without tags.
- reconcile_1000: a nightly (full) reconcile of a location of 1,000 contacts already in sync;
  reconcile_1000_first: the first one, which mirrors all 1,000.

Per unit: Lambda invocations and GB-seconds (measured durations, rounded up to the ms as Lambda bills,
times the function's MemorySize from template.yaml), DynamoDB calls with read/write request units,
SQS requests (the functions' own calls plus the event source mapping's ReceiveMessage and
DeleteMessageBatch per invocation of a queue-triggered function), Secrets Manager calls, API Gateway
requests, X-Ray traces (invocations x the default sampling's 5 %), CloudWatch Logs bytes (the functions'
log output at the template's default level), and GHL calls (the rate budget, not dollars).

Prices: us-east-1 on-demand list prices (PRICES_AS_OF), no free tier. Quick: 20 webhooks, 20 + 20 leads;
full: 100 webhooks, 100 + 100 leads; the reconcile is 1,000 contacts in both.
Last stdout line (JSON): {"prices_as_of", "units": {unit: counts and usd}, "usd_per_million_webhooks",
"usd_per_thousand_leads", "usd_per_location_month"}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
for _path in (REPO_ROOT / "layers" / "rankr_ghl", REPO_ROOT / "devtools"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

PRICES_AS_OF = "2025-06-01"
# us-east-1, on demand, no free tier, as listed on each service's AWS pricing page on PRICES_AS_OF.
PRICES = {
    "lambda_gb_second_arm64": 0.0000133334,  # first 7.5 billion GB-s a month
    "lambda_request": 0.20 / 1e6,
    "dynamodb_write_request_unit": 0.625 / 1e6,  # on-demand, Standard table class (since 2024-11-01)
    "dynamodb_read_request_unit": 0.125 / 1e6,
    "sqs_fifo_request": 0.50 / 1e6,  # per 64 KB chunk; every queue of the template is FIFO
    "secretsmanager_api_call": 0.05 / 10_000,
    "secretsmanager_secret_month": 0.40,
    "apigateway_http_request": 1.00 / 1e6,  # HTTP API, first 300 million a month, per 512 KB
    "xray_trace_recorded": 5.00 / 1e6,
    "cloudwatch_logs_ingested_gb": 0.50,
}
XRAY_SAMPLED_FRACTION = 0.05  # the default sampling rule: 1 a second, then 5 %; at volume, 5 %
LEADS_PER_INVOKE = 10
RECONCILE_CONTACTS = 1000
SECRETS_PER_LOCATION = 1  # one token secret per connected location (the app secret is shared)
FAST_WINDOW = {"max": 1000, "intervalMs": 1000, "daily": 1_000_000}  # the cost, not the rate, is measured


# -- pure arithmetic -------------------------------------------------------------------------------
def gb_seconds(durations_ms: list[float], memory_mb: int) -> float:
    """Lambda's billed compute: each invocation rounded up to the millisecond, times the memory."""
    return sum(math.ceil(d) for d in durations_ms) / 1000 * memory_mb / 1024


@dataclass
class Usage:
    """What some work cost, in the units AWS bills (plus GHL calls, the budget that runs out first)."""

    invocations: Counter[str] = field(default_factory=Counter)
    gb_seconds: float = 0.0
    dynamodb_calls: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    sqs_requests: int = 0
    secretsmanager_calls: int = 0
    api_requests: int = 0
    log_bytes: int = 0
    ghl_calls: int = 0

    def per(self, n: int) -> dict[str, Any]:
        """Counts per one unit of work, when the usage covers `n` of them."""
        return {
            "lambda_invocations": round(sum(self.invocations.values()) / n, 4),
            "lambda_invocations_by_function": {
                k: round(v / n, 4) for k, v in sorted(self.invocations.items())
            },
            "lambda_gb_seconds": round(self.gb_seconds / n, 6),
            "dynamodb_calls": round(sum(self.dynamodb_calls.values()) / n, 3),
            "dynamodb_calls_by_operation": {
                k: round(v / n, 3) for k, v in sorted(self.dynamodb_calls.items())
            },
            "dynamodb_read_units": round(self.read_units / n, 3),
            "dynamodb_write_units": round(self.write_units / n, 3),
            "sqs_requests": round(self.sqs_requests / n, 3),
            "secretsmanager_calls": round(self.secretsmanager_calls / n, 4),
            "apigateway_requests": round(self.api_requests / n, 3),
            "xray_traces": round(sum(self.invocations.values()) * XRAY_SAMPLED_FRACTION / n, 4),
            "log_bytes": round(self.log_bytes / n),
            "ghl_calls": round(self.ghl_calls / n, 3),
        }


def usd(per_unit: dict[str, Any], prices: dict[str, float] = PRICES) -> dict[str, float]:
    """Dollars of one unit of work, by service, from its per-unit counts."""
    parts = {
        "lambda": per_unit["lambda_gb_seconds"] * prices["lambda_gb_second_arm64"]
        + per_unit["lambda_invocations"] * prices["lambda_request"],
        "dynamodb": per_unit["dynamodb_write_units"] * prices["dynamodb_write_request_unit"]
        + per_unit["dynamodb_read_units"] * prices["dynamodb_read_request_unit"],
        "sqs": per_unit["sqs_requests"] * prices["sqs_fifo_request"],
        "secretsmanager": per_unit["secretsmanager_calls"] * prices["secretsmanager_api_call"],
        "apigateway": per_unit["apigateway_requests"] * prices["apigateway_http_request"],
        "xray": per_unit["xray_traces"] * prices["xray_trace_recorded"],
        "cloudwatch_logs": per_unit["log_bytes"] / 1024**3 * prices["cloudwatch_logs_ingested_gb"],
    }
    return {**parts, "total": sum(parts.values())}


# -- measuring -------------------------------------------------------------------------------------
class Meter:
    """Snapshots of everything recorded so far; `usage(mark)` is what happened since the mark."""

    def __init__(self, stack: Any, directory: Path, log_path: Path) -> None:
        from rankr_ghl_tools.local.workers import FunctionPool

        self.stack, self.directory, self.log_path = stack, directory, log_path
        self.invocations: list[tuple[str, float, int]] = []  # (function, duration ms, memory MB)
        self.queue_triggered = {pump.function.logical_id for pump in stack.pumps}
        lock, original, invocations = threading.Lock(), FunctionPool.invoke, self.invocations

        def timed_invoke(pool: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(pool, *args, **kwargs)
            with lock:
                invocations.append((pool.spec.logical_id, result.duration_ms, pool.spec.memory_mb))
            return result

        FunctionPool.invoke = timed_invoke  # type: ignore[method-assign]

    def _lines(self, suffix: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
        for path in sorted(self.directory.rglob(f"*{suffix}")):
            for index, raw in enumerate(path.read_text(encoding="utf-8").splitlines()):
                try:
                    yield str(path), index, json.loads(raw)
                except ValueError:
                    continue

    def mark(self) -> dict[str, Any]:
        self.stack.drain(timeout=300, settle=0.5)
        calls = Counter(path for path, _i, _d in self._lines(".jsonl"))
        units = Counter(path for path, _i, _d in self._lines(".units"))
        size = self.log_path.stat().st_size if self.log_path.exists() else 0
        ghl = int(self.stack.ghl.admin.stats()["total"])
        return {"calls": calls, "units": units, "log": size, "invocations": len(self.invocations), "ghl": ghl}

    def usage(self, mark: dict[str, Any]) -> Usage:
        now = self.mark()
        used = Usage(log_bytes=now["log"] - mark["log"], ghl_calls=now["ghl"] - mark["ghl"])
        for path, index, call in self._lines(".jsonl"):
            if index < mark["calls"][path]:
                continue
            service, operation = call["service"], call["operation"]
            if service == "dynamodb":
                used.dynamodb_calls[operation] += 1
            elif service == "sqs":
                used.sqs_requests += 1
            elif service == "secretsmanager":
                used.secretsmanager_calls += 1
        for path, index, units in self._lines(".units"):
            if index >= mark["units"][path]:
                used.read_units += float(units["read_units"])
                used.write_units += float(units["write_units"])
        for function, duration_ms, memory_mb in self.invocations[mark["invocations"] :]:
            used.invocations[function] += 1
            used.gb_seconds += gb_seconds([duration_ms], memory_mb)
            if function in self.queue_triggered:  # the event source mapping's receive and delete
                used.sqs_requests += 2
            if function == "WebhookIntakeFunction":
                used.api_requests += 1
        return used


# -- the units of work -----------------------------------------------------------------------------
def send_webhooks(stack: Any, contact_ids: list[str]) -> None:
    """Edit each contact in GHL and deliver its signed ContactUpdate webhook to the gateway, one by one."""
    import httpx
    from rankr_ghl_tools.signed_webhooks import signed_contact_update

    url = stack.output_url("WebhookUrl")
    with httpx.Client(timeout=30) as client:
        for contact_id in contact_ids:
            body, headers = signed_contact_update(
                stack, contact_id, {"firstName": f"Cost{uuid.uuid4().hex[:8]}"}
            )
            response = client.post(url, content=body, headers=headers)
            if response.status_code >= 300:
                raise RuntimeError(f"webhook refused: {response.status_code} {response.text[:200]}")


def push_leads(stack: Any, account_id: str, count: int, *, tagged: bool) -> None:
    """Rankr's side: the leads exist as Rankr contacts, then are pushed LEADS_PER_INVOKE per invocation."""
    alias = (
        stack.template.outputs.get("LeadPushAliasArn")
        or stack.template.functions["LeadPushFunction"].alias_arn
    )
    run = uuid.uuid4().hex[:6]
    leads = []
    for i in range(count):
        fields: dict[str, Any] = {
            "firstName": "Lead",
            "lastName": f"Cost{i}",
            "email": f"cost{i}.{run}@example.com",
        }
        fields["phone"] = f"+1555{i:03d}{abs(hash(run)) % 10_000:04d}"
        if tagged:
            fields["tags"] = ["rankr"]
        leads.append({**fields, "leadId": stack.rankr.admin.create(account_id, "contact", fields)["id"]})
    lambda_client = stack.client("lambda")
    for start in range(0, count, LEADS_PER_INVOKE):
        payload = {"rankrAccountId": account_id, "leads": leads[start : start + LEADS_PER_INVOKE]}
        response = lambda_client.invoke(FunctionName=alias, Payload=json.dumps(payload).encode())
        body = json.loads(response["Payload"].read() or b"null")
        failed = [r for r in (body or {}).get("results", []) if r.get("outcome") != "created"]
        if response.get("FunctionError") or failed or not body:
            raise RuntimeError(f"lead push failed: {response.get('FunctionError')} {str(body)[:300]}")


def fire_nightly(stack: Any, log_path: Path) -> None:
    result = stack.fire_schedule("ReconcileFunction.Nightly")
    if not result.ok:
        raise RuntimeError(f"nightly reconcile failed: {result.payload[:300]!r}")
    try:
        stack.drain(timeout=600, settle=1.0)
    except TimeoutError as exc:  # a failed job waits out its visibility timeout: say why it failed
        tail = (
            log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
            if log_path.exists()
            else []
        )
        raise RuntimeError(f"{exc}; the functions' last log lines:\n" + "\n".join(tail)) from exc


def measure(quick: bool) -> dict[str, Any]:
    from rankr_ghl_tools.local.aws_calls import AWS_CALLS_DIR_ENV
    from rankr_ghl_tools.local.stack import LocalStack
    from rankr_ghl_tools.scenario.webhooks import connect_location

    webhooks, leads = (20, 20) if quick else (100, 100)
    units: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="rankr-ghl-cost-") as tmp:
        os.environ[AWS_CALLS_DIR_ENV] = str(Path(tmp) / "calls")
        log_path = Path(tmp) / "functions.log"
        with LocalStack(
            gateway_port=0, invoke_port=0, echo_logs=False, log_path=log_path, schedules=False
        ) as stack:
            meter = Meter(stack, Path(tmp) / "calls", log_path)

            def record(name: str, n: int, mark: dict[str, Any]) -> None:
                counts = meter.usage(mark).per(n)
                units[name] = {"n": n, **counts, "usd": {k: round(v, 9) for k, v in usd(counts).items()}}
                print(f"{name}: {json.dumps(units[name])}", file=sys.stderr)

            # The reconcile first, while its location is the only one the nightly planner sees.
            location, _account = connect_location(stack, rate_limit=FAST_WINDOW)
            stack.ghl.admin.seed(location, RECONCILE_CONTACTS, with_phone=False)
            mark = meter.mark()
            fire_nightly(stack, log_path)
            record("reconcile_1000_first", 1, mark)
            mark = meter.mark()
            fire_nightly(stack, log_path)
            record("reconcile_1000", 1, mark)

            location, _account = connect_location(stack, rate_limit=FAST_WINDOW)
            contacts = stack.ghl.admin.seed(location, webhooks + 1, with_phone=False)
            send_webhooks(stack, contacts[:1])  # warm-up: every function on the path initialised
            mark = meter.mark()
            send_webhooks(stack, contacts[1:])
            record("contact_webhook_first", webhooks, mark)
            mark = meter.mark()
            send_webhooks(stack, contacts[1:])
            record("contact_webhook", webhooks, mark)

            _location, account = connect_location(stack, rate_limit=FAST_WINDOW)
            push_leads(stack, account, 1, tagged=True)  # warm-up
            mark = meter.mark()
            push_leads(stack, account, leads, tagged=True)
            record("tagged_lead", leads, mark)
            mark = meter.mark()
            push_leads(stack, account, leads, tagged=False)
            record("untagged_lead", leads, mark)

    per_location_month = SECRETS_PER_LOCATION * PRICES["secretsmanager_secret_month"]
    return {
        "prices_as_of": PRICES_AS_OF,
        "units": units,
        "usd_per_million_webhooks": round(units["contact_webhook"]["usd"]["total"] * 1e6, 2),
        "usd_per_thousand_leads": round(
            (units["tagged_lead"]["usd"]["total"] + units["untagged_lead"]["usd"]["total"]) / 2 * 1000, 4
        ),
        "usd_per_reconcile_1000": round(units["reconcile_1000"]["usd"]["total"], 6),
        "usd_per_location_month": per_location_month,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 webhooks and 20 + 20 leads instead of 100")
    args = parser.parse_args()
    started = time.monotonic()
    summary = measure(args.quick)
    summary["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
