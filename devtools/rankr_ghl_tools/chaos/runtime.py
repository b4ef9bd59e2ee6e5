"""The chaos bench's local runtime: the stack, the location, the faults and switches, reconcile jobs."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import ChaosConfig, log

REPO_ROOT = Path(__file__).resolve().parents[3]
LEAD_PUSH = "LeadPushFunction"
RECONCILE = "ReconcileFunction"
FAILURE_QUEUES = ("WebhookDLQ", "ReconcileDLQ", "ScheduleDLQ", "LeadPushFailureQueue")
CRASH_ENV = "RANKR_GHL_FAULT_CRASH_AFTER_GHL_WRITE"


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


def run_reconcile(stack: Any, location_id: str, config: ChaosConfig, mode: str = "full") -> dict[str, Any]:
    """One reconcile job (`mode`: full, notes, incremental), handed to the deployed function as its
    queue would hand it."""
    from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob

    from rankr_ghl_tools.local.pumps import lambda_sqs_record

    queue = stack.template.queues["ReconcileQueue"]
    job = ReconcileJob(location_id, Mode(mode))
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
        log(config, f"{mode} reconcile attempt {attempt}: {'failed' if failed else 'done'}")
        if not failed:
            report["attempts"] = attempt
            return report
    report["attempts"] = "gave up"
    return report


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

    from .convergence import Pair

    table = SyncStateTable(
        stack.template.functions[LEAD_PUSH].env["SYNC_TABLE"], client=stack.client("dynamodb")
    )
    return {
        entity.value: [
            Pair(m.ghl_id, m.rankr_id) for m in table.mappings.list_for_location(location_id, entity)
        ]
        for entity in (Entity.CONTACT, Entity.TASK, Entity.NOTE)
    }


def replay_failed_pushes(stack: Any, account_id: str) -> dict[str, Any]:
    """Rankr's part when an async push ends in the lead-push failure queue (Lambda's retries spent):
    its "errors to retry" screen replays it through the control API (`dlq.replay`, queue
    `lead-push`), as a user would. Returns the op's result."""
    import json

    import boto3

    arn = stack.template.outputs.get("ControlAliasArn")
    assert isinstance(arn, str)
    client = boto3.client(
        "lambda",
        endpoint_url=stack.invoke_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    request = {"op": "dlq.replay", "rankrAccountId": account_id, "queue": "lead-push"}
    response = client.invoke(FunctionName=arn, Payload=json.dumps(request).encode())
    answer: dict[str, Any] = json.loads(response["Payload"].read())
    if response.get("FunctionError") or not answer.get("ok"):
        raise RuntimeError(f"dlq.replay failed: {answer}")
    result: dict[str, Any] = answer["result"]
    return result
