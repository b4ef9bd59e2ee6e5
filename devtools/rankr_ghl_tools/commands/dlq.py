"""`rankr-ghl dlq list|replay`: inspect and re-drive dead-lettered messages.

Queues (names from template.yaml, per stage):
- webhooks:  rankr-ghl-<stage>-webhooks-dlq.fifo  -> replay to rankr-ghl-<stage>-webhooks.fifo
- reconcile: rankr-ghl-<stage>-reconcile-dlq.fifo -> replay to rankr-ghl-<stage>-reconcile.fifo
- lead-push: rankr-ghl-<stage>-lead-push-failures  -> replay = invoke the lead-push function again
  (async) with the original request payload (Lambda's on-failure destination record).

A FIFO replay keeps the MessageGroupId (the location: its rate budget and order stay honest) and
uses a fresh MessageDeduplicationId, since the original may still be inside SQS's 5-minute window.
A message is deleted from the DLQ only after it was re-sent. Bodies are never printed (they carry
PII); `list` shows ids, group, event type, receive count and age.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

QUEUES = ("webhooks", "reconcile", "lead-push")


@dataclass(frozen=True)
class QueuePair:
    dlq: str
    source: str | None  # None: lead push (re-invoke instead)


def queue_names(kind: str, stage: str) -> tuple[str, str | None]:
    if kind == "webhooks":
        return f"rankr-ghl-{stage}-webhooks-dlq.fifo", f"rankr-ghl-{stage}-webhooks.fifo"
    if kind == "reconcile":
        return f"rankr-ghl-{stage}-reconcile-dlq.fifo", f"rankr-ghl-{stage}-reconcile.fifo"
    if kind == "lead-push":
        return f"rankr-ghl-{stage}-lead-push-failures", None
    raise ValueError(f"unknown queue {kind!r} (one of {', '.join(QUEUES)})")


def resolve(sqs: Any, kind: str, stage: str) -> QueuePair:
    dlq_name, source_name = queue_names(kind, stage)
    dlq = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
    source = sqs.get_queue_url(QueueName=source_name)["QueueUrl"] if source_name else None
    return QueuePair(dlq, source)


def iter_messages(sqs: Any, queue_url: str, *, limit: int, visibility_s: int) -> Iterator[dict[str, Any]]:
    """Receive up to `limit` messages (each hidden for `visibility_s` while we look at it)."""
    seen = 0
    empty = 0
    while seen < limit and empty < 2:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, limit - seen),
            VisibilityTimeout=visibility_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            empty += 1
            continue
        empty = 0
        for message in batch:
            seen += 1
            yield message


def summarize(message: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    attrs = message.get("Attributes", {})
    user = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
    sent_ms = int(attrs.get("SentTimestamp", "0") or 0)
    event_type = user.get("eventType")
    if event_type is None:
        try:
            body = json.loads(message.get("Body", ""))
            event_type = body.get("eventType") or body.get("requestContext", {}).get("condition")
        except (ValueError, AttributeError):
            event_type = None
    return {
        "messageId": message["MessageId"],
        "group": attrs.get("MessageGroupId"),
        "eventType": event_type,
        "locationId": user.get("locationId"),
        "correlationId": user.get("correlationId"),
        "receiveCount": int(attrs.get("ApproximateReceiveCount", "0") or 0),
        "ageSeconds": round(((now or time.time()) * 1000 - sent_ms) / 1000) if sent_ms else None,
    }


def replay_message(
    sqs: Any, pair: QueuePair, message: dict[str, Any], invoke: Callable[[dict[str, Any]], None] | None
) -> None:
    """Re-send one DLQ message to its source (or re-invoke lead push), then delete it from the DLQ."""
    if pair.source is None:
        if invoke is None:
            raise RuntimeError("lead-push replay needs the function name (--function or LEAD_PUSH_FUNCTION)")
        record = json.loads(message["Body"])
        payload = record.get("requestPayload", record)
        invoke(payload)
    else:
        attrs = message.get("Attributes", {})
        kwargs: dict[str, Any] = {
            "QueueUrl": pair.source,
            "MessageBody": message["Body"],
            "MessageAttributes": message.get("MessageAttributes", {}),
        }
        if pair.source.endswith(".fifo"):
            kwargs["MessageGroupId"] = attrs.get("MessageGroupId") or "replay"
            kwargs["MessageDeduplicationId"] = f"replay-{uuid.uuid4().hex}"
        sqs.send_message(**kwargs)
    sqs.delete_message(QueueUrl=pair.dlq, ReceiptHandle=message["ReceiptHandle"])


# ------------------------------------------------------------------------------------------------ CLI
def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("dlq", help="list and re-drive dead-lettered messages")
    sub = parser.add_subparsers(dest="dlq_command", required=True)
    for name, help_text, handler in (
        ("list", "show DLQ messages (ids, group, type, receive count; never bodies)", cmd_list),
        ("replay", "send DLQ messages back to their source queue (or re-invoke lead push)", cmd_replay),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--queue", choices=QUEUES, default="webhooks")
        p.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
        p.add_argument("--max", type=int, default=100, help="at most this many messages")
        if name == "list":
            p.add_argument("--json", action="store_true", help="one JSON object per line")
        else:
            p.add_argument(
                "--function", default=os.environ.get("LEAD_PUSH_FUNCTION"), help="lead-push function"
            )
        p.set_defaults(handler=handler)


def _sqs() -> Any:
    import boto3

    return boto3.client("sqs")


def cmd_list(args: argparse.Namespace) -> int:
    sqs = _sqs()
    try:
        pair = resolve(sqs, args.queue, args.stage)
    except Exception as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    messages = list(iter_messages(sqs, pair.dlq, limit=args.max, visibility_s=30))
    rows = [summarize(m) for m in messages]
    for message in messages:  # listing must not hold messages back from a replay
        sqs.change_message_visibility(
            QueueUrl=pair.dlq, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    for row in rows:
        if args.json:
            print(json.dumps(row))
        else:
            print(
                f"{row['messageId']}  group={row['group']}  type={row['eventType']}  "
                f"receives={row['receiveCount']}  age={row['ageSeconds']}s"
            )
    if not args.json:
        print(f"{len(rows)} message(s) in {args.queue} DLQ")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    sqs = _sqs()
    try:
        pair = resolve(sqs, args.queue, args.stage)
    except Exception as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    invoke = None
    if pair.source is None:
        if not args.function:
            print("error: lead-push replay needs --function (or LEAD_PUSH_FUNCTION)", file=sys.stderr)
            return 1
        import boto3

        lambda_client = boto3.client("lambda")

        def invoke(payload: dict[str, Any]) -> None:
            lambda_client.invoke(
                FunctionName=args.function, InvocationType="Event", Payload=json.dumps(payload).encode()
            )

    replayed = failed = 0
    for message in iter_messages(sqs, pair.dlq, limit=args.max, visibility_s=60):
        try:
            replay_message(sqs, pair, message, invoke)
            replayed += 1
        except Exception as exc:
            failed += 1
            print(f"error: {message['MessageId']}: {exc}", file=sys.stderr)
    print(json.dumps({"queue": args.queue, "replayed": replayed, "failed": failed}))
    return 0 if failed == 0 else 1
