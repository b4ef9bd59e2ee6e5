"""Chaos convergence: the whole connector on the local runtime with faults applied all through the run.

    .venv/bin/python bench/chaos.py [--quick] [--leads N] [--seed S] [--no-faults] [--quiet] [--log FILE]

Faults (from the start of the workload to the end of the reconcile):
- GHL sandbox: 10 % 429, 5 % 5xx (500/502/503), 2 % slow past the client's read timeout (the request is
  applied, the answer comes too late), 1 % "422 but created" (create routes);
- webhooks: 10 % duplicated, 5 % dropped (never delivered), reordered (pairs held and swapped);
- Rankr sandbox: 5 % 5xx (500/502/503, `Retry-After: 0`);
- lead push: `RANKR_GHL_FAULT_CRASH_AFTER_GHL_WRITE` (1 %): the worker process exits between a lead's GHL
  contact write and its mapping write (the re-resolve path must find that contact, not make a twin).

Workload (`--quick` = all sizes / 5): 500 leads (Rankr contacts) pushed through the Lambda Invoke API in
batches of 10 by 4 concurrent callers playing Rankr (60 % sync, 20 % the same batch twice at once,
20 % async `Event`; 15 % of sync batches invoked again after they succeeded; a sync caller re-invokes
retryable failures and function errors with backoff, as Rankr would); then, concurrently, 500 contact
edits, 100 contact deletes and 200 task changes (create / complete / title edit without webhook /
delete) made GHL-side through the sandbox admin (which emits the webhooks), and 200 edits made
Rankr-side (these reach GHL only through reconcile). Then: flush webhooks, drain the queues, one full
reconcile of the location by the deployed ReconcileFunction (handed its job as an SQS record; a record
it reports failed is redelivered at once instead of after the queue's 30-minute visibility timeout),
drain again. Faults stay on throughout.

Measured against both sandboxes' final state and the mapping table (contacts and tasks):
- lost: a live record on one side without its live mapped twin on the other side (leads never linked,
  GHL deletes not applied in Rankr, GHL tasks not mirrored, ...);
- duplicated_contacts: more than one live contact with the same identity (lead e-mail/phone) on a side;
- orphan_mappings: a mapping whose GHL or Rankr record is gone (or deleted) and neither side is
  tombstoned;
- field_mismatches: mapped fields (canonical form, rankr_ghl.sync) that differ between live twins;
- edits_lost: a field edited on one side (and never edited on the other side for that record) whose
  final value is not the edited value on both sides;
- dlq_messages: messages in every DLQ plus the lead-push failure queue.
Last stdout line (JSON): lost, duplicated_contacts, orphan_mappings, field_mismatches, edits_lost,
dlq_messages, ghl_calls, seconds (+ a few workload counters, and `drained`: whether every wait for the
queues ended with them empty). Target: every count but ghl_calls and seconds is zero (and drained).

Waiting for the queues is progress-based, not a fixed deadline: a wait goes on while the backlog keeps
shrinking (or the SQS pumps keep settling messages) and gives up only after `drain_stall_s` (120 s)
without progress, or at a hard cap sized to the workload (`drain_cap`: 300 s + 2 s per workload item);
a wait that gave up is logged, and the run still measures (drained: false). Why it must be sized to
the workload: every webhook event of the run belongs to one location, i.e. to one FIFO message group,
which the workers process one batch at a time, and under this fault mix that group moves at 3-5
events/s. Measured on the worker's log of a full run: 1,824 events in 404 s of worker time, of which
207 s were the GHL client's rate-budget blocks after the 187 injected 429s (1.10 s each: the client
blocks the location for one window plus up to 20 % jitter, and the sandbox window is GHL's 10 s
scaled to 1 s), 58 s read timeouts and their backoff, 32 s backoff after 5xx, ~95 s actual work; and
an event whose four attempts all draw a fault (2 in that run) holds the whole group for the scaled
visibility timeout, 18 s. (A --quick run: 372 events, 93 s, 52 s of it in 48 429 blocks.)

Local runtime settings, all defaults except: the fault rates; `time_scale` (0.1: Lambda's async retry
delays and SQS visibility timeouts x0.1, and the GHL location's rate window 10 s -> 1 s, so a 429's
block scales with it); the GHL client read timeout (`GHL_TIMEOUT_S`, 1 s, so "slow" requests time out
quickly); and LeadPushFunction's Timeout (120 s -> 30 s, in a temporary copy of template.yaml). The
last one keeps a crash's cost in the same scaled time: Powertools Idempotency holds a crashed lead's
INPROGRESS record until the invocation's deadline (the function timeout), and Lambda's async retries
(scaled to 6 s and 12 s) must outlive it as the real 1 and 2 minute ones outlive 120 s.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
for _path in (REPO_ROOT / "layers" / "rankr_ghl", REPO_ROOT / "devtools"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

LEAD_PUSH = "LeadPushFunction"
RECONCILE = "ReconcileFunction"
FAILURE_QUEUES = ("WebhookDLQ", "ReconcileDLQ", "ScheduleDLQ", "LeadPushFailureQueue")
CRASH_ENV = "RANKR_GHL_FAULT_CRASH_AFTER_GHL_WRITE"
# The counts the target wants at zero (the e2e test asserts the same).
ZERO_TARGETS = (
    "lost",
    "duplicated_contacts",
    "orphan_mappings",
    "field_mismatches",
    "edits_lost",
    "dlq_messages",
)
# Version 2's counts, also wanted at zero (the e2e test asserts those that pass on main).
from rankr_ghl_tools.chaos.measure import V2_KEYS  # noqa: E402

ALL_ZERO_TARGETS = ZERO_TARGETS + V2_KEYS


@dataclass
class ChaosConfig:
    leads: int = 500
    ghl_edits: int = 500
    ghl_deletes: int = 100
    task_changes: int = 200
    rankr_edits: int = 200
    batch_size: int = 10
    callers: int = 4
    seed: int = 7
    faults: bool = True
    crash_rate: float = 0.01
    time_scale: float = 0.1
    ghl_timeout_s: float = 1.0
    slow_seconds: float = 2.5
    lead_push_timeout_s: int = 30
    drain_stall_s: float = 120.0  # give up waiting once nothing moved for this long
    drain_cap_s: float | None = None  # hard cap of one wait; None: sized to the workload (drain_cap)
    log_path: str | None = None
    verbose: bool = True
    # version 2: GHL search conditions, child-write failures, reverts, dropped note webhooks
    search_lag_s: float = 2.0
    search_lag_jitter_s: float = 1.0
    search_order: str = "ignored"
    child_leads: int = 50  # leads with tags, a note and a task, pushed while child writes fail
    late_leads: int = 50  # leads pushed while the full reconciles run
    reverts: int = 25
    quiet_note_contacts: int = 25  # notes with no webhook, on contacts nothing else touches
    busy_note_contacts: int = 25  # notes with webhooks
    reconciles_during_traffic: int = 2
    variants: dict[str, Any] | None = None  # GHL sandbox switches applied for the whole run

    def scaled(self, divisor: int) -> ChaosConfig:
        values = dict(self.__dict__)
        for name in ("leads", "ghl_edits", "ghl_deletes", "task_changes", "rankr_edits", "child_leads",
                     "late_leads", "reverts", "quiet_note_contacts", "busy_note_contacts"):  # fmt: skip
            values[name] = max(1, values[name] // divisor)
        return ChaosConfig(**values)


@dataclass
class Lead:
    lead_id: str
    fields: dict[str, Any]  # the Rankr contact
    children: dict[str, Any] = field(default_factory=dict)  # note / task: in the push only


@dataclass
class EditLog:
    """Which side edited which field of which record last (to check that no edit was lost)."""

    ghl: dict[tuple[str, str], Any] = field(default_factory=dict)  # (ghl contact id, canonical field)
    rankr: dict[tuple[str, str], Any] = field(default_factory=dict)  # (rankr contact id, canonical field)
    ghl_tasks: dict[tuple[str, str], Any] = field(default_factory=dict)  # (ghl task id, canonical field)
    deleted: set[str] = field(default_factory=set)  # GHL tasks deleted, or gone with their contact


def log(config: ChaosConfig, message: str) -> None:
    if config.verbose:
        print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the local runtime -----------------------------------------------------------------------------------
def derived_template(directory: Path, lead_push_timeout_s: int) -> Path:
    """template.yaml with absolute code paths and LeadPushFunction's Timeout replaced."""
    text = (REPO_ROOT / "template.yaml").read_text()
    text = text.replace("CodeUri: functions/", f"CodeUri: {REPO_ROOT}/functions/")
    text = text.replace("ContentUri: layers/", f"ContentUri: {REPO_ROOT}/layers/")
    marker = "      CodeUri: functions/lead_push/"
    block_start = text.index(marker.replace("functions/", f"{REPO_ROOT}/functions/"))
    timeout_at = text.index("      Timeout: ", block_start)
    line_end = text.index("\n", timeout_at)
    text = text[:timeout_at] + f"      Timeout: {int(lead_push_timeout_s)}" + text[line_end:]
    path = directory / "template.yaml"
    path.write_text(text)
    return path


