"""`EventQueue` on the webhook SQS FIFO queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rankr_ghl.flows.intake.model import (
    QueuedWebhook,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    # Only the intake verifies (and so imports cryptography); the worker imports this module too.


class SqsEventQueue:
    """`EventQueue` on an SQS FIFO queue (client created lazily, once)."""

    def __init__(
        self,
        queue_url: str,
        client: SQSClient | None = None,
        client_source: Callable[[], SQSClient] | None = None,
    ) -> None:
        if not queue_url:
            raise ValueError("WEBHOOK_QUEUE_URL is not set")
        self._queue_url = queue_url
        self._client = client
        self._client_source = client_source

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            if self._client_source is not None:
                self._client = self._client_source()
            else:
                import boto3

                self._client = boto3.client("sqs")
        return self._client

    def send(self, message: QueuedWebhook) -> str:
        response = self.client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=message.body,
            MessageGroupId=message.group_id,
            MessageDeduplicationId=message.deduplication_id,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in message.attributes.items()
            },
        )
        return response["MessageId"]
