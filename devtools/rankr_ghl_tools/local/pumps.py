"""SQS event source mappings, emulated: poll each template SQS source and invoke its function.

- Batch size and batching window come from the template; polling is a 1 s long poll, re-polled at
  once whenever messages arrived (no added latency).
- `ReportBatchItemFailures`: only the successes are deleted; the failed ones (or the whole batch on a
  function error) come back after the queue's visibility timeout (times `time_scale`), and moto's
  redrive moves them to the DLQ once `maxReceiveCount` receives are used up.
- FIFO: SQS (and moto) never hands out a group's messages while a batch of that group is in flight,
  and a batch goes to one invocation in order, so per-group ordering holds with several pollers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from typing import Any

from rankr_ghl_tools.local.invoke import LambdaService, Timers
from rankr_ghl_tools.local.template import REGION, FunctionSpec, QueueSpec, SqsSource

POLL_WAIT_S = 1
MAX_RECEIVE = 10  # SQS's per-call cap


def _message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        entry: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            entry["binaryValue"] = base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode()
        out[name] = entry
    return out


def lambda_sqs_record(message: dict[str, Any], queue: QueueSpec) -> dict[str, Any]:
    """One SQS message as Lambda's SQS event record."""
    body = message["Body"]
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": _message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.arn,
        "awsRegion": REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