@contextmanager
def chaos_stack(config: ChaosConfig, workdir: Path) -> Iterator[Any]:
    from rankr_ghl_tools.ghl_sandbox import SandboxConfig
    from rankr_ghl_tools.local.stack import LocalStack
    from rankr_ghl_tools.rankr_sandbox import RankrSandboxConfig

    extra_env = {"GHL_TIMEOUT_S": str(config.ghl_timeout_s)}
    if config.faults and config.crash_rate:
        extra_env[CRASH_ENV] = str(config.crash_rate)
    with LocalStack(
        derived_template(workdir, config.lead_push_timeout_s),
        gateway_port=0,
        invoke_port=0,
        concurrency={
            "WebhookIntakeFunction": 4,
            "WebhookWorkerFunction": 2,
            LEAD_PUSH: 3,
            RECONCILE: 1,
            "*": 1,
        },
        time_scale=config.time_scale,
        # GHL delivers webhooks concurrently; 4 senders also reorder (on top of the reorder fault).
        ghl_sandbox_config=SandboxConfig(seed=config.seed, webhook_workers=4),
        rankr_sandbox_config=RankrSandboxConfig(seed=config.seed),
        schedules=False,
        echo_logs=False,
        log_path=config.log_path or workdir / "functions.log",
        extra_env=extra_env,
    ) as stack:
        if stack.ghl is None or stack.rankr is None:
            raise RuntimeError(f"sandboxes unavailable: {stack.notes}")
        yield stack


def install_location(stack: Any, config: ChaosConfig) -> tuple[str, str]:
    """A connected location (GHL's rate window scaled by time_scale) linked to a fresh Rankr account."""
    from rankr_ghl_tools.scenario.webhooks import connect_location

    interval_ms = max(200, int(10_000 * config.time_scale))
    return connect_location(stack, rate_limit={"max": 100, "intervalMs": interval_ms})


def apply_search_conditions(stack: Any, config: ChaosConfig) -> dict[str, Any]:
    """The variant pick (if any), then search lag and order as configured, for the whole run; returns
    the switches in effect."""
    admin = stack.ghl.admin
    if config.variants:
        admin.variants(**config.variants)
    admin.variants(
        search_lag_s=config.search_lag_s,
        search_lag_jitter_s=config.search_lag_jitter_s,
        search_order=config.search_order,
    )
    return dict(admin.get_variants()["effective"])


