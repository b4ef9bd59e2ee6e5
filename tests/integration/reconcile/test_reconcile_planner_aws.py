"""The planner's round trips on the embedded AWS: checkpoints read in BatchGetItem calls of at most
100 keys, jobs sent with SendMessageBatch (10 a call), every job queued exactly once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from counting_client import CountingClient
from rankr_ghl.aws.sync_state import SyncStateTable
from rankr_ghl.connections.models import Connection, ConnectionStatus, UserType
from rankr_ghl.flows.reconcile.jobs import STATE_CHECKPOINT, Mode
from rankr_ghl.flows.reconcile.planner import ReconcilePlanner, SqsJobQueue
from rankr_ghl_tools.local.aws import EmbeddedAws

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


class Connections:
    def __init__(self, items: list[Connection]) -> None:
        self.items = items

    def get(self, connection_id: str) -> Connection | None:
        return next((c for c in self.items if c.connection_id == connection_id), None)

    def list(self) -> Iterator[Connection]:
        return iter(self.items)


@pytest.fixture
def reconcile_queue(embedded_aws: EmbeddedAws) -> Iterator[str]:
    spec = embedded_aws.template.queues["ReconcileQueue"]
    sqs = embedded_aws.client("sqs")
    # A private copy of the template's queue, so tests sharing the session never see each other's messages.
    url: str = sqs.create_queue(
        QueueName=f"itest-{uuid.uuid4().hex[:12]}.fifo",
        Attributes=spec.create_attributes(embedded_aws.physical["ReconcileDLQ"]["Arn"]),
    )["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_the_planner_batches_checkpoint_reads_and_job_sends(
    embedded_aws: EmbeddedAws, reconcile_queue: str
) -> None:
    dynamodb = CountingClient(embedded_aws.client("dynamodb"))
    table = SyncStateTable(embedded_aws.physical["SyncStateTable"]["Ref"], client=dynamodb)  # type: ignore[arg-type]
    prefix = f"locPlan{uuid.uuid4().hex[:8]}"
    locations = [f"{prefix}-{n:03}" for n in range(205)]
    for location in locations[:150]:  # the rest never had a successful reconcile: stale
        table.checkpoints.save(location, STATE_CHECKPOINT, {"lastSuccessAt": NOW.isoformat()})
    dynamodb.calls.clear()
    connections = Connections(
        [
            Connection(
                connection_id=location,
                location_id=location,
                user_type=UserType.LOCATION,
                status=ConnectionStatus.ACTIVE,
                rankr_account_id="acct",
                installed_at=NOW - timedelta(days=1),
            )
            for location in locations
        ]
    )
    sqs = CountingClient(embedded_aws.client("sqs"))
    planner = ReconcilePlanner(connections, table.checkpoints, SqsJobQueue(reconcile_queue, client=sqs))

    result = planner.plan(Mode.INCREMENTAL, run_id="r1")

    assert result.enqueued == locations and result.not_queued == []
    assert sorted(result.stale) == locations[150:]
    assert dynamodb.calls == {"batch_get_item": 3}  # 100 + 100 + 5 keys
    assert sqs.calls == {"send_message_batch": 21}  # 205 jobs, 10 a call
    # The same firing planned again (a Scheduler retry): SQS deduplicates every job.
    planner.plan(Mode.INCREMENTAL, run_id="r1")
    queued = _drain(embedded_aws.client("sqs"), reconcile_queue)
    assert sorted(job["locationId"] for job in queued) == locations
    assert {(job["mode"], job["runId"]) for job in queued} == {
        ("incremental", f"r1-{location}") for location in locations
    }
