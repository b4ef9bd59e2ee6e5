"""The control API, invoked directly by Rankr (Lambda Invoke API, IAM-authenticated); the service is
rankr_ghl.flows.control, the contract docs/control-api.md. The invoked alias is the scope: `live` is
Rankr's (one account per request), `ops` the operators' (flows.control.scope)."""

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
    return root().control().handle(event, context)