def apply_faults(stack: Any, config: ChaosConfig) -> None:
    if not config.faults:
        return
    stack.ghl.admin.faults(
        rate429=0.10,
        rate500=0.02,
        rate502=0.015,
        rate503=0.015,
        rate_slow=0.02,
        slow_seconds=config.slow_seconds,
        rate422_created=0.01,
        seed=config.seed,
    )
    stack.ghl.admin.webhooks(duplicate_rate=0.10, drop_rate=0.05, reorder=True, seed=config.seed)
    stack.rankr.admin.set_faults(
        rate500=0.02, rate502=0.015, rate503=0.015, retryAfterSeconds=0, seed=config.seed
    )


# -- workload: leads -------------------------------------------------------------------------------------
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
    """Rankr's side of lead push: boto3 `lambda.invoke` on the alias ARN (the local Invoke API)."""

    def __init__(self, stack: Any, location_id: str, stats: PushStats, give_up_after_s: float) -> None:
        import boto3
        from botocore.config import Config

        self.stack = stack
        self.location_id = location_id
        self.stats = stats
        self.give_up_after_s = give_up_after_s
        arn = stack.template.outputs.get("LeadPushAliasArn")
        assert isinstance(arn, str)
        self.arn = arn
        self.client = boto3.client(
            "lambda",
            endpoint_url=stack.invoke_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(read_timeout=300, connect_timeout=10, retries={"max_attempts": 1}),
        )

    def _invoke(self, payload: dict[str, Any], invocation_type: str) -> tuple[str | None, Any]:
        response = self.client.invoke(
            FunctionName=self.arn, InvocationType=invocation_type, Payload=json.dumps(payload).encode()
        )
        body = response["Payload"].read()
        with self.stats.lock:
            self.stats.invocations += 1
        return response.get("FunctionError"), (json.loads(body) if body else None)

    def push_async(self, leads: list[Lead]) -> None:
        payload = {
            "leads": [lead_payload(lead, self.location_id) for lead in leads],
            "invocationType": "Event",
        }
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


# -- workload: GHL-side and Rankr-side changes -------------------------------------------------------------
def ghl_operations(
    contacts: list[dict[str, Any]], config: ChaosConfig, rng: random.Random
) -> tuple[list[Callable[[Any, str, EditLog], None]], set[str]]:
    """Contact edits, contact deletes and task changes, in an order a person could make them."""
    ids = [c["id"] for c in contacts]
    by_id = {c["id"]: c for c in contacts}
    deleted = set(rng.sample(ids, min(config.ghl_deletes, max(0, len(ids) - 1))))
    alive = [i for i in ids if i not in deleted]
    early: list[Callable[[Any, str, EditLog], None]] = []
    late: list[Callable[[Any, str, EditLog], None]] = []
    counter = iter(range(1, 1_000_000))

    def contact_edit(cid: str) -> Callable[[Any, str, EditLog], None]:
        n = next(counter)
        kind = rng.choice(["first", "last", "last", "company", "tags", "email"])
        lead_tagged = any(str(t).startswith("rankr-lead:") for t in by_id[cid].get("tags") or [])
        if kind == "tags" and lead_tagged:
            kind = "first"

        def op(admin: Any, location_id: str, edits: EditLog) -> None:
            if kind == "first":
                changes, canonical = {"firstName": f"Ghlfirst{n}"}, ("first_name", f"Ghlfirst{n}")
            elif kind == "last":
                changes, canonical = {"lastName": f"Ghllast{n}"}, ("last_name", f"Ghllast{n}")
            elif kind == "company":
                changes, canonical = {"companyName": f"Ghl Co {n}"}, ("company", f"Ghl Co {n}")
            elif kind == "tags":
                tags = ["chaos", f"ghl{n}"]
                changes, canonical = {"tags": tags}, ("tags", sorted(tags))
            else:
                email = f"ghl{n}.{uuid.uuid4().hex[:6]}@chaos.example.com"
                changes, canonical = {"email": email}, ("email", email)
            admin.edit(location_id, "contact", cid, changes)
            edits.ghl[(cid, canonical[0])] = canonical[1]

        return op

    def contact_delete(cid: str) -> Callable[[Any, str, EditLog], None]:
        def op(admin: Any, location_id: str, edits: EditLog) -> None:
            admin.delete(location_id, "contact", cid)

        return op

    for _ in range(config.ghl_edits):
        (early if rng.random() < 0.5 else late).append(contact_edit(rng.choice(alive)))
    late.extend(contact_delete(cid) for cid in deleted)

    # Tasks: creates first (some on contacts deleted later: their tasks go with them, silently).
    creates = max(1, int(config.task_changes * 0.45))
    rest = config.task_changes - creates
    task_slots: list[dict[str, Any]] = []
    due = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    for n in range(creates):
        on_deleted = deleted and rng.random() < 0.1
        cid = rng.choice(sorted(deleted)) if on_deleted else rng.choice(alive)
        slot: dict[str, Any] = {"contact": cid, "id": None, "doomed": on_deleted}
        task_slots.append(slot)

        def create(
            admin: Any, location_id: str, edits: EditLog, slot: dict[str, Any] = slot, n: int = n
        ) -> None:
            body = {
                "title": f"Call back {n}",
                "body": "chaos follow-up",
                "dueDate": (due + timedelta(hours=n)).isoformat().replace("+00:00", "Z"),
                "completed": False,
            }
            slot["id"] = admin.create(location_id, "task", body, contact_id=slot["contact"])["id"]
            if slot["doomed"]:
                edits.deleted.add(slot["id"])

        early.append(create)
    usable = [s for s in task_slots if not s["doomed"]]
    task_changes: list[Callable[[Any, str, EditLog], None]] = []
    removed: set[int] = set()
    for _ in range(rest):
        if not usable:
            break
        index = rng.randrange(len(usable))
        slot = usable[index]
        roll = rng.random()
        kind = "complete" if roll < 0.37 else "title" if roll < 0.73 else "delete"
        if kind == "delete":
            if id(slot) in removed:
                continue
            removed.add(id(slot))
            usable.pop(index)

        def change(
            admin: Any, location_id: str, edits: EditLog, slot: dict[str, Any] = slot, kind: str = kind
        ) -> None:
            tid, cid = slot["id"], slot["contact"]
            if tid is None:
                return
            if kind == "complete":
                admin.edit(location_id, "task", tid, {"completed": True}, contact_id=cid)
                edits.ghl_tasks[(tid, "completed")] = True
            elif kind == "title":  # GHL has no TaskUpdate event: only reconcile sees this one
                title = f"Retitled {uuid.uuid4().hex[:6]}"
                admin.edit(location_id, "task", tid, {"title": title}, contact_id=cid)
                edits.ghl_tasks[(tid, "title")] = title
            else:
                edits.deleted.add(tid)
                admin.delete(location_id, "task", tid, contact_id=cid)

        task_changes.append(change)
    rng.shuffle(early)
    rng.shuffle(late)
    # Task changes keep their order (a task is changed before it is deleted, never after); contact
    # deletes land among them, after every edit of the same contact (edits only target live contacts).
    return early + interleave(late, task_changes, rng), deleted


