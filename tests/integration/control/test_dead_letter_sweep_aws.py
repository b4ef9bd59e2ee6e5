"""The dead-letter sweep against the embedded AWS's real (moto) queues and table from the template:
per-location counts in SyncStateTable, and a FIFO DLQ holding a message group back makes the count
an honest lower bound (`complete: false`)."""

from __future__ import annotations

import json
import uuid

import pytest
from rankr_ghl.aws.dead_letter_counts import DynamoDeadLetterCounts
from rankr_ghl.aws.dead_letters import DeadLetterQueue, SqsDeadLetters
from rankr_ghl.flows.control.dead_letter_sweep import location_counts, sweep_dead_letters
from rankr_ghl_tools.local.aws import EmbeddedAws

pytestmark = pytest.mark.integration


def _send(sqs, url: str, location: str, n: int) -> None:
    for _ in range(n):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"v": 1, "eventType": "ContactUpdate", "locationId": location}),
            MessageGroupId=location,
            MessageDeduplicationId=uuid.uuid4().hex,
        )


def _remove(sqs, url: str, locations: set[str]) -> None:
    """Delete this test's messages; another test's are put back at once."""
    for _ in range(20):
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=30
        ).get("Messages", [])
        if not batch:
            return
        for message in batch:
            if message["Attributes"].get("MessageGroupId") in locations:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )


def test_the_sweep_counts_per_location_and_marks_a_held_back_fifo_group(embedded_aws: EmbeddedAws) -> None:
    sqs = embedded_aws.client("sqs")
    queues = embedded_aws.template.queues
    dlq, source = queues["WebhookDLQ"].url, queues["WebhookQueue"].url
    table = embedded_aws.template.tables["SyncStateTable"].name
    busy, quiet = f"locBusy{uuid.uuid4().hex[:10]}", f"locQuiet{uuid.uuid4().hex[:10]}"
    dead = SqsDeadLetters({"webhooks": DeadLetterQueue(dlq, source)}, client=lambda: sqs)
    counts = DynamoDeadLetterCounts(table, client=embedded_aws.client("dynamodb"))
    _send(sqs, dlq, busy, 12)  # more of one group than SQS hands out while the first are in flight
    _send(sqs, dlq, quiet, 1)
    try:
        swept = sweep_dead_letters(dead, counts, budget_s=10)
        assert swept["queues"]["webhooks"]["complete"] is False
        held = location_counts(counts, busy, ("webhooks",))
        assert 1 <= held["webhooks"] < 12 and held["complete"] is False and held["countedAt"]
        assert location_counts(counts, quiet, ("webhooks",))["webhooks"] == 1
        # Every message was released at once: all 13 can be received again.
        attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
        assert int(attributes["Attributes"]["ApproximateNumberOfMessages"]) >= 13

        counts.subtract(quiet, "webhooks", 1)
        counts.subtract(quiet, "webhooks", 1)  # never below zero
        assert location_counts(counts, quiet, ("webhooks",))["webhooks"] == 0
    finally:
        _remove(sqs, dlq, {busy, quiet})
    swept = sweep_dead_letters(dead, counts, budget_s=10)
    assert location_counts(counts, busy, ("webhooks",))["webhooks"] == 0  # gone: cleared by the sweep
    assert busy not in counts.previous_locations()
    assert location_counts(counts, f"locNever{uuid.uuid4().hex[:6]}", ("webhooks",)) == {
        "webhooks": 0,
        "countedAt": None,
        "complete": None,
    }
