"""Benchmark: signed GHL webhooks through the intake HANDLER in-process, AWS served by the embedded AWS.

    .venv/bin/python bench/webhook_intake.py [--quick] [--events N] [--seed S]

Workload: valid events of every supported type over 50 locations, plus duplicate deliveries of
earlier events (~8 %) and invalid ones (~6 %: forged, wrong key, stale, non-JSON, foreign appId).
Bodies are signed with a key generated here and configured through WEBHOOK_PUBLIC_KEYS.

Last stdout line (JSON): events, accepted, rejected, duplicates_answered, duplicates_enqueued
(messages in the queue minus unique valid events, counted by draining the queue), p50_ms, p99_ms
(handler latency incl. DynamoDB + SQS on the local moto server), verify_parse_p99_ms (CPU only:
signature verification + parsing + validation, no I/O), events_per_s, targets_met.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.util
import json
import os
import queue
import random
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
CHUNK = 200
APP_ID = "benchapp"
EVENT_TYPES = [
    ("ContactCreate", 3),
    ("ContactUpdate", 6),
    ("ContactTagUpdate", 1),
    ("ContactDndUpdate", 1),
    ("ContactDelete", 1),
    ("TaskCreate", 2),
    ("TaskComplete", 1),
    ("TaskDelete", 1),
    ("NoteCreate", 1),
    ("NoteUpdate", 1),
    ("NoteDelete", 1),
    ("AppointmentCreate", 1),
    ("AppointmentUpdate", 1),
    ("AppointmentDelete", 1),
]


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


@dataclass
class Delivery:
    kind: str  # valid | duplicate | invalid
    payload: dict[str, Any] | None
    raw: bytes | None = None
    key: str = "main"  # main | other


def make_event(rng: random.Random, locations: list[str], event_type: str) -> dict[str, Any]:
    location = rng.choice(locations)
    entity = uuid.UUID(int=rng.getrandbits(128)).hex[:20]
    event: dict[str, Any] = {"type": event_type, "locationId": location, "appId": APP_ID}
    if event_type.startswith("Appointment"):
        event["appointment"] = {
            "id": entity,
            "calendarId": "cal0000000000000001",
            "contactId": "c" + entity[:19],
            "title": "Consultation",
            "appointmentStatus": "confirmed",
            "startTime": "2026-03-01T10:00:00+00:00",
            "endTime": "2026-03-01T10:30:00+00:00",
        }
    else:
        event["id"] = entity
        if event_type.startswith("Contact"):
            event.update(
                firstName="Ada",
                lastName="Lovelace",
                email=f"ada.{entity[:6]}@example.com",
                phone="+15555550123",
                tags=["lead", "bench"],
                customFields=[{"id": "cf1", "value": "Analytical Engines Ltd"}],
            )
        else:
            event.update(contactId="c" + entity[:19], body="Follow up about the proposal", title="Call back")
    return event


def build_workload(n: int, seed: int) -> list[Delivery]:
    rng = random.Random(seed)
    locations = ["loc" + uuid.UUID(int=rng.getrandbits(128)).hex[:17] for _ in range(50)]
    names, weights = zip(*EVENT_TYPES, strict=True)
    deliveries: list[Delivery] = []
    valid: list[tuple[int, dict[str, Any]]] = []  # (delivery index, event)
    for _ in range(n):
        roll = rng.random()
        # Duplicates re-deliver an event from an earlier chunk of 200 (see main), so the original
        # has been answered before its duplicate arrives and the expected outcome is determined.
        chunk_start = len(deliveries) // CHUNK * CHUNK
        earlier = [event for index, event in valid[-400:] if index < chunk_start]
        if roll < 0.08 and earlier:
            deliveries.append(Delivery("duplicate", rng.choice(earlier)))
        elif roll < 0.14:
            bad = rng.choice(["forged", "wrong_key", "stale", "non_json", "foreign_app"])
            event = make_event(rng, locations, "ContactUpdate")
            event["webhookId"] = str(uuid.UUID(int=rng.getrandbits(128)))
            if bad == "forged":
                deliveries.append(Delivery("invalid", event, raw=b"forged"))
            elif bad == "wrong_key":
                deliveries.append(Delivery("invalid", event, key="other"))
            elif bad == "stale":
                deliveries.append(Delivery("invalid", {**event, "timestamp": "2020-01-01T00:00:00Z"}))
            elif bad == "non_json":
                deliveries.append(Delivery("invalid", None, raw=b"this is { not json"))
            else:
                deliveries.append(Delivery("invalid", {**event, "appId": "someoneelse"}))
        else:
            event = make_event(rng, locations, rng.choices(names, weights)[0])
            event["webhookId"] = str(uuid.UUID(int=rng.getrandbits(128)))
            valid.append((len(deliveries), event))
            deliveries.append(Delivery("valid", event))
    return deliveries


def api_event(body: bytes, signature: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/ghl",
        "rawPath": "/webhooks/ghl",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-ghl-signature": signature},
        "requestContext": {
            "http": {"method": "POST", "path": "/webhooks/ghl", "sourceIp": "127.0.0.1"},
            "requestId": str(uuid.uuid4()),
            "routeKey": "POST /webhooks/ghl",
            "stage": "$default",
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }


class Context:
    function_name = "WebhookIntakeFunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:WebhookIntakeFunction"
    aws_request_id = "bench"


def drain_once(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Receive up to 10 messages and delete them (FIFO groups unblock once deleted)."""
    batch: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=120
    ).get("Messages", [])
    if batch:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return batch