def interleave(a: list[Any], b: list[Any], rng: random.Random) -> list[Any]:
    out: list[Any] = []
    i = j = 0
    while i < len(a) or j < len(b):
        if j >= len(b) or (i < len(a) and rng.random() < len(a) / (len(a) + len(b))):
            out.append(a[i])
            i += 1
        else:
            out.append(b[j])
            j += 1
    return out


def rankr_operations(
    pairs: dict[str, str], deleted_ghl: set[str], config: ChaosConfig, rng: random.Random
) -> list[Callable[[Any, str, EditLog], None]]:
    """Edits a person makes in Rankr (name and tags: GHL's update API cannot change companyName)."""
    candidates = sorted(rid for rid, gid in pairs.items() if gid not in deleted_ghl)
    ops: list[Callable[[Any, str, EditLog], None]] = []
    for n in range(config.rankr_edits if candidates else 0):
        rid = rng.choice(candidates)
        kind = rng.choice(["first", "last", "tags"])

        def op(
            admin: Any, account_id: str, edits: EditLog, rid: str = rid, kind: str = kind, n: int = n
        ) -> None:
            if kind == "first":
                changes, canonical = {"firstName": f"Rankrfirst{n}"}, ("first_name", f"Rankrfirst{n}")
            elif kind == "last":
                changes, canonical = {"lastName": f"Rankrlast{n}"}, ("last_name", f"Rankrlast{n}")
            else:
                tags = ["chaos", f"rankr{n}"]
                changes, canonical = {"tags": tags}, ("tags", sorted(tags))
            admin.edit(account_id, "contact", rid, changes)
            edits.rankr[(rid, canonical[0])] = canonical[1]

        ops.append(op)
    return ops


# -- settle, reconcile -----------------------------------------------------------------------------------
def workload_items(config: ChaosConfig) -> int:
    return config.leads + config.ghl_edits + config.ghl_deletes + config.task_changes + config.rankr_edits


def drain_cap(config: ChaosConfig) -> float:
    """Hard cap of one wait: 300 s + 2 s per workload item (1,500 items: 3,300 s; --quick: 900 s).

    One location drains 3-5 webhook events/s under the fault mix and the workload makes ~1.2 events per
    item (lead-push creates and echoes, duplicates), so ~0.4 s per item is the expected cost; the cap
    is 5x that. It only bounds a wait that keeps making progress: a stalled one ends after
    `drain_stall_s` without progress.
    """
    return config.drain_cap_s if config.drain_cap_s is not None else 300.0 + 2.0 * workload_items(config)


