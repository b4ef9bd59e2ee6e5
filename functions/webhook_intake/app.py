"""POST /webhooks/ghl: verify, dedupe and queue GHL webhooks (logic in rankr_ghl.flows.intake).

The body is read from the raw event (base64-aware) and never re-serialised: the signature covers
the exact bytes GHL sent.
"""

from __future__ import annotations

import json
from typing import Any

import rankr_ghl.container_gc  # noqa: F401  # first: the GC policy, before the heavy imports
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from rankr_ghl.flows.intake import EnqueueFailed, RawWebhookRequest, WebhookRejected, problem_document
from rankr_ghl.observability import logger, metrics, tracer
from rankr_ghl.wiring import root

PROBLEM_JSON = "application/problem+json"

app = APIGatewayHttpResolver()


def _json(status: int, payload: dict[str, Any], content_type: str = "application/json") -> Response[str]:
    return Response(status_code=status, content_type=content_type, body=json.dumps(payload))


@app.post("/webhooks/ghl")
def receive_webhook() -> Response[str]:
    event = app.current_event
    raw_event = event.raw_event
    result = (
        root()
        .webhook_intake()
        .handle(
            RawWebhookRequest(
                body=raw_event.get("body"),
                headers=event.headers or {},
                is_base64_encoded=bool(raw_event.get("isBase64Encoded")),
                correlation_id=event.request_context.request_id,
            )
        )
    )
    return _json(
        result.status,
        {"status": result.outcome, "webhookId": result.webhook_id, "correlationId": result.correlation_id},
    )


@app.exception_handler(WebhookRejected)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
def _rejected(exc: WebhookRejected) -> Response[str]:
    correlation_id = app.current_event.request_context.request_id
    return _json(
        exc.status, problem_document(exc.status, exc.reason, exc.detail, correlation_id), PROBLEM_JSON
    )


@app.exception_handler(EnqueueFailed)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
def _enqueue_failed(exc: EnqueueFailed) -> Response[str]:
    correlation_id = app.current_event.request_context.request_id
    response = _json(503, problem_document(503, exc.reason, exc.detail, correlation_id), PROBLEM_JSON)
    response.headers["Retry-After"] = "30"
    return response


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
