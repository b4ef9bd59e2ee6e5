"""SQS event source mappings: DLQ after maxReceiveCount, partial batch failures, FIFO ordering."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from rankr_ghl_tools.local.stack import LocalStack

pytestmark = pytest.mark.integration


def _deliveries(stack: LocalStack, key: str) -> list[dict]:
    items = stack.aws.client("dynamodb").query(
        TableName=stack.template.tables["ResultsTable"].name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"sqs#{key}"}},
        ConsistentRead=True,
    )["Items"]
    return items


def _dlq_bodies(stack: LocalStack, dlq: str, timeout: float = 20) -> list[dict]:
    sqs = stack.aws.client("sqs")
    url = stack.template.queues[dlq].url
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = int(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        if count:
            break
        time.sleep(0.1)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


def test_message_failing_twice_lands_in_dlq(stack: LocalStack) -> None:
    assert stack.template.queues["WorkQueue"].max_receive_count == 2
    key = uuid.uuid4().hex
    stack.aws.client("sqs").send_message(
        QueueUrl=stack.template.queues["WorkQueue"].url, MessageBody=json.dumps({"id": key, "fail": True})
    )
    dead = _dlq_bodies(stack, "WorkDLQ")
    assert [b["id"] for b in dead] == [key]
    stack.drain(timeout=20)
    receive_counts = sorted(item["sk"]["S"].rsplit("#", 1)[1] for item in _deliveries(stack, key))
    assert receive_counts == ["1", "2"]  # delivered exactly twice, then redriven


def test_partial_batch_failure_retries_only_the_failed_record(stack: LocalStack) -> None:
    keys = [uuid.uuid4().hex for _ in range(3)]
    stack.aws.client("sqs").send_message_batch(
        QueueUrl=stack.template.queues["WorkQueue"].url,
        Entries=[
            {"Id": str(i), "MessageBody": json.dumps({"id": key, "fail": i == 1})}
            for i, key in enumerate(keys)
        ],
    )
    dead = _dlq_bodies(stack, "WorkDLQ")
    assert [b["id"] for b in dead] == [keys[1]]
    stack.drain(timeout=20)
    assert len(_deliveries(stack, keys[0])) == 1
    assert len(_deliveries(stack, keys[1])) == 2
    assert len(_deliveries(stack, keys[2])) == 1


def test_fifo_groups_keep_their_order(stack: LocalStack) -> None:
    run = uuid.uuid4().hex[:8]
    sqs = stack.aws.client("sqs")
    url = stack.template.queues["OrderedQueue"].url
    for seq in range(12):
        group = f"{run}-g{seq % 2}"
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"id": f"{run}-{seq}", "seq": seq}),
            MessageGroupId=group,
            MessageDeduplicationId=f"{run}-{seq}",
        )
    stack.drain(timeout=30)
    seen: list[tuple[str, int, str]] = []
    for seq in range(12):
        items = _deliveries(stack, f"{run}-{seq}")
        assert len(items) == 1, f"message {seq} delivered {len(items)} times"
        seen.append((items[0]["group"]["S"], seq, items[0]["at"]["N"]))
    for group in {g for g, _, _ in seen}:
        in_group = sorted((int(at), seq) for g, seq, at in seen if g == group)
        assert [seq for _, seq in in_group] == sorted(seq for _, seq in in_group)
