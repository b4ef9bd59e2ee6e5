"""Dead-letter queues for the control API's `dlq.summary` and `dlq.replay` (flows.control.dlq_ops).

SQS cannot filter a queue by tenant: reading a DLQ receives every message, each hidden while it is
looked at. Messages are therefore always released again (visibility 0) unless they were replayed. A
FIFO replay keeps the MessageGroupId (the location: its order and rate budget stay honest) and takes a
fresh MessageDeduplicationId, since the original may still be inside SQS's 5-minute window; the DLQ
copy is deleted only after the re-send succeeded. Bodies never leave this module.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LOOK_VISIBILITY_S = 30
MAX_LOOK = 500


@dataclass(frozen=True)
class DeadLetter:
    kind: str  # webhooks, reconcile or lead-push
    message_id: str
    location_id: str | None
    rankr_account_id: str | None
    event_type: str | None
    receive_count: int
    age_s: int | None
    handle: dict[str, Any]  # the SQS message itself; never shown


@dataclass(frozen=True)
class DeadLetterQueue:
    dlq_url: str
    source_url: str | None  # None: no replay (the lead-push failure records)


def _location_and_account(
    message: dict[str, Any], attributes: dict[str, str | None]
) -> tuple[str | None, str | None]:
    group = message.get("Attributes", {}).get("MessageGroupId")
    location = attributes.get("locationId") or group
    account = None
    try:
        body = json.loads(message.get("Body", ""))
    except ValueError:
        return location, None
    if isinstance(body, dict):
        # A Lambda on-failure record carries the original request: a lead names its account/location.
        payload = body.get("requestPayload", body)
        if isinstance(payload, dict):
            location = location or _text(payload.get("locationId"))
            account = _text(payload.get("rankrAccountId"))
        location = location or _text(body.get("locationId"))
    return location, account


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class SqsDeadLetters:
    def __init__(self, queues: dict[str, DeadLetterQueue], client: Callable[[], Any]) -> None:
        self._queues = queues
        self._client = client

    def kinds(self) -> list[str]:
        return [name for name, queue in self._queues.items() if queue.dlq_url]

    def replayable(self, kind: str) -> bool:
        return self._queues[kind].source_url is not None

    def look(self, kind: str, limit: int = MAX_LOOK) -> list[DeadLetter]:
        """Up to `limit` messages, hidden until `release` or `replay` (never longer than 30 s)."""
        sqs, url = self._client(), self._queues[kind].dlq_url
        found: list[DeadLetter] = []
        empty = 0
        while len(found) < limit and empty < 2:
            batch = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, limit - len(found)),
                VisibilityTimeout=LOOK_VISIBILITY_S,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            empty = 0 if batch else empty + 1
            found += [self._letter(kind, m) for m in batch]
        return found

    def _letter(self, kind: str, message: dict[str, Any]) -> DeadLetter:
        attrs = message.get("Attributes", {})
        user = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
        location, account = _location_and_account(message, user)
        sent_ms = int(attrs.get("SentTimestamp", "0") or 0)
        return DeadLetter(
            kind=kind,
            message_id=message["MessageId"],
            location_id=location,
            rankr_account_id=account,
            event_type=user.get("eventType"),
            receive_count=int(attrs.get("ApproximateReceiveCount", "0") or 0),
            age_s=round(time.time() - sent_ms / 1000) if sent_ms else None,
            handle=message,
        )

    def release(self, letters: list[DeadLetter]) -> None:
        sqs = self._client()
        for letter in letters:
            sqs.change_message_visibility(
                QueueUrl=self._queues[letter.kind].dlq_url,
                ReceiptHandle=letter.handle["ReceiptHandle"],
                VisibilityTimeout=0,
            )

    def replay(self, letter: DeadLetter) -> None:
        queue = self._queues[letter.kind]
        if queue.source_url is None:
            raise ValueError(f"{letter.kind} messages are not replayed through a queue")
        message, sqs = letter.handle, self._client()
        send: dict[str, Any] = {
            "QueueUrl": queue.source_url,
            "MessageBody": message["Body"],
            "MessageAttributes": message.get("MessageAttributes", {}),
        }
        if queue.source_url.endswith(".fifo"):
            send["MessageGroupId"] = message.get("Attributes", {}).get("MessageGroupId") or "replay"
            send["MessageDeduplicationId"] = f"replay-{uuid.uuid4().hex}"
        sqs.send_message(**send)
        sqs.delete_message(QueueUrl=queue.dlq_url, ReceiptHandle=message["ReceiptHandle"])

    def backlog(self) -> dict[str, int]:
        """Messages waiting or in flight on each source queue (all locations: SQS counts per queue)."""
        sqs, counts = self._client(), {}
        for kind, queue in self._queues.items():
            if not queue.source_url:
                continue
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue.source_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            counts[kind] = sum(int(v) for v in attributes.values())
        return counts