def wait_for(
    config: ChaosConfig,
    label: str,
    probe: Callable[[], tuple[int, int]],
    *,
    settle_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Wait until `probe()`'s backlog is 0 for `settle_s`. Progress-based, not a fixed deadline.

    `probe()` returns (backlog, done): what is still queued or in flight, and a counter of finished
    work. The wait goes on while there is progress (a new lowest backlog, or `done` moved) and gives up
    after `drain_stall_s` without progress or after `drain_cap(config)` in all. Returns whether it
    drained; a wait that gave up is logged and the run measures what it has (the counts show it).
    """
    cap = drain_cap(config)
    started = last_progress = last_log = clock()
    lowest: int | None = None
    last_done: int | None = None
    quiet_since: float | None = None
    backlog = 0
    while True:
        backlog, done = probe()
        now = clock()
        if backlog == 0:
            quiet_since = quiet_since if quiet_since is not None else now
            if now - quiet_since >= settle_s:
                return True
        else:
            quiet_since = None
        if lowest is None or backlog < lowest or done != last_done:
            last_progress = now
            lowest = backlog if lowest is None else min(lowest, backlog)
            last_done = done
        if now - last_progress > config.drain_stall_s or now - started > cap:
            why = "no progress" if now - last_progress > config.drain_stall_s else "hard cap"
            log(config, f"{label}: gave up after {now - started:.0f}s ({why}); backlog {backlog}")
            return False
        if now - last_log >= 30.0:
            last_log = now
            log(config, f"{label}: backlog {backlog} after {now - started:.0f}s (done {done})")
        sleep(0.25)


def stack_backlog(stack: Any) -> tuple[int, int]:
    """(queued + in flight, messages settled by the pumps) of the local runtime."""
    backlog = sum(stack.busy().values())
    settled = sum(p.messages_succeeded + p.messages_failed for p in stack.pumps)
    return backlog, settled


def wait_async_invocations(stack: Any, config: ChaosConfig) -> bool:
    return wait_for(config, "async lead push", lambda: (stack.service.async_pending, 0), settle_s=0.0)


def settle(stack: Any, config: ChaosConfig) -> bool:
    """Deliver every pending webhook (with the sandbox's retries), then drain the queues; again while
    the drain made the sandbox emit more (a second pass is cheap when there is nothing left)."""
    drained = True
    for _ in range(3):

        def webhooks() -> tuple[int, int]:
            return int(stack.ghl.admin.flush(timeout_s=5.0).get("pending", 0)), 0

        drained = wait_for(config, "webhook delivery", webhooks, settle_s=0.0) and drained
        drained = wait_for(config, "queue drain", lambda: stack_backlog(stack)) and drained
        if not stack.ghl.admin.flush(timeout_s=1.0).get("pending") and not stack.busy():
            break
    return drained


def run_reconcile(stack: Any, location_id: str, config: ChaosConfig) -> dict[str, Any]:
    """One full reconcile job, handed to the deployed function as its queue would hand it."""
    from rankr_ghl.flows.reconcile import Mode, ReconcileJob
    from rankr_ghl_tools.local.pumps import lambda_sqs_record

    queue = stack.template.queues["ReconcileQueue"]
    job = ReconcileJob(location_id, Mode.FULL)
    body = json.dumps(job.to_message())
    report: dict[str, Any] = {}
    for attempt in range(1, 6):
        message = {
            "MessageId": str(uuid.uuid4()),
            "ReceiptHandle": f"chaos-{uuid.uuid4().hex}",
            "Body": body,
            "Attributes": {
                "ApproximateReceiveCount": str(attempt),
                "MessageGroupId": location_id,
                "MessageDeduplicationId": f"{job.run_id}-{attempt}",
                "SentTimestamp": str(int(time.time() * 1000)),
            },
        }
        result = stack.invoke(RECONCILE, {"Records": [lambda_sqs_record(message, queue)]})
        response = result.json()
        failed = (not result.ok) or bool((response or {}).get("batchItemFailures"))
        log(config, f"reconcile attempt {attempt}: {'failed' if failed else 'done'}")
        if not failed:
            report["attempts"] = attempt
            return report
    report["attempts"] = "gave up"
    return report


# -- measurement -----------------------------------------------------------------------------------------
def measure(
    stack: Any,
    location_id: str,
    account_id: str,
    leads: list[Lead],
    edits: EditLog,
    expect: Any = None,
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """v1's counts, then (with `expect`, the workload's Expectations) version 2's."""
    from rankr_ghl.aws.sync_state import SyncStateTable
    from rankr_ghl.flows.reconcile import common_fields
    from rankr_ghl.sync.diff import changed_fields
    from rankr_ghl.sync.mapping import default_mapping
    from rankr_ghl.sync.types import Entity, Side
    from rankr_ghl_tools.chaos.convergence import Pair
    from rankr_ghl_tools.chaos.measure import lead_child_task_ids, measure_v2

    mapping = default_mapping()
    cm, tm = mapping.contact, mapping.for_entity(Entity.TASK)
    table = SyncStateTable(
        stack.template.functions[LEAD_PUSH].env["SYNC_TABLE"], client=stack.client("dynamodb")
    )
    ghl = stack.ghl.admin.state(location_id)
    rankr = stack.rankr.admin.state(account_id, include_deleted=True)
    g_contacts = {c["id"]: c for c in ghl["contacts"]}
    r_contacts = {c["id"]: c for c in rankr["contacts"]}
    r_live = {i: c for i, c in r_contacts.items() if not c.get("deletedAt")}
    g_tasks = {t["id"]: t for t in ghl["tasks"]}
    r_tasks = {t["id"]: t for t in rankr["tasks"]}
    r_tasks_live = {i: t for i, t in r_tasks.items() if not t.get("deletedAt")}
    problems: dict[str, list[str]] = defaultdict(list)

    def tombstoned(entity: Any, ghl_id: str, rankr_id: str) -> bool:
        return table.tombstones.is_tombstoned(location_id, Side.GHL, entity, ghl_id) or (
            table.tombstones.is_tombstoned(location_id, Side.RANKR, entity, rankr_id)
        )

    # contacts
    c_maps = list(table.mappings.list_for_location(location_id, Entity.CONTACT))
    by_ghl = {m.ghl_id: m for m in c_maps}
    by_rankr = {m.rankr_id: m for m in c_maps}
    for rid in r_live:
        m = by_rankr.get(rid)
        if m is None or m.ghl_id not in g_contacts:
            problems["lost"].append(
                f"rankr contact {rid} live, GHL twin {'unmapped' if m is None else 'gone'}"
            )
    for gid, g_rec in g_contacts.items():
        m = by_ghl.get(gid)
        if m is None or m.rankr_id not in r_live:
            if m is not None and cm.deleted_tag in (g_rec.get("tags") or []):
                continue  # deleted in Rankr and marked in GHL (the mapping's rankr_to_ghl delete action)
            problems["lost"].append(
                f"GHL contact {gid} live, Rankr twin {'unmapped' if m is None else 'gone'}"
            )
    for m in c_maps:
        g, r = g_contacts.get(m.ghl_id), r_live.get(m.rankr_id)
        if g is not None and r is not None:
            for name in changed_fields(cm.from_ghl(g), cm.from_rankr(r), common_fields(cm)):
                problems["field_mismatches"].append(f"contact {m.ghl_id}/{m.rankr_id}: {name}")
        elif g is None and r is None and not tombstoned(Entity.CONTACT, m.ghl_id, m.rankr_id):
            problems["orphan_mappings"].append(f"contact {m.ghl_id}/{m.rankr_id}: both gone, no tombstone")
        # one side live only: counted as lost above
    for side, records in (("GHL", g_contacts), ("Rankr", r_live)):
        seen: dict[str, str] = {}
        for rid, rec in records.items():
            canonical = cm.from_ghl(rec) if side == "GHL" else cm.from_rankr(rec)
            for key in (f"email:{canonical.get('email')}" if canonical.get("email") else None,
                        f"phone:{canonical.get('phone')}" if canonical.get("phone") else None):  # fmt: skip
                if key is None:
                    continue
                if key in seen and seen[key] != rid:
                    problems["duplicated_contacts"].append(
                        f"{side} {rid} and {seen[key]} share {key.split(':')[0]}"
                    )
                    break
                seen.setdefault(key, rid)
    lead_ids = {lead.lead_id for lead in leads}
    multi = Counter(m.rankr_id for m in c_maps if m.rankr_id in lead_ids)
    problems["duplicated_contacts"] += [f"lead {rid} mapped {n} times" for rid, n in multi.items() if n > 1]

    # tasks
    t_maps = list(table.mappings.list_for_location(location_id, Entity.TASK))
    t_by_ghl = {m.ghl_id: m for m in t_maps}
    lead_tasks = lead_child_task_ids(ghl, expect) if expect is not None else set()
    for tid, task in g_tasks.items():
        m = t_by_ghl.get(tid)
        if task.get("contactId") not in g_contacts or tid in lead_tasks:
            continue  # a lead's own task exists only in GHL
        if m is None or m.rankr_id not in r_tasks_live:
            problems["lost"].append(f"GHL task {tid} live, Rankr twin {'unmapped' if m is None else 'gone'}")
    for m in t_maps:
        g, r = g_tasks.get(m.ghl_id), r_tasks_live.get(m.rankr_id)
        if g is None and r is not None:
            problems["lost"].append(f"GHL task {m.ghl_id} deleted, Rankr task {m.rankr_id} still live")
        elif (
            g is None
            and r is None
            and m.rankr_id not in r_tasks
            and not tombstoned(Entity.TASK, m.ghl_id, m.rankr_id)
        ):
            problems["orphan_mappings"].append(f"task {m.ghl_id}/{m.rankr_id}: both gone, no tombstone")
        elif g is not None and r is not None:
            for name in changed_fields(tm.from_ghl(g), tm.from_rankr(r), common_fields(tm)):
                problems["field_mismatches"].append(f"task {m.ghl_id}/{m.rankr_id}: {name}")

    # edits: a field edited on one side only must end with that value on both sides
    rankr_edited = {(by_rankr[rid].ghl_id, name) for (rid, name) in edits.rankr if rid in by_rankr}
    for (gid, name), value in edits.ghl.items():
        m, g = by_ghl.get(gid), g_contacts.get(gid)
        if m is None or g is None or (gid, name) in rankr_edited:
            continue
        r = r_live.get(m.rankr_id)
        if cm.from_ghl(g).get(name) != value or (r is not None and cm.from_rankr(r).get(name) != value):
            problems["edits_lost"].append(f"GHL edit of {name} on {gid}")
    ghl_edited = set(edits.ghl)
    for (rid, name), value in edits.rankr.items():
        m, r = by_rankr.get(rid), r_live.get(rid)
        if m is None or r is None or (m.ghl_id, name) in ghl_edited:
            continue
        g = g_contacts.get(m.ghl_id)
        if cm.from_rankr(r).get(name) != value or (g is not None and cm.from_ghl(g).get(name) != value):
            problems["edits_lost"].append(f"Rankr edit of {name} on {rid}")
    for tid, name in edits.ghl_tasks:
        m, g = t_by_ghl.get(tid), g_tasks.get(tid)
        if m is None or g is None:
            continue
        r = r_tasks_live.get(m.rankr_id)
        if r is not None and tm.from_rankr(r).get(name) != tm.from_ghl(g).get(name):
            problems["edits_lost"].append(f"GHL task edit of {name} on {tid}")

    counts = {
        k: len(problems.get(k, []))
        for k in ("lost", "duplicated_contacts", "orphan_mappings", "field_mismatches", "edits_lost")
    }
    if expect is not None:
        n_maps = list(table.mappings.list_for_location(location_id, Entity.NOTE))
        pairs = {
            "contact": [Pair(m.ghl_id, m.rankr_id) for m in c_maps],
            "task": [Pair(m.ghl_id, m.rankr_id) for m in t_maps],
            "note": [Pair(m.ghl_id, m.rankr_id) for m in n_maps],
        }
        v2_counts, v2_problems = measure_v2(
            ghl, rankr, pairs, expect, mapping=mapping, common_fields=common_fields
        )
        counts.update(v2_counts)
        problems.update(v2_problems)
    return counts, dict(problems)


def audit_trail(stack: Any, location_id: str, problems: dict[str, list[str]], config: ChaosConfig) -> None:
    """The audit entries of the records named in the problems (stderr), to see which flow wrote what."""
    import re

    ids = {i for items in problems.values() for line in items for i in re.findall(r"[A-Za-z0-9_]{20,}", line)}
    table = stack.template.tables["AuditTable"].name
    dynamodb = stack.client("dynamodb")
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"LOC#{location_id}"}},
    )
    for page in pages:
        for item in page["Items"]:
            plain = {k: next(iter(v.values())) for k, v in item.items()}
            if plain.get("ghlId") in ids or plain.get("rankrId") in ids:
                keep = (
                    "at",
                    "flow",
                    "action",
                    "outcome",
                    "direction",
                    "ghlId",
                    "rankrId",
                    "fields",
                    "reason",
                )
                log(config, "audit " + json.dumps({k: plain.get(k) for k in keep}, default=str))


