"""Replay lead-push invocations that Lambda gave up on (the on-failure destination queue).

An async (`Event`) invocation of lead push that still fails after Lambda's two retries lands in
`rankr-ghl-<stage>-lead-push-failures` as a destination record (`requestPayload` = the original
event). Replaying re-invokes the function SYNCHRONOUSLY with that payload, so the per-lead results
come back: the message is deleted only when no lead failed retryably (leads rejected as invalid
cannot succeed by replaying and are reported). Leads that already succeeded replay from the
idempotency store without calling GHL.

Used by `rankr-ghl dlq replay --queue lead-push` (rankr_ghl_tools.commands.dlq).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

QUEUE_KEY = "lead-push"
RECEIVE_VISIBILITY_S = 120  # a failed replay stays invisible for the rest of this run


def lead_push_failure_queue_name(stage: str) -> str:
    """The template's LeadPushFailureQueue name for a stage."""
    return f"rankr-ghl-{stage}-lead-push-failures"


@dataclass
class ReplayedMessage:
    message_id: str
    request_id: str | None
    deleted: bool
    leads: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    error: str | None = None  # why the message stays in the queue
    permanent_failures: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReplayReport:
    messages: list[ReplayedMessage] = field(default_factory=list)
    dry_run: bool = False

    @property
    def replayed(self) -> int:
        return len(self.messages)

    @property
    def deleted(self) -> int:
        return sum(1 for m in self.messages if m.deleted)

    @property
    def remaining(self) -> int:
        return sum(1 for m in self.messages if not m.deleted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "queue": QUEUE_KEY,
            "dryRun": self.dry_run,
            "replayed": self.replayed,
            "deleted": self.deleted,
            "remaining": self.remaining,
            "messages": [
                {
                    "messageId": m.message_id,
                    "requestId": m.request_id,
                    "deleted": m.deleted,
                    "leads": m.leads,
                    "outcomes": m.outcomes,
                    "error": m.error,
                    "permanentFailures": m.permanent_failures,
                }
                for m in self.messages
            ],
        }


def original_event(record: dict[str, Any]) -> Any:
    """The invoke payload of a destination record, made synchronous for the replay and marked as a
    redelivery: lead push then checks each mapped lead against the lead as Rankr holds it now, so an
    old payload never overwrites a newer state (its lead answers `superseded`)."""
    payload = record.get("requestPayload")
    if isinstance(payload, dict):
        payload = {k: v for k, v in payload.items() if k != "invocationType"} | {"redelivery": True}
    return payload


SYNC_ALIAS = "live"  # LeadPushFunction's AutoPublishAlias: answers per-lead results
ASYNC_ALIAS = "async"  # LeadPushAsyncAlias: raises on retryable failures


def function_of(record: dict[str, Any]) -> str | None:
    """The function the record came from; an event of the async alias is replayed through the sync
    alias, so that its per-lead results come back."""
    arn = (record.get("requestContext") or {}).get("functionArn")
    if not isinstance(arn, str):
        return None
    arn = arn.removesuffix(":$LATEST")
    if arn.endswith(f":{ASYNC_ALIAS}"):
        return arn.removesuffix(ASYNC_ALIAS) + SYNC_ALIAS
    return arn


def replay_lead_push_failures(
    *,
    sqs: Any,
    lambda_client: Any,
    queue_url: str,
    function_name: str | None = None,
    max_messages: int = 100,
    dry_run: bool = False,
    progress: Callable[[ReplayedMessage], None] | None = None,
) -> ReplayReport:
    """Re-invoke up to `max_messages` failed lead-push events; delete each one that now succeeds.

    `function_name`: what to invoke (the alias ARN output `LeadPushAliasArn`); default the function
    ARN recorded in the destination record. `dry_run`: only read and report (messages stay).
    """
    report = ReplayReport(dry_run=dry_run)
    seen: set[str] = set()
    while report.replayed < max_messages:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, max_messages - report.replayed),
            VisibilityTimeout=RECEIVE_VISIBILITY_S,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            outcome = _replay_one(message, lambda_client, function_name, dry_run)
            if outcome.deleted:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            elif dry_run:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            report.messages.append(outcome)
            if progress is not None:
                progress(outcome)
    return report


def _replay_one(
    message: dict[str, Any], lambda_client: Any, function_name: str | None, dry_run: bool
) -> ReplayedMessage:
    try:
        record = json.loads(message["Body"])
    except ValueError:
        return ReplayedMessage(message["MessageId"], None, False, error="message body is not JSON")
    request_id = (record.get("requestContext") or {}).get("requestId")
    result = ReplayedMessage(message["MessageId"], request_id, False)
    target = function_name or function_of(record)
    event = original_event(record)
    if target is None or event is None:
        result.error = "not a Lambda destination record (no functionArn/requestPayload)"
        return result
    if isinstance(event, dict):
        result.leads = len(event["leads"]) if isinstance(event.get("leads"), list) else 1
    if dry_run:
        result.error = "dry run"
        return result
    try:
        response = lambda_client.invoke(
            FunctionName=target, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
    except Exception as exc:  # the invoke itself failed: keep the message
        result.error = f"invoke failed: {type(exc).__name__}: {exc}"
        return result
    raw = response["Payload"].read()
    body = json.loads(raw) if raw else None
    if response.get("FunctionError"):
        message_text = body.get("errorMessage") if isinstance(body, dict) else None
        result.error = f"function error: {message_text or response['FunctionError']}"
        return result
    if not isinstance(body, dict):
        result.error = "unexpected response"
        return result
    if "error" in body and not body.get("results"):
        # The request itself is invalid: replaying can never fix it; it is reported and dropped.
        result.permanent_failures.append({"leadId": None, "error": body["error"]})
        result.deleted = True
        return result
    results = body.get("results") or []
    for item in results:
        outcome = str(item.get("outcome"))
        result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
    retryable = [
        r for r in results if r.get("outcome") == "failed" and (r.get("error") or {}).get("retryable")
    ]
    result.permanent_failures = [
        r for r in results if r.get("outcome") == "failed" and not (r.get("error") or {}).get("retryable")
    ]
    if retryable:
        result.error = f"{len(retryable)} lead(s) still fail retryably"
        return result
    result.deleted = True
    return result
