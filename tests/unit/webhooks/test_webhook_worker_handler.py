"""functions/webhook_worker: partial batch failures keep FIFO order per message group."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from rankr_ghl import wiring
from rankr_ghl.config import Settings
from rankr_ghl.flows.inbound import InboundResult

REPO_ROOT = Path(__file__).resolve().parents[3]


class Context:
    function_name = "WebhookWorkerFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:WebhookWorkerFunction"
    aws_request_id = "req"


@pytest.fixture
def worker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "webhook_worker_app_unit", REPO_ROOT / "functions/webhook_worker/app.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RecordingInbound:
    def __init__(self, fail_ids: set[str]) -> None:
        self.fail_ids = fail_ids
        self.processed: list[str] = []
        self.failures: list[str] = []

    def process(self, message: dict[str, Any]) -> InboundResult:
        entity_id = message["event"]["id"]
        if entity_id in self.fail_ids:
            raise RuntimeError("GHL unavailable")
        self.processed.append(entity_id)
        return InboundResult("written", "updated")

    def record_failure(self, message: dict[str, Any], error: BaseException) -> None:
        self.failures.append(message["event"]["id"])


def record(message_id: str, group: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": "1", "SentTimestamp": "1"},
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:rankr-ghl-dev-webhooks.fifo",
        "awsRegion": "us-east-1",
    }


def body(entity_id: str, location: str) -> str:
    event = {"type": "ContactUpdate", "locationId": location, "id": entity_id}
    return json.dumps({"v": 1, "eventType": "ContactUpdate", "locationId": location, "event": event})


def test_failed_record_and_later_records_of_its_group_are_reported(worker: ModuleType, monkeypatch) -> None:
    inbound = RecordingInbound(fail_ids={"c2"})
    wiring.install(wiring.Root(Settings(), overrides=wiring.Overrides(inbound_processor=lambda: inbound)))
    event = {
        "Records": [
            record("m1", "locA", body("c1", "locA")),
            record("m2", "locA", body("c2", "locA")),  # fails
            record("m3", "locB", body("c3", "locB")),  # other group: carries on
            record("m4", "locA", body("c4", "locA")),  # same group after a failure: must not overtake
            record("m5", "locB", "not json at all"),  # poison: fails every time -> DLQ after 5 receives
        ]
    }
    response = worker.lambda_handler(event, Context())
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert sorted(failed) == ["m2", "m4", "m5"]
    assert inbound.processed == ["c1", "c3"]
    assert inbound.failures == ["c2"]
