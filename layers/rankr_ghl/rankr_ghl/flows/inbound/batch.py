"""The webhook worker's batch: each SQS FIFO record is one queued GHL event for `InboundProcessor`.

Partial batch failures: a failed record is reported alone, and the later records of ITS message group
in the batch are reported too (they must not overtake it); other groups carry on. After
maxReceiveCount (5) SQS moves a poison message to the DLQ.

Deadlines: the batch never runs into the Lambda timeout. Each record runs under the invocation's
remaining time less a reserve (`rankr_ghl.deadlines`), which caps every GHL call's timeout and its
rate-limiter wait. A record that no longer fits is not started: it is reported as a batch item
failure (not audited as its own failure) and made visible again at once. A record the rate budget
blocks makes its group visible again when the budget resets, instead of holding the FIFO group for
the queue's whole visibility timeout.

Fairness: a record waits for its location's rate budget in place only briefly
(`MAX_RATE_WAIT_S`). A longer wait means the location's budget is spent; waiting it out would hold
this worker, and the other locations' records behind it in the batch, for up to a whole window. The
record is returned instead (its group comes back when the budget resets) and the batch goes on.
Every return is a receive, and SQS moves a message to the DLQ after maxReceiveCount (5): a record
already received `RECEIVES_BEFORE_WAITING` times waits for the budget in place (within its deadline)
rather than spend another receive.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from rankr_ghl import deadlines
from rankr_ghl.flows.queue_message import parse_queued_message
from rankr_ghl.ghl.errors import GHLRateLimited
from rankr_ghl.observability import logger
from rankr_ghl.ports import Counter, NullCounter

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from rankr_ghl.flows.inbound import InboundProcessor

# Kept back from the Lambda's remaining time: reporting the batch response and the visibility calls.
DEADLINE_RESERVE_S = 2.0
# A record is started only with at least this much time left (a GET plus a Rankr write).
MIN_RECORD_BUDGET_S = 3.0
# The longest a record waits for its location's rate budget in place; longer, it returns to the queue.
# Above the shared budget's booking horizon (0.5 s), so ordinary pacing never returns a record.
MAX_RATE_WAIT_S = 1.0
# From this receive on, a record waits for the budget in place: two receives stay for other failures
# before the queue's maxReceiveCount (5, template.yaml) sends it to the DLQ.
RECEIVES_BEFORE_WAITING = 3
# Added to a rate-budget reset before a blocked group returns: a record back before the reset spends a
# receive for nothing. Kept under a second: SQS visibility is whole seconds, so every second added here
# is a second more per event of a rate-limited location's backlog. (One group per location: no other
# group waits on the same budget, so there is no herd to spread.)
RESET_MARGIN_S = 0.5
METRIC_NOT_REACHED = "WebhookRecordsNotReached"
METRIC_RATE_BLOCKED = "WebhookRecordsRateBlocked"


class RecordNotReached(Exception):
    """The invocation's remaining time no longer fits this record; it is retried, not failed."""


class MessageVisibility(Protocol):
    def change(self, visibility_s: dict[str, int]) -> None:
        """Set each receipt handle's visibility timeout (seconds from now)."""


class InboundBatch:
    def __init__(
        self,
        processor: Callable[[], InboundProcessor],
        *,
        visibility: MessageVisibility | None = None,
        metrics: Counter | None = None,
    ) -> None:
        """`processor`: built on the first record (a batch of unparseable records needs none)."""
        self._processor = processor
        self._visibility = visibility
        self._metrics = metrics or NullCounter()
        # A BatchProcessor for EventType.SQS that keeps FIFO order per message group.
        self._batch = SqsFifoPartialProcessor(skip_group_on_error=True)
        self._deadline_s: float | None = None
        self._retry_in: dict[str, int] = {}  # message group -> seconds until it may run again

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        deadlines.invocation.start(context)
        remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        budget_s = remaining_ms() / 1000 - DEADLINE_RESERVE_S if callable(remaining_ms) else None
        self._retry_in = {}
        try:
            if budget_s is None:
                response = self._process(event, context)
            else:
                with deadlines.deadline_in(budget_s):
                    response = self._process(event, context)
        except BatchProcessingError:
            # Every record failed: the whole batch returns, the unfinished groups when they can run.
            self._release_failed_groups(event, None)
            raise
        self._release_failed_groups(event, response)
        return response

    def _process(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return dict(
            process_partial_response(
                event=event, record_handler=self.handle_record, processor=self._batch, context=context
            )
        )

    def handle_record(self, record: SQSRecord) -> None:
        group = record.attributes.message_group_id or ""
        left = deadlines.remaining_s()
        if left is not None and left < MIN_RECORD_BUDGET_S:
            self._metrics.count(METRIC_NOT_REACHED)
            self._retry_in.setdefault(group, 0)
            raise RecordNotReached(f"{left:.1f}s left; record {record.message_id} not started")
        message = parse_queued_message(record.body)
        logger.set_correlation_id(message.get("correlationId"))
        inbound = self._processor()
        receives = int(record.attributes.approximate_receive_count or 1)
        wait_bound = MAX_RATE_WAIT_S if receives < RECEIVES_BEFORE_WAITING else math.inf
        try:
            with deadlines.limiter_wait_at_most(wait_bound):
                result = inbound.process(message)
        except GHLRateLimited as exc:
            if exc.daily or exc.retry_after_s is None:
                inbound.record_failure(message, exc)
                raise
            delay = math.ceil(exc.retry_after_s + RESET_MARGIN_S)
            self._retry_in[group] = max(self._retry_in.get(group, 0), delay)
            self._metrics.count(METRIC_RATE_BLOCKED)
            logger.info(
                "rate budget blocks this record; its group returns when the budget resets",
                extra={"event_type": message.get("eventType"), "retry_in_s": delay},
            )
            raise
        except Exception as exc:
            inbound.record_failure(message, exc)
            logger.exception(
                "webhook event failed; will be retried",
                extra={"event_type": message.get("eventType"), "message_id": record.message_id},
            )
            raise
        logger.info(
            "webhook event processed",
            extra={
                "event_type": message.get("eventType"),
                "outcome": result.outcome,
                "reason": result.reason,
                "ghl_id": result.ghl_id,
                "rankr_id": result.rankr_id,
            },
        )

    def _release_failed_groups(self, event: dict[str, Any], response: dict[str, Any] | None) -> None:
        """Failed records of a not-reached or rate-blocked group return when they can run again
        (`response` None: every record failed)."""
        if self._visibility is None or not self._retry_in:
            return
        records = event.get("Records", [])
        if response is None:
            failed = {raw.get("messageId") for raw in records}
        else:
            failed = {item.get("itemIdentifier") for item in response.get("batchItemFailures", [])}
        changes: dict[str, int] = {}
        for raw in records:
            group = (raw.get("attributes") or {}).get("MessageGroupId", "")
            if raw.get("messageId") in failed and group in self._retry_in:
                changes[raw["receiptHandle"]] = self._retry_in[group]
        if not changes:
            return
        try:
            self._visibility.change(changes)
        except Exception:
            # The records still come back after the queue's visibility timeout; nothing is lost.
            logger.exception("could not change the visibility of unfinished records")