def drain_queue(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Everything left in the queue."""
    messages: list[dict[str, Any]] = []
    empty_polls = 0
    while empty_polls < 3:
        batch = drain_once(sqs, queue_url)
        empty_polls = 0 if batch else empty_polls + 1
        messages.extend(batch)
    return messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 events instead of 20,000")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=1, help="warm containers delivering in parallel")
    args = parser.parse_args(argv)
    n_events = args.events or (2_000 if args.quick else 20_000)

    # Quiet handler output (the last stdout line must be ours); set before the handler is imported.
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "rankr-ghl")
    os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "RankrGhlBench"

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from rankr_ghl.flows.intake import RawWebhookRequest, WebhookRejected
    from rankr_ghl.wiring import reset, root
    from rankr_ghl_tools.local.aws import EmbeddedAws
    from rankr_ghl_tools.local.template import load_template

    key, other_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    spki = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    deliveries = build_workload(n_events, args.seed)

    with EmbeddedAws(load_template(REPO_ROOT / "template.yaml")) as aws:
        function = aws.template.functions["WebhookIntakeFunction"]
        os.environ.update(function.env)
        os.environ["WEBHOOK_PUBLIC_KEYS"] = spki
        os.environ["GHL_CLIENT_ID"] = f"{APP_ID}-bench"
        reset()  # the root reads the environment set above
        queue_url = function.env["WEBHOOK_QUEUE_URL"]

        # One handler module per worker thread = one Lambda container each (the resolver keeps
        # per-request state on its module-level app object, so containers never share one).
        containers: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for index in range(args.concurrency):
            spec = importlib.util.spec_from_file_location(
                f"webhook_intake_app_{index}", REPO_ROOT / "functions" / "webhook_intake" / "app.py"
            )
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            root().webhook_intake()  # init outside the timed section, like a warm container
            containers.put(module)

        latencies: list[float] = []
        cpu: list[float] = []
        status_counts: dict[int, int] = {}
        outcomes = {"accepted": 0, "duplicate": 0, "ignored": 0, "rejected": 0}
        mismatched: list[str] = []
        lock = threading.Lock()

        def deliver(delivery: Delivery) -> None:
            if delivery.payload is None:
                body = delivery.raw or b""
                signature = base64.b64encode(key.sign(body)).decode()
            else:
                payload = delivery.payload
                if "timestamp" not in payload or delivery.kind != "invalid":
                    payload = {**payload, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                body = json.dumps(payload, separators=(",", ":")).encode()
                signer = other_key if delivery.key == "other" else key
                signature = base64.b64encode(signer.sign(body)).decode()
                if delivery.raw == b"forged":
                    body = body.replace(b"Ada", b"Eve")
            event = api_event(body, signature)
            module = containers.get()
            try:
                # CPU-only cost: the pure validation stage on the same request, no I/O.
                request = RawWebhookRequest(body=event["body"], headers=event["headers"])
                # Thread CPU time: waits for the GIL (drainer, other containers) are not counted.
                t0_ns = time.thread_time_ns()
                with contextlib.suppress(WebhookRejected):
                    root().webhook_intake().validate(request)
                cpu_ms = (time.thread_time_ns() - t0_ns) / 1e6
                t0 = time.perf_counter()
                response = module.lambda_handler(event, Context())
                latency_ms = (time.perf_counter() - t0) * 1000
            finally:
                containers.put(module)
            status = response["statusCode"]
            outcome = "rejected" if status >= 400 else json.loads(response["body"])["status"]
            expected = {"valid": "accepted", "duplicate": "duplicate", "invalid": "rejected"}[delivery.kind]
            with lock:
                cpu.append(cpu_ms)
                latencies.append(latency_ms)
                status_counts[status] = status_counts.get(status, 0) + 1
                outcomes[outcome] += 1
                if outcome != expected and len(mismatched) < 5:
                    mismatched.append(f"{delivery.kind}->{outcome} ({status})")

        # A consumer drains the queue while events arrive, as the worker would; moto's FIFO send
        # scans every message in the queue, so an undrained queue would make the run quadratic.
        sqs = aws.client("sqs")
        drained: list[dict[str, Any]] = []
        stop = threading.Event()

        def drainer() -> None:
            while not stop.is_set():
                batch = drain_once(sqs, queue_url)
                drained.extend(batch)
                if not batch:
                    time.sleep(0.05)

        consumer = threading.Thread(target=drainer, name="drainer", daemon=True)
        consumer.start()

        # Handlers print EMF metrics to stdout; keep our stdout for the result line.
        real_stdout = sys.stdout
        sink = open(os.devnull, "w")  # noqa: SIM115
        sys.stdout = sink
        started = time.perf_counter()
        try:
            with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                for chunk_start in range(0, len(deliveries), CHUNK):
                    list(pool.map(deliver, deliveries[chunk_start : chunk_start + CHUNK]))
        finally:
            sys.stdout = real_stdout
            sink.close()
        elapsed = time.perf_counter() - started

        stop.set()
        consumer.join()
        messages = drained + drain_queue(sqs, queue_url)
        unique_valid = sum(1 for d in deliveries if d.kind == "valid")
        dedupe_keys = [json.loads(m["Body"])["dedupeKey"] for m in messages]

    result = {
        "events": len(deliveries),
        "valid_unique": unique_valid,
        "accepted": outcomes["accepted"],
        "rejected": outcomes["rejected"],
        "duplicates_answered": outcomes["duplicate"],
        "duplicates_enqueued": len(messages) - unique_valid,
        "distinct_messages": len(set(dedupe_keys)),
        "status_counts": {str(k): v for k, v in sorted(status_counts.items())},
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "verify_parse_p50_ms": round(statistics.median(cpu), 4),
        "verify_parse_p99_ms": round(percentile(cpu, 99), 4),
        "events_per_s": round(len(deliveries) / elapsed, 1),
        "concurrency": args.concurrency,
        "mismatches": mismatched,
    }
    result["targets_met"] = (
        result["verify_parse_p99_ms"] < 1.0
        and result["duplicates_enqueued"] == 0
        and result["accepted"] == unique_valid
        and not mismatched
    )
    print(json.dumps(result))
    return 0 if result["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
