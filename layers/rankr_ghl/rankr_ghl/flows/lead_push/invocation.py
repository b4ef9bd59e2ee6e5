"""One lead-push invocation: the request in, per-lead results and metrics out (contract in
docs/lead-push.md).

Through the `live` alias (`RequestResponse`): per-lead results are returned, failures included.
Through the `async` alias (`Event`): nobody reads the result, so a retryable per-lead failure (or an
unusable request) raises; Lambda retries the event twice (successful leads replay from the
idempotency store without calling GHL) and then sends it to the alias's on-failure queue, from where
`rankr-ghl dlq replay --queue lead-push` replays it. The alias is read from the invoked ARN, so the
caller need not repeat the invocation type in the payload; a payload `"invocationType": "Event"` is
still honoured on any alias.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from rankr_ghl import deadlines
from rankr_ghl.flows.lead_push.idempotency import LeadIdempotency
from rankr_ghl.flows.lead_push.request import (
    InvocationType,
    LeadPushIncomplete,
    LeadPushRequestError,
    request_invocation_type,
)
from rankr_ghl.flows.lead_push.results import BatchResult
from rankr_ghl.flows.lead_push.service import LeadPushService
from rankr_ghl.invoked_alias import invoked_alias
from rankr_ghl.observability import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

_OUTCOME_METRICS = {
    "created": "LeadsCreated",
    "updated": "LeadsUpdated",
    "linked_existing": "LeadsLinkedExisting",
    "superseded": "LeadsSuperseded",
    "failed": "LeadsFailed",
}


# The alias Rankr invokes without waiting (template.yaml, LeadPushAsyncAlias).
ASYNC_ALIAS = "async"


def invoked_as(event: Any, context: LambdaContext) -> InvocationType:
    """`Event` when invoked through the async alias (`arn:...:function:<name>:async`) or when the
    payload says so; else `RequestResponse`."""
    if invoked_alias(context) == ASYNC_ALIAS:
        return InvocationType.EVENT
    return request_invocation_type(event)


def _response(batch: BatchResult) -> dict[str, Any]:
    return {"results": batch.results, "counts": batch.counts}


class LeadPushInvocation:
    def __init__(self, service: LeadPushService, idempotency: LeadIdempotency) -> None:
        self.service = service
        self.idempotency = idempotency

    def handle(self, event: Any, context: LambdaContext) -> dict[str, Any]:
        deadlines.invocation.start(context)
        invocation_type = invoked_as(event, context)
        self.idempotency.config.register_lambda_context(context)
        try:
            batch = self.service.push(
                event,
                remaining_ms=context.get_remaining_time_in_millis,
                asynchronous=invocation_type is InvocationType.EVENT,
            )
        except LeadPushRequestError as exc:
            metrics.add_metric(name="LeadPushRequestsRejected", unit=MetricUnit.Count, value=1)
            logger.info("lead push request rejected", extra={"reason": str(exc)})
            if invocation_type is InvocationType.EVENT:
                raise
            return {
                "error": {"code": exc.code, "message": str(exc), "retryable": False},
                "results": [],
                "counts": {},
            }
        for outcome, count in batch.counts.items():
            if count:
                metrics.add_metric(name=_OUTCOME_METRICS[outcome], unit=MetricUnit.Count, value=count)
        if invocation_type is InvocationType.EVENT and batch.retryable_failures:
            raise LeadPushIncomplete(batch.retryable_failures)
        return _response(batch)