def failure_queue_depth(stack: Any) -> dict[str, int]:
    sqs = stack.client("sqs")
    depths = {}
    for logical_id in FAILURE_QUEUES:
        queue = stack.template.queues.get(logical_id)
        if queue is None:
            continue
        attrs = sqs.get_queue_attributes(
            QueueUrl=queue.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depths[logical_id] = sum(int(v) for v in attrs.values())
    return depths


# -- the run ---------------------------------------------------------------------------------------------
def mapping_pairs(stack: Any, location_id: str) -> dict[str, list[Any]]:
    """The mapping table's pairs per entity (contact, task, note) right now."""
    from rankr_ghl.aws.sync_state import SyncStateTable
    from rankr_ghl.sync.types import Entity
    from rankr_ghl_tools.chaos.convergence import Pair

    table = SyncStateTable(
        stack.template.functions[LEAD_PUSH].env["SYNC_TABLE"], client=stack.client("dynamodb")
    )
    return {
        entity.value: [
            Pair(m.ghl_id, m.rankr_id) for m in table.mappings.list_for_location(location_id, entity)
        ]
        for entity in (Entity.CONTACT, Entity.TASK, Entity.NOTE)
    }


def run_chaos(config: ChaosConfig) -> dict[str, Any]:
    from rankr_ghl.sync.mapping import default_mapping
    from rankr_ghl_tools.chaos.measure import Expectations
    from rankr_ghl_tools.chaos.workload import (
        NotePlan,
        ReconcileRuns,
        child_write_faults,
        children_payload,
        expected_children,
        plan_reverts,
        run_revert,
    )

    rng = random.Random(config.seed)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="rankr-ghl-chaos-") as tmp,
        chaos_stack(config, Path(tmp)) as stack,
    ):
        location_id, account_id = install_location(stack, config)
        switches = apply_search_conditions(stack, config)
        leads = make_leads(stack, account_id, config.leads + config.child_leads + config.late_leads, rng)
        first = leads[: config.leads]
        child_wave = leads[config.leads : config.leads + config.child_leads]
        late = leads[config.leads + config.child_leads :]
        for lead in child_wave + [lead for lead in late if rng.random() < 0.3]:
            lead.children = children_payload(lead.lead_id)
        stack.ghl.admin.reset_stats()
        apply_faults(stack, config)
        log(config, f"stack up ({time.monotonic() - started:.1f}s); pushing {len(first)} leads")

        push = push_leads(stack, location_id, first, config, rng)
        drained = wait_async_invocations(stack, config)
        log(config, f"leads pushed ({time.monotonic() - started:.1f}s): {dict(push.outcomes)}")
        if config.faults:
            child_write_faults(stack.ghl.admin, config.seed)
        child_push = push_leads(stack, location_id, child_wave, config, rng)
        drained = wait_async_invocations(stack, config) and drained
        apply_faults(stack, config)
        log(
            config,
            f"child-failure leads pushed ({time.monotonic() - started:.1f}s): {dict(child_push.outcomes)}",
        )

        expect = Expectations(lead_ids={lead.lead_id for lead in leads})
        earlier = mapping_pairs(stack, location_id)
        for entity, entity_pairs in earlier.items():
            expect.earlier_pairs[entity] += entity_pairs
        pairs = {p.rankr_id: p.ghl_id for p in earlier["contact"]}
        ghl_before = stack.ghl.admin.state(location_id)
        first_ids = [lead.lead_id for lead in first if lead.lead_id in pairs]
        reserved = rng.sample(
            first_ids, min(len(first_ids) // 3, config.reverts + config.quiet_note_contacts)
        )
        reverts = plan_reverts(
            reserved[: config.reverts], {lead.lead_id: lead.fields for lead in first}, config.reverts, rng
        )
        quiet = [pairs[rid] for rid in reserved[config.reverts :]]
        reserved_ghl = {pairs[rid] for rid in reserved}
        contacts = [c for c in ghl_before["contacts"] if c["id"] in set(pairs.values()) - reserved_ghl]
        ghl_ops, deleted = ghl_operations(contacts, config, rng)
        rankr_ops = rankr_operations(
            {r: g for r, g in pairs.items() if g not in reserved_ghl}, deleted, config, rng
        )
        busy = rng.sample(
            sorted({c["id"] for c in contacts} - deleted),
            min(config.busy_note_contacts, len(contacts) - len(deleted)),
        )
        notes = NotePlan(quiet_contacts=quiet, busy_contacts=busy)
        note_ops = notes.operations(rng)
        edits = EditLog()
        runs = ReconcileRuns(runs=config.reconciles_during_traffic)
        by_id = {lead.lead_id: lead for lead in first}
        late_stats: list[PushStats] = []

        def run_ops(ops: list[Any], admin: Any, scope: str) -> None:
            for op in ops:
                op(admin, scope, edits)
                time.sleep(0.002)

        def run_note_ops() -> None:
            for op in note_ops:
                op(stack.ghl.admin, location_id)
                time.sleep(0.01)

        def push_during_reconciles() -> None:
            """Half the late leads once the first reconcile runs, the rest and the reverts once the
            second does (so each full run overlaps lead pushes)."""
            late_rng = random.Random(config.seed + 1)
            half = len(late) // 2
            runs.first_started.wait(timeout=600)
            late_stats.append(push_leads(stack, location_id, late[:half], config, late_rng))
            if config.reconciles_during_traffic > 1:
                runs.second_started.wait(timeout=600)
            late_stats.append(push_leads(stack, location_id, late[half:], config, late_rng))
            caller = RankrCaller(
                stack, location_id, PushStats(), give_up_after_s=config.lead_push_timeout_s * 4 + 60
            )
            for revert in reverts:
                lead = by_id[revert.lead_id]

                def push(values: dict[str, Any], lead: Lead = lead) -> None:
                    caller.push_sync([Lead(lead.lead_id, {**lead.fields, **values}, lead.children)])

                run_revert(revert, stack.rankr.admin, account_id, push)
            after = {c["id"]: c for c in stack.ghl.admin.state(location_id)["contacts"]}
            contact_mapping = default_mapping().contact
            for revert in reverts:
                gid = pairs[revert.lead_id]
                expect.revert_expected[gid] = revert.expected
                if gid in after:
                    expect.revert_snapshot[gid] = dict(contact_mapping.from_ghl(after[gid]))

        log(
            config,
            f"traffic: {len(ghl_ops)} GHL changes, {len(rankr_ops)} Rankr edits, {len(note_ops)} notes, "
            f"{len(late)} late leads, {len(reverts)} reverts, {runs.runs} full reconciles",
        )
        with ThreadPoolExecutor(max_workers=5) as pool:
            done = [
                pool.submit(run_ops, ghl_ops, stack.ghl.admin, location_id),
                pool.submit(run_ops, rankr_ops, stack.rankr.admin, account_id),
                pool.submit(run_note_ops),
                pool.submit(push_during_reconciles),
                pool.submit(runs.run, lambda: run_reconcile(stack, location_id, config)),
            ]
            for future in done:
                future.result()
        drained = wait_async_invocations(stack, config) and drained
        drained = settle(stack, config) and drained
        log(config, f"webhooks settled ({time.monotonic() - started:.1f}s); reconciling")
        recon = run_reconcile(stack, location_id, config)
        drained = settle(stack, config) and drained
        log(config, f"reconciled and drained ({time.monotonic() - started:.1f}s)")

        final_pairs = mapping_pairs(stack, location_id)
        for p in final_pairs["contact"] + expect.earlier_pairs["contact"]:
            if p.rankr_id in expect.lead_ids:
                expect.lead_contacts.setdefault(p.rankr_id, p.ghl_id)
        expect.children = {
            lead.lead_id: expected_children(lead.lead_id, lead.fields.get("tags") or [], lead.children)
            for lead in leads
            if lead.children
        }
        expect.deleted_by_workload = (
            set(deleted)
            | edits.deleted
            | {
                record["id"]
                for kind in ("tasks", "notes")
                for record in ghl_before.get(kind, [])
                if record.get("contactId") in deleted
            }
        )
        rankr_tagged = {pairs.get(rid) for (rid, name) in edits.rankr if name == "tags"}
        expect.tags_replaced = {gid for (gid, name) in edits.ghl if name == "tags"} | {
            g for g in rankr_tagged if g
        }
        counts, problems = measure(stack, location_id, account_id, leads, edits, expect)
        if config.verbose and any(counts.values()):
            audit_trail(stack, location_id, problems, config)
        depths = failure_queue_depth(stack)
        stats = stack.ghl.admin.stats()
        for name, items in problems.items():
            for item in items[:15]:
                log(config, f"{name}: {item}")
        log(config, f"failure queues: {depths}; GHL faults injected: {stats.get('faultsInjected')}")
        permanent = [r.get("error", {}).get("code") for r in push.permanent_failures]
        log(
            config,
            f"rankr faults: {stack.rankr.admin.stats().get('faults')}; push: invocations={push.invocations} "
            f"async={push.async_invocations} function_errors={push.function_errors} "
            f"caller_retries={push.caller_retries} gave_up={len(push.gave_up)} permanent={permanent}",
        )
        all_pushes = [push, child_push, *late_stats]
        return {
            **counts,
            "dlq_messages": sum(depths.values()),
            "ghl_calls": int(stats.get("total", 0)),
            "seconds": round(time.monotonic() - started, 1),
            "search_lag_s": switches.get("search_lag_s"),
            "search_order": switches.get("search_order"),
            "leads": len(leads),
            "ghl_changes": len(ghl_ops),
            "rankr_edits": len(rankr_ops),
            "notes_written": len(notes.written),
            "notes_without_webhook": sum(1 for n in notes.written if not n["webhook"]),
            "reverts": len(reverts),
            "child_leads": len(child_wave),
            "lead_push_crashes": sum(p.function_errors for p in all_pushes),
            "reconciles_during_traffic": len(runs.attempts),
            "reconcile_attempts": recon.get("attempts"),
            "faults": config.faults,
            "drained": drained,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every workload size / 5")
    parser.add_argument("--leads", type=int, help="override the number of leads")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-faults", action="store_true", help="the same workload without any fault")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="one quick pass under pick_variants(--seed) applied to the GHL sandbox (implies --quick)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--log", help="write the functions' log lines to this file")
    args = parser.parse_args(argv)
    config = ChaosConfig(seed=args.seed, faults=not args.no_faults, verbose=not args.quiet, log_path=args.log)
    if args.quick or args.variants:
        config = config.scaled(5)
    if args.leads:
        config.leads = args.leads
    pick: dict[str, Any] | None = None
    if args.variants:
        pick = variant_pick(config, args.seed)
    result = run_chaos(config)
    if pick is not None:
        result = {"variants": pick, **result}
    print(json.dumps(result), flush=True)
    return 0 if all(result[k] == 0 for k in ALL_ZERO_TARGETS) and result["drained"] else 1


def variant_pick(config: ChaosConfig, seed: int) -> dict[str, Any]:
    """`pick_variants(seed)` becomes the run's switches; its search order and lag (when it has lag)
    replace the bench's own, so the pick is what the run ran under."""
    from rankr_ghl_tools.ghl_sandbox import pick_variants

    pick = pick_variants(seed)
    config.variants = pick
    if pick.get("search_order"):
        config.search_order = pick["search_order"]
    if pick.get("search_lag_s"):
        config.search_lag_s = float(pick["search_lag_s"])
        config.search_lag_jitter_s = float(pick.get("search_lag_jitter_s") or 0.0)
    return pick


if __name__ == "__main__":
    sys.exit(main())
