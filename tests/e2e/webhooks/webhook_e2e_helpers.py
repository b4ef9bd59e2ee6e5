"""GHL -> Rankr webhooks on the local runtime: GHL sandbox emits signed webhooks to the gateway,
the intake queues them, the SQS pump runs the worker, the Rankr sandbox holds the result."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rankr_ghl.aws.connections_store import DynamoConnectionStore
from rankr_ghl.aws.sync_state import SyncStateTable
from rankr_ghl_tools.local.stack import LocalStack
from rankr_ghl_tools.scenario.webhooks import connect_location

WORKER = "WebhookWorkerFunction"


@dataclass
class WebhookEnv:
    stack: LocalStack

    @property
    def ghl(self) -> Any:
        return self.stack.ghl

    @property
    def rankr(self) -> Any:
        return self.stack.rankr

    @property
    def env(self) -> dict[str, str]:
        return dict(self.stack.template.functions[WORKER].env)  # type: ignore[union-attr]

    def sync_state(self) -> SyncStateTable:
        return SyncStateTable(self.env["SYNC_TABLE"], client=self.stack.client("dynamodb"))

    def connections(self) -> DynamoConnectionStore:
        return DynamoConnectionStore(self.env["CONNECTIONS_TABLE"], client=self.stack.client("dynamodb"))

    def install_location(self) -> tuple[str, str]:
        """A connected location linked to a fresh Rankr account: (location id, account id)."""
        return connect_location(self.stack)

    def settle(self, timeout: float = 30.0) -> None:
        """Every queued GHL delivery sent and every queued message processed."""
        self.ghl.admin.flush(timeout_s=timeout)
        self.stack.drain(timeout=timeout)

    def rankr_state(self, account_id: str) -> dict[str, Any]:
        return dict(self.rankr.admin.state(account_id, include_deleted=True))

    def rankr_writes(self) -> int:
        stats = self.rankr.admin.stats()["requests"]
        return sum(n for key, n in stats.items() if not key.startswith("GET "))

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.1)

    def dlq_depth(self) -> int:
        url = self.stack.template.queues["WebhookDLQ"].url  # type: ignore[union-attr]
        attrs = self.stack.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])


def by_id(records: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]
