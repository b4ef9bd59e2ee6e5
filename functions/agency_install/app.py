"""SQS FIFO consumer: an agency install's fan-out, one location token, secret and record per
installed location (rankr_ghl.connections.agency_fanout)."""

from __future__ import annotations

from typing import Any

import rankr_ghl.container_gc  # noqa: F401  # first: the GC policy, before the heavy imports
from aws_lambda_powertools.utilities.typing import LambdaContext
from rankr_ghl.observability import logger, metrics, tracer
from rankr_ghl.wiring import root


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return root().agency_install().handle(event, context)
