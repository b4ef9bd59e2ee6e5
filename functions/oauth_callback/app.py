"""GET /oauth/install (redirect to GHL's chooselocation) and GET /oauth/callback (store the tokens).

Thin: parse -> one call into rankr_ghl.connections -> shape the answer. Domain errors become small
HTML pages with a 4xx/5xx status. Tokens, codes and the state never reach a page, a log or a trace.
"""

from __future__ import annotations

import html
from typing import Annotated, Any
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from rankr_ghl.config import ConfigError
from rankr_ghl.connections import ConnectionsError, InstallResult, OAuthError, UserType
from rankr_ghl.observability import logger, metrics, tracer
from rankr_ghl.wiring import root

HTML = "text/html; charset=utf-8"
NO_STORE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

app = APIGatewayHttpResolver(enable_validation=True)


def _page(status: int, title: str, detail: str) -> Response[str]:
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p></body></html>"
    )
    return Response(status_code=status, content_type=HTML, body=body, headers=dict(NO_STORE))


def _callback_url() -> str:
    """<scheme>://<host>/oauth/callback of this API (used when OAUTH_REDIRECT_URI is empty)."""
    event = app.current_event
    headers = event.headers or {}
    proto = headers.get("x-forwarded-proto", "https")
    host = headers.get("host") or event.request_context.domain_name
    return f"{proto}://{host}/oauth/callback"


@app.get("/oauth/install")
def install(
    rankr_account: Annotated[str | None, Query(max_length=128)] = None,
    agency: Annotated[bool, Query()] = False,
) -> Response[str]:
    user_type = UserType.COMPANY if agency else UserType.LOCATION
    url = root().oauth().install_url(rankr_account or None, redirect_uri=_callback_url(), user_type=user_type)
    metrics.add_metric(name="OAuthInstallStarted", unit="Count", value=1)
    return Response(status_code=302, headers={"Location": url, **NO_STORE}, body="")


@app.get("/oauth/callback")
def callback(
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> Response[str]:
    result = (
        root().oauth().complete_install(code=code, state=state, error=error, redirect_uri=_callback_url())
    )
    metrics.add_metric(name="OAuthInstallCompleted", unit="Count", value=1)
    return _success(result)


def _success(result: InstallResult) -> Response[str]:
    return_url = root().settings.rankr_return_url
    if return_url:
        query = urlencode(
            {
                "status": "connected",
                "user_type": result.user_type.value,
                "locations": len(result.location_ids),
            }
        )
        separator = "&" if "?" in return_url else "?"
        return Response(
            status_code=302, headers={"Location": f"{return_url}{separator}{query}", **NO_STORE}, body=""
        )
    return _page(200, "GoHighLevel connected to Rankr", f"{result.summary}. You can close this window.")


@app.exception_handler(OAuthError)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
def oauth_error(exc: OAuthError) -> Response[str]:
    metrics.add_metric(name="OAuthInstallFailed", unit="Count", value=1)
    logger.warning("install failed", extra={"error": type(exc).__name__, "status": exc.http_status})
    return _page(exc.http_status, exc.title, exc.message)


@app.exception_handler(ConnectionsError)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
def connections_error(exc: ConnectionsError) -> Response[str]:
    metrics.add_metric(name="OAuthInstallFailed", unit="Count", value=1)
    logger.error("install failed", extra={"error": type(exc).__name__, "status": exc.http_status})
    return _page(exc.http_status, "The connection could not be completed", exc.message)


@app.exception_handler(ConfigError)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
def config_error(exc: ConfigError) -> Response[str]:
    logger.error("connector not configured", extra={"error": str(exc)})
    return _page(503, "The connector is not configured yet", "Please contact the Rankr team.")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
