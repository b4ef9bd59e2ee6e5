"""Dead-letter queues for the control API's `dlq.summary` and `dlq.replay` (flows.control.dlq_ops).

SQS cannot filter a queue by tenant: reading a DLQ receives every message, each hidden while it is
looked at. Messages are therefore always released again (visibility 0) unless they were replayed. A
FIFO replay keeps the MessageGroupId (the location: its order and rate budget stay honest) and takes a
fresh MessageDeduplicationId, since the original may still be inside SQS's 5-minute window; the DLQ
copy is deleted only after the re-send succeeded. Bodies never leave this module.

A lead-push failure is Lambda's on-failure record of an async invocation; its replay invokes lead
push's `async` alias again (InvocationType=Event) with the stored request payload, marked as a
redelivery, so a lead that still fails is retried by Lambda and lands here again instead of being lost.
Leads are idempotent by `leadId`: one that succeeded meanwhile is not written twice, and one whose
payload is older than the lead in Rankr (changed since, and perhaps carried to GHL by the sync) is
`superseded`: its newer fields are kept, and only the children its first push still owes are written
(docs/lead-push.md, "Late and replayed pushes").
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The lead-push request key of a replayed request (rankr_ghl.flows.lead_push.request.REDELIVERY_KEY;
# this adapter does not import the flow).
REDELIVERY_KEY = "redelivery"

LOOK_VISIBILITY_S = 30
MAX_LOOK = 500
MAX_COUNT = 5000  # the dead-letter sweep's bound per queue; beyond it a count is marked incomplete


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
    # A lead-push record: (rankrAccountId, locationId) of each lead, request-level defaults applied.
    # None for queue messages, which belong to one location.
    lead_targets: tuple[tuple[str | None, str | None], ...] | None = None


@dataclass(frozen=True)
class DeadLetterQueue:
    dlq_url: str
    source_url: str | None = None  # replay: send the message back to this queue
    replay_function: str | None = None  # replay: invoke this function alias (Event) with the payload


def _queue_location(message: dict[str, Any], attributes: dict[str, str | None]) -> str | None:
    """The location of a queue message: its attribute, its message group, or its body's locationId."""
    location = attributes.get("locationId") or message.get("Attributes", {}).get("MessageGroupId")
    if location:
        return location
    try:
        body = json.loads(message.get("Body", ""))
    except ValueError:
        return None
    return _text(body.get("locationId")) if isinstance(body, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _request_payload(message: dict[str, Any]) -> Any:
    try:
        body = json.loads(message.get("Body", ""))
    except ValueError:
        return None
    return body.get("requestPayload") if isinstance(body, dict) else None


def lead_targets(payload: Any) -> tuple[tuple[str | None, str | None], ...] | None:
    """(rankrAccountId, locationId) of each lead of a lead-push payload, as lead push reads them: the
    request's `locationId`/`rankrAccountId` fill leads naming neither, and the request's account also
    binds leads naming only a location. None when the payload is not a lead-push request."""
    if not isinstance(payload, dict):
        return None
    if "leads" not in payload:
        return ((_text(payload.get("rankrAccountId")), _text(payload.get("locationId"))),)
    leads = payload.get("leads")
    if not isinstance(leads, list) or not leads:
        return None
    account, location = _text(payload.get("rankrAccountId")), _text(payload.get("locationId"))
    targets: list[tuple[str | None, str | None]] = []
    for lead in leads:
        if not isinstance(lead, dict):
            return None
        lead_account, lead_location = _text(lead.get("rankrAccountId")), _text(lead.get("locationId"))
        if lead_account is None and lead_location is None:
            lead_account, lead_location = account, location
        elif lead_account is None:
            lead_account = account
        targets.append((lead_account, lead_location))
    return tuple(targets)


def _single(targets: tuple[tuple[str | None, str | None], ...], index: int) -> str | None:
    """The one account (index 0) or location (1) every lead names; None when they differ or omit it."""
    named = {target[index] for target in targets}
    return named.pop() if len(named) == 1 else None


class SqsDeadLetters:
    def __init__(
        self,
        queues: dict[str, DeadLetterQueue],
        client: Callable[[], Any],
        lambda_client: Callable[[], Any] | None = None,
    ) -> None:
        self._queues = queues
        self._client = client
        self._lambda_client = lambda_client

    def kinds(self) -> list[str]:
        return [name for name, queue in self._queues.items() if queue.dlq_url]

    def replayable(self, kind: str) -> bool:
        queue = self._queues[kind]
        return bool(queue.source_url or queue.replay_function)

    def look(self, kind: str, limit: int = MAX_LOOK, until: float | None = None) -> list[DeadLetter]:
        """Up to `limit` messages, hidden until `release` or `replay` (never longer than 30 s).
        `until`: a time.monotonic() after which no more are received."""
        sqs, url = self._client(), self._queues[kind].dlq_url
        found: list[DeadLetter] = []
        empty = 0
        while len(found) < limit and empty < 2 and (until is None or time.monotonic() < until):
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

    def count_all(self, kind: str, until: float) -> tuple[list[DeadLetter], bool]:
        """Every message of the queue, looked at and released again at once, and whether that was
        all of them: SQS's count before the look was reached (a FIFO queue holds back a message
        group's later messages while its first ones are looked at; a concurrent replay hides some)."""
        attributes = self._client().get_queue_attributes(
            QueueUrl=self._queues[kind].dlq_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        waiting = sum(int(v) for v in attributes.values())
        letters = self.look(kind, limit=MAX_COUNT, until=until)
        self.release(letters)
        return letters, len(letters) >= waiting

    def _letter(self, kind: str, message: dict[str, Any]) -> DeadLetter:
        attrs = message.get("Attributes", {})
        user = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
        targets = lead_targets(_request_payload(message))  # None but for a Lambda on-failure record
        if targets is None:
            location, account = _queue_location(message, user), None
        else:
            location, account = _single(targets, 1), _single(targets, 0)
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
            lead_targets=targets,
        )

    def release(self, letters: list[DeadLetter]) -> None:
        sqs = self._client()
        for kind in {letter.kind for letter in letters}:
            mine = [letter for letter in letters if letter.kind == kind]
            for start in range(0, len(mine), 10):  # SQS's batch limit
                sqs.change_message_visibility_batch(
                    QueueUrl=self._queues[kind].dlq_url,
                    Entries=[
                        {
                            "Id": str(i),
                            "ReceiptHandle": letter.handle["ReceiptHandle"],
                            "VisibilityTimeout": 0,
                        }
                        for i, letter in enumerate(mine[start : start + 10])
                    ],
                )

    def replay(self, letter: DeadLetter) -> None:
        queue = self._queues[letter.kind]
        if queue.replay_function:
            self._invoke_again(queue, letter)
            return
        if queue.source_url is None:
            raise ValueError(f"{letter.kind} messages have no replay target")
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

    def _invoke_again(self, queue: DeadLetterQueue, letter: DeadLetter) -> None:
        """Invoke the function alias again with the record's request payload; the record is deleted
        only once Lambda accepted the event (202)."""
        payload = _request_payload(letter.handle)
        if not isinstance(payload, dict) or self._lambda_client is None:
            raise ValueError(f"{letter.kind} message {letter.message_id} holds no request payload")
        answer = self._lambda_client().invoke(
            FunctionName=queue.replay_function,
            InvocationType="Event",
            Payload=json.dumps({**payload, REDELIVERY_KEY: True}).encode(),
        )
        if answer.get("StatusCode") != 202:
            raise RuntimeError(f"Lambda did not accept the replay (status {answer.get('StatusCode')})")
        self._client().delete_message(QueueUrl=queue.dlq_url, ReceiptHandle=letter.handle["ReceiptHandle"])

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
