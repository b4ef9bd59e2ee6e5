"""`rankr-ghl dlq list|replay` against the embedded AWS's real (moto) queues from the template."""

from __future__ import annotations

import json
import uuid

import pytest
from rankr_ghl_tools.cli import main
from rankr_ghl_tools.local.aws import EmbeddedAws

pytestmark = pytest.mark.integration


def _drain_group(sqs, url: str, group: str) -> list[dict]:
    found = []
    for _ in range(10):
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"],
            VisibilityTimeout=30,
        ).get("Messages", [])  # fmt: skip
        if not batch:
            break
        for message in batch:
            if message["Attributes"].get("MessageGroupId") == group:
                found.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:  # another test's message: put it back at once
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
    return found


def test_poison_message_reaches_dlq_then_list_and_replay(
    embedded_aws: EmbeddedAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGE", "dev")
    # The CLI's operator ops, answered in this process with ControlFunction's own environment (its
    # queue URLs come from the template).
    for key, value in embedded_aws.template.functions["ControlFunction"].env.items():
        monkeypatch.setenv(key, value)
    sqs = embedded_aws.client("sqs")
    source = embedded_aws.template.queues["WebhookQueue"].url
    dlq = embedded_aws.template.queues["WebhookDLQ"].url
    group = f"loc{uuid.uuid4().hex[:17]}"
    body = json.dumps({"v": 1, "eventType": "ContactUpdate", "event": {"id": "poison"}})
    sqs.send_message(
        QueueUrl=source, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=uuid.uuid4().hex,
        MessageAttributes={"eventType": {"DataType": "String", "StringValue": "ContactUpdate"}},
    )  # fmt: skip

    # A worker failing every time: after maxReceiveCount (5) receives SQS moves it to the DLQ.
    for _ in range(6):
        for message in sqs.receive_message(
            QueueUrl=source, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
        ).get("Messages", []):
            if message["Attributes"].get("MessageGroupId") != group:
                sqs.change_message_visibility(
                    QueueUrl=source, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )

    assert main(["dlq", "list", "--queue", "webhooks", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    mine = [r for r in rows if r["group"] == group]
    assert len(mine) == 1 and mine[0]["eventType"] == "ContactUpdate" and mine[0]["receiveCount"] >= 1
    assert "poison" not in json.dumps(rows)  # bodies are never printed

    assert main(["dlq", "replay", "--queue", "webhooks", "--max", "50"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["replayed"] >= 1 and summary["failed"] == 0
    (replayed,) = _drain_group(sqs, source, group)
    assert replayed["Body"] == body
    assert replayed["MessageAttributes"]["eventType"]["StringValue"] == "ContactUpdate"
    assert _drain_group(sqs, dlq, group) == []
