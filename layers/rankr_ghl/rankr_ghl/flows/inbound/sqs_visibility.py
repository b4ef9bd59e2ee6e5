"""`MessageVisibility` on the webhook SQS queue: ChangeMessageVisibilityBatch (10 entries per call)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class SqsMessageVisibility:
    def __init__(self, queue_url: str, client_source: Callable[[], Any]) -> None:
        if not queue_url:
            raise ValueError("WEBHOOK_QUEUE_URL is not set")
        self._queue_url = queue_url
        self._client_source = client_source

    def change(self, visibility_s: dict[str, int]) -> None:
        entries = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
            for index, (handle, seconds) in enumerate(visibility_s.items())
        ]
        client = self._client_source()
        for start in range(0, len(entries), 10):
            response = client.change_message_visibility_batch(
                QueueUrl=self._queue_url, Entries=entries[start : start + 10]
            )
            if response.get("Failed"):
                raise RuntimeError(f"{len(response['Failed'])} visibility changes failed")
