"""Lead push, invoked directly by Rankr (Lambda Invoke API, sync or async); logic in
rankr_ghl.flows.lead_push, contract in docs/lead-push.md.

Sync (`RequestResponse`): per-lead results are returned, failures included.
Async (`Event`, payload `"invocationType": "Event"`): nobody reads the result, so a retryable
per-lead failure (or an unusable request) raises; Lambda retries the event twice (successful leads
replay from the idempotency store without calling GHL) and then sends it to the on-failure queue,
from where `rankr-ghl dlq replay --queue lead-push` replays it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from rankr_ghl import wiring
from rankr_ghl.flows.lead_push import (
    BatchResult,
    InvocationType,
    LeadPushIncomplete,
    LeadPushRequestError,
    container,
    request_invocation_type,
)
from rankr_ghl.observability import logger, metrics, tracer

_OUTCOME_METRICS = {
    "created": "LeadsCreated",
    "updated": "LeadsUpdated",
    "linked_existing": "LeadsLinkedExisting",
    "failed": "LeadsFailed",
}


def _response(batch: BatchResult) -> dict[str, Any]:
    return {"results": batch.results, "counts": batch.counts}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    wiring.refresh_if_environment_changed()
    lead_push = container()
    lead_push.idempotency.config.register_lambda_context(context)
    try:
        batch = lead_push.service.push(event, remaining_ms=context.get_remaining_time_in_millis)
    except LeadPushRequestError as exc:
        metrics.add_metric(name="LeadPushRequestsRejected", unit=MetricUnit.Count, value=1)
        logger.info("lead push request rejected", extra={"reason": str(exc)})
        if request_invocation_type(event) is InvocationType.EVENT:
            raise
        return {
            "error": {"code": exc.code, "message": str(exc), "retryable": False},
            "results": [],
            "counts": {},
        }
    for outcome, count in batch.counts.items():
        if count:
            metrics.add_metric(name=_OUTCOME_METRICS[outcome], unit=MetricUnit.Count, value=count)
    if batch.invocation_type is InvocationType.EVENT and batch.retryable_failures:
        raise LeadPushIncomplete(batch.retryable_failures)
    return _response(batch)
