"""SQS FIFO worker: mirror each queued GHL webhook event into Rankr (logic in rankr_ghl.flows.inbound).

Partial batch failures: a failed record is reported alone, and the later records of ITS message group
in the batch are reported too (they must not overtake it); other groups carry on. After
maxReceiveCount (5) SQS moves a poison message to the DLQ.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from rankr_ghl import wiring
from rankr_ghl.flows.inbound import InboundProcessor, build_processor
from rankr_ghl.flows.queue_message import parse_queued_message
from rankr_ghl.observability import logger, metrics, tracer

# A BatchProcessor for EventType.SQS that keeps FIFO order per message group.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
_inbound: tuple[tuple[str, ...], InboundProcessor] | None = None
_ENV_KEYS = (
    "AWS_ENDPOINT_URL",
    "SYNC_TABLE",
    "CONNECTIONS_TABLE",
    "AUDIT_TABLE",
    "GHL_API_BASE_URL",
    "RANKR_API_BASE_URL",
)


def get_inbound() -> InboundProcessor:
    """The container's processor, built lazily once (again only when its environment changes)."""
    global _inbound
    wiring.refresh_if_environment_changed()
    key = tuple(os.environ.get(name, "") for name in _ENV_KEYS)
    if _inbound is None or _inbound[0] != key:
        _inbound = (key, build_processor())
    return _inbound[1]


def record_handler(record: SQSRecord) -> None:
    message = parse_queued_message(record.body)
    logger.set_correlation_id(message.get("correlationId"))
    inbound = get_inbound()
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


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
