"""The chaos bench's leads: Rankr contacts pushed through the Lambda Invoke API as Rankr would."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .config import ChaosConfig, log


@dataclass
class Lead:
    lead_id: str
    fields: dict[str, Any]  # the Rankr contact
    children: dict[str, Any] = field(default_factory=dict)  # note / task: in the push only


def make_leads(stack: Any, account_id: str, count: int, rng: random.Random) -> list[Lead]:
    """The leads exist in Rankr first (a lead is a Rankr contact; leadId = its id)."""
    run = uuid.uuid4().hex[:6]
    records: list[dict[str, Any]] = []
    for i in range(count):
        roll = rng.random()
        record: dict[str, Any] = {
            "firstName": f"Lead{i}",
            "lastName": rng.choice(["Hopper", "Lovelace", "Turing", "Hamilton", "Knuth", "Liskov"]),
            "source": "Rankr",
            "tags": ["chaos"] + (["vip"] if rng.random() < 0.2 else []),
        }
        if roll < 0.97:  # 3 % carry neither e-mail nor phone: GHL cannot match them (lead-tag path)
            if roll < 0.85:
                record["email"] = f"lead{i}.{run}@chaos.example.com"
            if roll >= 0.6:
                record["phone"] = f"+1555{rng.randrange(1000):03d}{i:04d}"
        if rng.random() < 0.5:
            record["company"] = f"Company {i % 37}"
        records.append(record)
    ids = stack.rankr.admin.bulk_contacts(account_id, records)
    return [Lead(str(lead_id), record) for lead_id, record in zip(ids, records, strict=True)]


def lead_payload(lead: Lead, location_id: str) -> dict[str, Any]:
    body = {"leadId": lead.lead_id, "locationId": location_id}
    body.update({k: v for k, v in lead.fields.items() if v is not None})
    body.update(lead.children)
    return body


@dataclass
class PushStats:
    invocations: int = 0
    async_invocations: int = 0
    function_errors: int = 0
    caller_retries: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    gave_up: list[str] = field(default_factory=list)
    permanent_failures: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class RankrCaller:
    """Rankr's side of lead push: boto3 `lambda.invoke` on the alias ARNs (the local Invoke API).

    Waiting calls go to `live`; fire-and-forget calls go to `async`, the alias whose own retries and
    failure destination apply, as Rankr does in production."""

    def __init__(self, stack: Any, location_id: str, stats: PushStats, give_up_after_s: float) -> None:
        import boto3
        from botocore.config import Config

        self.stack = stack
        self.location_id = location_id
        self.stats = stats
        self.give_up_after_s = give_up_after_s
        arn = stack.template.outputs.get("LeadPushAliasArn")
        async_arn = stack.template.outputs.get("LeadPushAsyncAliasArn")
        assert isinstance(arn, str) and isinstance(async_arn, str)
        self.arn = arn
        self.async_arn = async_arn
        self.client = boto3.client(
            "lambda",
            endpoint_url=stack.invoke_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(read_timeout=300, connect_timeout=10, retries={"max_attempts": 1}),
        )

    def _invoke(self, payload: dict[str, Any], invocation_type: Any) -> tuple[str | None, Any]:
        function_name = self.async_arn if invocation_type == "Event" else self.arn
        response = self.client.invoke(
            FunctionName=function_name, InvocationType=invocation_type, Payload=json.dumps(payload).encode()
        )
        body = response["Payload"].read()
        with self.stats.lock:
            self.stats.invocations += 1
        return response.get("FunctionError"), (json.loads(body) if body else None)

    def push_async(self, leads: list[Lead]) -> None:
        payload = {"leads": [lead_payload(lead, self.location_id) for lead in leads]}
        self._invoke(payload, "Event")
        with self.stats.lock:
            self.stats.async_invocations += 1

    def push_sync(self, leads: list[Lead]) -> None:
        """Invoke; re-invoke function errors and retryable per-lead failures with backoff."""
        pending = {lead.lead_id: lead for lead in leads}
        deadline = time.monotonic() + self.give_up_after_s
        delay = 0.5
        first = True
        while pending:
            if not first:
                with self.stats.lock:
                    self.stats.caller_retries += 1
                if time.monotonic() > deadline:
                    with self.stats.lock:
                        self.stats.gave_up.extend(pending)
                    return
                time.sleep(delay)
                delay = min(delay * 2, 8.0)
            first = False
            payload = {"leads": [lead_payload(lead, self.location_id) for lead in pending.values()]}
            function_error, body = self._invoke(payload, "RequestResponse")
            if function_error or not isinstance(body, dict) or "results" not in body:
                with self.stats.lock:
                    self.stats.function_errors += 1
                continue
            for result in body["results"]:
                lead_id = result.get("leadId")
                outcome = result.get("outcome")
                with self.stats.lock:
                    self.stats.outcomes[str(outcome)] += 1
                if outcome != "failed":
                    pending.pop(lead_id, None)
                elif not result.get("error", {}).get("retryable"):
                    pending.pop(lead_id, None)
                    with self.stats.lock:
                        self.stats.permanent_failures.append(result)


def push_leads(
    stack: Any, location_id: str, leads: list[Lead], config: ChaosConfig, rng: random.Random
) -> PushStats:
    stats = PushStats()
    caller = RankrCaller(stack, location_id, stats, give_up_after_s=config.lead_push_timeout_s * 4 + 60)
    batches = [leads[i : i + config.batch_size] for i in range(0, len(leads), config.batch_size)]
    plans: list[tuple[str, list[Lead]]] = []
    for batch in batches:
        roll = rng.random()
        mode = "async" if roll < 0.2 else "twice" if roll < 0.4 else "sync"
        if mode == "sync" and rng.random() < 0.15:
            mode = "sync_then_again"
        plans.append((mode, batch))

    def run(plan: tuple[str, list[Lead]]) -> None:
        mode, batch = plan
        if mode == "async":
            caller.push_async(batch)
        elif mode == "twice":  # the same batch twice at once (a Rankr retry racing the original)
            with ThreadPoolExecutor(max_workers=2) as pair:
                list(pair.map(caller.push_sync, [batch, batch]))
        else:
            caller.push_sync(batch)
            if mode == "sync_then_again":  # the response was lost: Rankr invokes again
                caller.push_sync(batch)

    with ThreadPoolExecutor(max_workers=config.callers, thread_name_prefix="rankr-caller") as pool:
        list(pool.map(run, plans))
    log(config, f"lead push plans: {Counter(m for m, _ in plans)}")
    return stats