class SqsPump:
    """One event source mapping: `pollers` threads receive from the queue and invoke the function."""

    def __init__(
        self,
        function: FunctionSpec,
        source: SqsSource,
        queue: QueueSpec,
        *,
        service: LambdaService,
        sqs_client: Any,
        timers: Timers,
        pollers: int,
        time_scale: float = 1.0,
    ) -> None:
        self.function = function
        self.source = source
        self.queue = queue
        self.service = service
        self.sqs = sqs_client
        self.timers = timers
        self.pollers = max(1, pollers)
        self.time_scale = time_scale
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.in_flight = 0  # messages received and not yet settled
        self.batches = 0
        self.messages_succeeded = 0
        self.messages_failed = 0
        self.batch_timeouts = 0  # invocations that ran out of the function's timeout
        # Seconds from a message's first receive to its success, for messages received more than once
        # (held back by a failure, a rate-blocked location or a batch not reached in time).
        self.blocked_s: list[float] = []
        self._first_received: dict[str, float] = {}

    @property
    def name(self) -> str:
        return f"{self.function.logical_id}.{self.source.event_name}"

    def start(self) -> SqsPump:
        for index in range(self.pollers):
            thread = threading.Thread(target=self._poll_loop, name=f"pump-{self.name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=POLL_WAIT_S + 5)

    def _receive(self, max_messages: int, wait_s: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue.url,
            MaxNumberOfMessages=max(1, min(MAX_RECEIVE, max_messages)),
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _collect_batch(self) -> list[dict[str, Any]]:
        messages = self._receive(self.source.batch_size, POLL_WAIT_S)
        if not messages:
            return []
        window = self.source.batching_window_s
        deadline = time.monotonic() + window
        while len(messages) < self.source.batch_size and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if window <= 0 and len(messages) % MAX_RECEIVE:
                break  # no window: take what one receive gave, unless it was a full page
            if window > 0 and remaining <= 0:
                break
            more = self._receive(self.source.batch_size - len(messages), 0)
            if not more:
                if window <= 0:
                    break
                time.sleep(min(0.05, max(0.0, remaining)))
                continue
            messages.extend(more)
        return messages

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._collect_batch()
            except Exception:
                if self._stop.is_set():
                    return
                time.sleep(0.5)  # the embedded AWS is going away or hiccuped; poll again
                continue
            if messages:
                with self._lock:
                    self.in_flight += len(messages)
                try:
                    self._process(messages)
                finally:
                    with self._lock:
                        self.in_flight -= len(messages)

    def _process(self, messages: list[dict[str, Any]]) -> None:
        records = [lambda_sqs_record(m, self.queue) for m in messages]
        received = time.monotonic()
        with self._lock:
            for message in messages:
                self._first_received.setdefault(message["MessageId"], received)
        result = self.service.invoke(self.function.logical_id, {"Records": records})
        self.batches += 1
        if result.error_type == "Sandbox.Timedout":
            with self._lock:
                self.batch_timeouts += 1
        failed_ids = self._failed_ids(result.ok, result.json() if result.ok else None, records)
        succeeded = [m for m in messages if m["MessageId"] not in failed_ids]
        failed = [m for m in messages if m["MessageId"] in failed_ids]
        for start in range(0, len(succeeded), MAX_RECEIVE):
            chunk = succeeded[start : start + MAX_RECEIVE]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        done = time.monotonic()
        with self._lock:
            self.messages_succeeded += len(succeeded)
            self.messages_failed += len(failed)
            for message in succeeded:
                first = self._first_received.pop(message["MessageId"], done)
                if int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1")) > 1:
                    self.blocked_s.append(done - first)
        if failed and self.time_scale != 1.0:
            # Failed messages reappear after the (scaled) visibility timeout, as Lambda leaves them.
            delay = self.queue.visibility_timeout_s * self.time_scale
            handles = [m["ReceiptHandle"] for m in failed]
            self.timers.call_later(delay, lambda: self._make_visible(handles))

    def _make_visible(self, handles: list[str]) -> None:
        for handle in handles:
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue.url, ReceiptHandle=handle, VisibilityTimeout=0
                )
            except Exception:  # noqa: S112 - already redriven, deleted or expired: nothing to release
                continue

    def _failed_ids(self, ok: bool, response: Any, records: list[dict[str, Any]]) -> set[str]:
        all_ids = {r["messageId"] for r in records}
        if not ok:
            return all_ids
        if not self.source.report_batch_item_failures:
            return set()
        if not isinstance(response, dict) or not response.get("batchItemFailures"):
            return set()
        failures = response["batchItemFailures"]
        ids: set[str] = set()
        for failure in failures if isinstance(failures, list) else []:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not identifier or identifier not in all_ids:
                return all_ids  # Lambda treats a malformed report as a failure of the whole batch
            ids.add(identifier)
        return ids


def queue_depth(sqs_client: Any, queue: QueueSpec) -> int:
    attrs = sqs_client.get_queue_attributes(
        QueueUrl=queue.url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(v) for v in attrs.values())


def dump_queue(sqs_client: Any, queue: QueueSpec, *, max_messages: int = 1000) -> list[dict[str, Any]]:
    """Read (without deleting) the visible messages of a queue, e.g. a DLQ, for inspection."""
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < max_messages:
        batch = sqs_client.receive_message(
            QueueUrl=queue.url, MaxNumberOfMessages=10, VisibilityTimeout=5, AttributeNames=["All"]
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen[message["MessageId"]] = message
    handles = [m["ReceiptHandle"] for m in seen.values()]
    for handle in handles:
        try:
            sqs_client.change_message_visibility(
                QueueUrl=queue.url, ReceiptHandle=handle, VisibilityTimeout=0
            )
        except Exception:  # noqa: S112 - gone meanwhile: nothing to release
            continue
    return [{**m, "Body": _maybe_json(m["Body"])} for m in seen.values()]


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def deadline_figures(
    pumps: list[SqsPump], function_logical_id: str = "WebhookWorkerFunction"
) -> dict[str, Any]:
    """For the benches: the function's batches that ran out of their timeout (target 0), and how long
    its records held back (a failure, a rate-blocked location, a batch deadline) waited from their
    first receive to their success."""
    mine = [pump for pump in pumps if pump.function.logical_id == function_logical_id]
    blocked = sorted(seconds for pump in mine for seconds in pump.blocked_s)
    p95 = blocked[min(len(blocked) - 1, int(len(blocked) * 0.95))] if blocked else 0.0
    return {
        "batch_timeouts": sum(pump.batch_timeouts for pump in mine),
        "records_blocked": len(blocked),
        "records_blocked_s_p95": round(p95, 2),
    }
