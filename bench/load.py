"""Benchmark: signed GHL webhooks through the LOCAL GATEWAY, end to end into Rankr.

    .venv/bin/python bench/load.py [--quick] [--events N] [--senders 20]

The whole stack runs with its default settings (LocalStack: embedded AWS, GHL and Rankr sandboxes,
gateway, SQS pumps, worker processes). Setup: L locations (50 events per location at most, so GHL's
per-location budget of 100 requests / 10 s is never the bottleneck), each connected (token pair from
the GHL sandbox in Secrets Manager, connection linked to its own Rankr account) and seeded with one
GHL contact per event, without webhooks.

Per event, one of `--senders` threads: makes the GHL-side change (the contact's name is edited in the
GHL sandbox), builds the ContactUpdate webhook as the sandbox does and signs it with the sandbox's own
key (the one LocalStack puts in WEBHOOK_PUBLIC_KEYS), then POSTs it to the gateway. Intake latency =
the POST; end-to-end latency = from the GHL change to the Rankr write (the Rankr record's createdAt).

Exactly once: every GHL contact has exactly one Rankr contact (matched by e-mail) carrying the edited
name, and exactly one successful audit entry; lost = events without a Rankr write; duplicated =
extra Rankr contacts or extra successful writes in the audit.

Two phases, on separate locations and contacts (all set up before the first one):

1. saturated (capacity): `--events` (5,000; 1,000 with --quick) sent by the senders with no pause. Arrivals
   outrun the workers on purpose, so the e2e latency it reports is mostly time spent in the queue backlog;
   what this phase measures is throughput (events / second from the first send to the drained queues).
2. paced (latency): `--paced-events` (1,000; 300 with --quick) sent by the same number of senders at a
   fixed arrival rate below capacity: `--paced-fraction` (0.6) of the saturated throughput, or
   `--paced-rate`. With no backlog, its e2e latency is the pipeline's own: intake, the FIFO queue's
   polling and batching, the worker's reads and writes. That is the "real time" figure.

Last stdout line (JSON): events/senders/locations of the run; saturated_* and paced_* figures
(throughput_eps, send_rate_eps, intake_p50_ms, intake_p99_ms, e2e_p50_ms, e2e_p95_ms, e2e_max_ms,
seconds, drained); paced_arrival_rate_eps; e2e_p50_ms / e2e_p95_ms / intake_p99_ms = the paced
phase's, throughput_eps = the saturated phase's; lost, duplicated, rejected over both phases;
batch_timeouts (worker invocations that ran out of their timeout, target 0), records_blocked and
records_blocked_s_p95 (messages received more than once: seconds from the first receive to the
success); target_met.
Target: lost == duplicated == rejected == 0 and (paced) e2e_p95_ms < 2000.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "devtools"))
sys.path.insert(0, str(REPO_ROOT / "layers" / "rankr_ghl"))

from rankr_ghl_tools.local.pumps import deadline_figures  # noqa: E402
from rankr_ghl_tools.local.stack import LocalStack  # noqa: E402

EVENTS_PER_LOCATION = 50
TARGET_E2E_P95_MS = 2000.0


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


def epoch_ms(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def connect(stack: LocalStack, location_id: str, account_id: str) -> None:
    """What a finished install leaves: the token pair in Secrets Manager, an active linked connection."""
    from rankr_ghl_tools.scenario.webhooks import connect_location

    connect_location(stack, location_id, account_id)


def audit_successes(stack: LocalStack, locations: set[str]) -> Counter[str]:
    """Successful audit entries per GHL contact id (a duplicated processing writes two)."""
    assert stack.template is not None
    table = stack.template.tables["AuditTable"].name
    counts: Counter[str] = Counter()
    paginator = stack.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=table):
        for item in page["Items"]:
            plain = {k: next(iter(v.values())) for k, v in item.items()}
            if plain.get("pk", "")[4:] not in locations or plain.get("outcome") != "success":
                continue
            if str(plain.get("entity", "contact")) != "contact":
                continue
            ghl_id = plain.get("ghlId") or plain.get("ghl_id")
            if ghl_id:
                counts[str(ghl_id)] += 1
    return counts


class Phase:
    """One batch of events on its own locations: set up, sent (saturated or paced), then judged."""

    def __init__(self, stack: LocalStack, name: str, events: int, run: str) -> None:
        self.stack = stack
        self.name = name
        self.plan: list[tuple[str, str, str]] = []  # (location, account, contact id)
        self.accounts: dict[str, str] = {}
        self.changed_at: dict[str, float] = {}  # contact id -> epoch ms of the GHL change
        self.expected_name: dict[str, str] = {}
        self.intake_ms: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.sent_s = self.seconds = 0.0
        self.drained = True
        self.n_locations = max(1, -(-events // EVENTS_PER_LOCATION))
        per_location = [
            events // self.n_locations + (1 if i < events % self.n_locations else 0)
            for i in range(self.n_locations)
        ]
        for index, count in enumerate(per_location):
            location = f"load{name[:3]}{run}{index:04d}"
            account = f"acct-load-{name}-{run}-{index}"
            self.accounts[location] = account
            connect(stack, location, account)
            for contact_id in stack.ghl.admin.seed(location, count, with_phone=False):
                self.plan.append((location, account, contact_id))
        # Interleave locations, as real traffic would be.
        self.plan.sort(key=lambda p: (int(hash(p[2]) % 997), p[2]))

    def send_all(self, senders: int, rate_eps: float | None, drain_timeout: float) -> None:
        """Send every event from `senders` threads: back to back, or event i at start + i / rate."""
        store = self.stack.ghl.app.store
        signer = self.stack.ghl.app.webhooks.signer
        url = self.stack.output_url("WebhookUrl")
        if url is None:
            raise RuntimeError("the template has no WebhookUrl output")
        lock = threading.Lock()
        local = threading.local()
        started = time.monotonic()

        def send(indexed: tuple[int, tuple[str, str, str]]) -> None:
            index, (_location, _account, contact_id) = indexed
            if rate_eps:
                delay = started + index / rate_eps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            client: httpx.Client = getattr(local, "client", None) or httpx.Client(timeout=30)
            local.client = client
            name = f"Load{uuid.uuid4().hex[:8]}"
            change_ms = time.time() * 1000
            record = store.update_contact(contact_id, {"firstName": name}, emit=False)
            envelope = {
                **store.contact_event("ContactUpdate", record),
                "timestamp": iso_now(),
                "webhookId": str(uuid.uuid4()),
            }
            body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
            headers = {"Content-Type": "application/json", **signer.sign(body)}
            post_started = time.perf_counter()
            response = client.post(url, content=body, headers=headers)
            elapsed = (time.perf_counter() - post_started) * 1000
            with lock:
                self.changed_at[contact_id] = change_ms
                self.expected_name[contact_id] = name
                self.intake_ms.append(elapsed)
                self.statuses[response.status_code] += 1

        with ThreadPoolExecutor(max_workers=senders) as pool:
            list(pool.map(send, enumerate(self.plan)))
        self.sent_s = time.monotonic() - started
        print(
            f"{self.name}: sent {len(self.plan)} in {self.sent_s:.1f}s; statuses {dict(self.statuses)}; "
            "draining",
            file=sys.stderr,
        )
        try:
            self.stack.drain(timeout=drain_timeout, settle=0.5)
        except TimeoutError as exc:  # judge what arrived; the rest counts as lost
            self.drained = False
            print(f"{self.name}: not drained: {exc}", file=sys.stderr)
        self.seconds = time.monotonic() - started

    def judge(self) -> dict[str, Any]:
        """Rankr state per account, matched to GHL contacts by e-mail, plus the audit's successes."""
        store = self.stack.ghl.app.store
        rankr_store = self.stack.rankr.app.store
        lost = duplicated = 0
        e2e_ms: list[float] = []
        by_location: dict[str, list[str]] = {}
        for location, _account, contact_id in self.plan:
            by_location.setdefault(location, []).append(contact_id)
        for location, contact_ids in by_location.items():
            ghl_email = {cid: store.get_contact(cid).get("email", "").lower() for cid in contact_ids}
            rankr_contacts = rankr_store.dump(self.accounts[location], True)["contacts"]
            by_email: dict[str, list[dict[str, Any]]] = {}
            for contact in rankr_contacts:
                by_email.setdefault((contact.get("email") or "").lower(), []).append(contact)
            for cid in contact_ids:
                matches = by_email.get(ghl_email[cid], [])
                if not matches or all(m.get("firstName") != self.expected_name.get(cid) for m in matches):
                    lost += 1
                    continue
                duplicated += len(matches) - 1
                e2e_ms.append(epoch_ms(matches[0]["createdAt"]) - self.changed_at[cid])
        audited = audit_successes(self.stack, set(by_location))
        duplicated += sum(max(0, n - 1) for n in audited.values())
        events = len(self.plan)
        return {
            "events": events,
            "locations": self.n_locations,
            "throughput_eps": round(events / self.seconds, 1) if self.seconds else 0.0,
            "send_rate_eps": round(events / self.sent_s, 1) if self.sent_s else 0.0,
            "intake_p50_ms": round(percentile(self.intake_ms, 50), 1),
            "intake_p99_ms": round(percentile(self.intake_ms, 99), 1),
            "e2e_p50_ms": round(percentile(e2e_ms, 50), 1),
            "e2e_p95_ms": round(percentile(e2e_ms, 95), 1),
            "e2e_max_ms": round(max(e2e_ms, default=0.0), 1),
            "e2e_mean_ms": round(statistics.fmean(e2e_ms), 1) if e2e_ms else 0.0,
            "seconds": round(self.seconds, 1),
            "drained": self.drained,
            "lost": lost,
            "duplicated": duplicated,
            "rejected": sum(n for status, n in self.statuses.items() if status >= 400),
            "audited_contacts": len(audited),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 + 300 events instead of 5,000 + 1,000")
    parser.add_argument("--events", type=int, default=None, help="events of the saturated phase")
    parser.add_argument("--paced-events", type=int, default=None, help="events of the paced phase (0: skip)")
    parser.add_argument(
        "--paced-fraction", type=float, default=0.6, help="paced arrival rate / saturated throughput"
    )
    parser.add_argument("--paced-rate", type=float, default=None, help="paced arrival rate (events/s)")
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--drain-timeout", type=float, default=None, help="seconds to wait for the queues")
    args = parser.parse_args()
    events = args.events or (1000 if args.quick else 5000)
    paced_events = args.paced_events if args.paced_events is not None else (300 if args.quick else 1000)
    run = uuid.uuid4().hex[:6]

    with LocalStack(echo_logs=False, schedules=False) as stack:
        print(f"stack up: gateway {stack.gateway_url} {stack.notes}", file=sys.stderr)
        setup_started = time.monotonic()
        saturated = Phase(stack, "saturated", events, run)
        paced = Phase(stack, "paced", paced_events, run) if paced_events > 0 else None
        print(
            f"setup: {saturated.n_locations + (paced.n_locations if paced else 0)} locations, "
            f"{len(saturated.plan) + (len(paced.plan) if paced else 0)} contacts "
            f"in {time.monotonic() - setup_started:.1f}s",
            file=sys.stderr,
        )
        saturated.send_all(args.senders, None, args.drain_timeout or max(300.0, events * 0.5))
        sat = saturated.judge()
        rate = args.paced_rate or max(1.0, round(args.paced_fraction * sat["throughput_eps"], 1))
        pac: dict[str, Any] = {}
        if paced is not None:
            print(f"paced: {len(paced.plan)} events at {rate} events/s", file=sys.stderr)
            paced.send_all(args.senders, rate, args.drain_timeout or max(300.0, paced_events * 0.5))
            pac = paced.judge()
        deadlines = deadline_figures(stack.pumps)

    figures: tuple[str, ...] = ("throughput_eps", "send_rate_eps", "intake_p50_ms", "intake_p99_ms")
    figures += ("e2e_p50_ms", "e2e_p95_ms", "e2e_max_ms", "e2e_mean_ms", "seconds", "drained")
    phases = [sat] + ([pac] if pac else [])
    lost = sum(p["lost"] for p in phases)
    duplicated = sum(p["duplicated"] for p in phases)
    rejected = sum(p["rejected"] for p in phases)
    latency = pac or sat  # the paced phase's latency when there is one
    result: dict[str, Any] = {
        "events": sum(p["events"] for p in phases),
        "senders": args.senders,
        "locations": sum(p["locations"] for p in phases),
        "saturated_events": sat["events"],
        **{f"saturated_{k}": sat[k] for k in figures},
        "paced_events": pac.get("events", 0),
        "paced_arrival_rate_eps": rate if pac else None,
        **{f"paced_{k}": pac.get(k) for k in figures},
        "throughput_eps": sat["throughput_eps"],
        "intake_p99_ms": latency["intake_p99_ms"],
        "e2e_p50_ms": latency["e2e_p50_ms"],
        "e2e_p95_ms": latency["e2e_p95_ms"],
        "lost": lost,
        "duplicated": duplicated,
        "rejected": rejected,
        "audited_contacts": sum(p["audited_contacts"] for p in phases),
        **deadlines,
        "target_met": lost == 0
        and duplicated == 0
        and rejected == 0
        and bool(pac)
        and latency["e2e_p95_ms"] < TARGET_E2E_P95_MS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
