"""The webhook worker's batch: each SQS FIFO record is one queued GHL event for `InboundProcessor`.

Partial batch failures: a failed record is reported alone, and the later records of ITS message group
in the batch are reported too (they must not overtake it); other groups carry on. After
maxReceiveCount (5) SQS moves a poison message to the DLQ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

from rankr_ghl.flows.queue_message import parse_queued_message
from rankr_ghl.invocation import invocation_deadline
from rankr_ghl.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from rankr_ghl.flows.inbound import InboundProcessor


class InboundBatch:
    def __init__(self, processor: Callable[[], InboundProcessor]) -> None:
        """`processor`: built on the first record (a batch of unparseable records needs none)."""
        self._processor = processor
        # A BatchProcessor for EventType.SQS that keeps FIFO order per message group.
        self._batch = SqsFifoPartialProcessor(skip_group_on_error=True)

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        invocation_deadline.start(context)
        return dict(
            process_partial_response(
                event=event, record_handler=self.handle_record, processor=self._batch, context=context
            )
        )

    def handle_record(self, record: SQSRecord) -> None:
        message = parse_queued_message(record.body)
        logger.set_correlation_id(message.get("correlationId"))
        inbound = self._processor()
        try:
            result = inbound.process(message)
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
