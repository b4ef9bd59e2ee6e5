"""Lead push, invoked directly by Rankr (Lambda Invoke API, sync or async); the invocation is
rankr_ghl.flows.lead_push.invocation, the contract docs/lead-push.md."""

from __future__ import annotations

from typing import Any

import rankr_ghl.container_gc  # noqa: F401  # first: the GC policy, before the heavy imports
from aws_lambda_powertools.utilities.typing import LambdaContext
from rankr_ghl.observability import logger, metrics, tracer
from rankr_ghl.wiring import root


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return root().lead_push().handle(event, context)
