"""GET /oauth/install (a link minted by Rankr -> GHL's chooselocation), GET /oauth/callback (store the
tokens) and GET /oauth/done (the outcome page).

Thin: parse -> one call into rankr_ghl.connections -> shape the answer. Domain errors become small
HTML pages with a 4xx/5xx status. Tokens, codes and the state never reach a page, a log or a trace;
the callback redirects to /oauth/done so they leave the address bar too.

Plain HTTP (the local gateway): the install cookie is still `Secure` and `__Host-`. Browsers keep such
cookies for http://localhost and 127.0.0.1 (trustworthy origins); TLS is the deployed gateway's job,
and the callback's cookie check never relaxes.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

import rankr_ghl.container_gc  # noqa: F401  # first: the GC policy, before the heavy imports
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext
from rankr_ghl.config import ConfigError
from rankr_ghl.connections import ConnectionsError, InstallResult, OAuthError, UserType
from rankr_ghl.connections.install_links import NONCE_COOKIE, RESULT_COOKIE, RESULT_TTL_S, mask_account
from rankr_ghl.observability import logger, metrics, tracer
from rankr_ghl.wiring import root

HTML = "text/html; charset=utf-8"
NO_STORE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

FAILED = "The connection could not be completed"

app = APIGatewayHttpResolver(enable_validation=True)


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1a1a1a}h1{font-size:1.4rem}code{font-size:1.3rem;"
    "letter-spacing:.1em;background:#eef;padding:.2rem .4rem}"
)


def _page(
    status: int, title: str, *paragraphs: str, code: str | None = None, back: str | None = None
) -> Response[str]:
    """A small self-contained page: no scripts, no external assets, every value escaped."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs if p)
    if code:
        body += f'<p>Your claim code: <code aria-label="claim code">{html.escape(code)}</code></p>'
    if back:
        body += f'<p><a href="{html.escape(back)}">Return to Rankr</a></p>'
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body><main>"
        f"<h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return Response(status_code=status, content_type=HTML, body=page, headers=dict(NO_STORE))


def _cookie(name: str, value: str, max_age: int) -> Cookie:
    # __Host- cookies must be Secure, Path=/ and carry no Domain (browsers refuse them otherwise).
    return Cookie(
        name=name,
        value=value,
        path="/",
        secure=True,
        http_only=True,
        same_site=SameSite.LAX_MODE,
        max_age=max_age,
    )


def _cookie_value(name: str) -> str | None:
    for raw in app.current_event.cookies or []:
        key, _, value = raw.partition("=")
        if key.strip() == name:
            return value.strip()
    return None


def _public_base() -> str:
    """<scheme>://<host> of this API (used when OAUTH_REDIRECT_URI is empty)."""
    event = app.current_event
    headers = event.headers or {}
    proto = headers.get("x-forwarded-proto", "https")
    host = headers.get("host") or event.request_context.domain_name
    return f"{proto}://{host}"


def _callback_url() -> str:
    return f"{_public_base()}/oauth/callback"


def _done_url() -> str:
    redirect = root().settings.oauth_redirect_uri
    if redirect.endswith("/oauth/callback"):
        return redirect[: -len("/oauth/callback")] + "/oauth/done"
    return f"{_public_base()}/oauth/done"


@app.get("/oauth/install")
def install(link: Annotated[str | None, Query(max_length=2048)] = None) -> Response[str]:
    """Only a link minted by Rankr (control API `install_link`) starts an install."""
    start = root().oauth().start_install(link, redirect_uri=_callback_url())
    metrics.add_metric(name="OAuthInstallStarted", unit="Count", value=1)
    return Response(
        status_code=302,
        headers={"Location": start.url, **NO_STORE},
        body="",
        cookies=[_cookie(NONCE_COOKIE, start.nonce, start.max_age_s)],
    )


@app.get("/oauth/callback")
def callback(
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> Response[str]:
    """Complete the install, then redirect to a clean URL: the code and state leave the address bar."""
    endpoints = root().oauth()
    try:
        result = endpoints.complete_install(
            code=code,
            state=state,
            error=error,
            redirect_uri=_callback_url(),
            browser_nonce=_cookie_value(NONCE_COOKIE),
        )
    except OAuthError as exc:
        _count_failure(exc, warning=True)
        outcome: dict[str, Any] = {
            "ok": False,
            "status": exc.http_status,
            "title": exc.title,
            "why": exc.message,
        }
    except ConnectionsError as exc:
        _count_failure(exc, warning=False)
        outcome = {"ok": False, "status": exc.http_status, "title": FAILED, "why": exc.message}
    else:
        metrics.add_metric(name="OAuthInstallCompleted", unit="Count", value=1)
        outcome = {"ok": True, **_result_fields(result)}
    return Response(
        status_code=303,
        headers={"Location": _done_url(), **NO_STORE},
        body="",
        cookies=[
            _cookie(RESULT_COOKIE, endpoints.sign_result(outcome), RESULT_TTL_S),
            _cookie(NONCE_COOKIE, "", 0),
        ],
    )


def _result_fields(result: InstallResult) -> dict[str, Any]:
    return {
        "userType": result.user_type.value,
        "company": result.company_id,
        "locations": result.location_ids,
        "locationName": result.location_name,
        "account": mask_account(result.rankr_account_id),
        "keptBinding": len(result.bound_elsewhere),
        "claimCode": result.claim_code,
        "returnUrl": result.return_url,
    }


@app.get("/oauth/done")
def done() -> Response[str]:
    """The install's outcome, read once from its signed cookie (then cleared)."""
    try:
        outcome = root().oauth().read_result(_cookie_value(RESULT_COOKIE))
    except OAuthError:
        return _page(
            400,
            "Nothing to show here",
            "This page shows the result of an install once. Start the install again from Rankr.",
        )
    response = _outcome_page(outcome)
    response.cookies.append(_cookie(RESULT_COOKIE, "", 0))
    return response


def _outcome_page(outcome: dict[str, Any]) -> Response[str]:
    if not outcome.get("ok"):
        return _page(
            int(outcome.get("status") or 400),
            str(outcome.get("title") or FAILED),
            str(outcome.get("why") or ""),
            "To start over, open Rankr and connect GoHighLevel again.",
        )
    locations = [str(x) for x in outcome.get("locations") or []]
    company = outcome.get("company")
    if outcome.get("userType") == UserType.COMPANY.value:
        lines = [
            f"Agency {company} connected. The install continues: its locations are being connected "
            "in the background, about a minute per 500 locations. Rankr shows the progress."
        ]
    else:
        name = outcome.get("locationName")
        # The name when GHL told it (locations.readonly), else the id; _page escapes it.
        lines = [f"Location {name or ', '.join(locations)} connected."]
    claim = outcome.get("claimCode")
    if outcome.get("keptBinding"):
        lines.append(
            "This location is already linked to another Rankr account. That link was kept; "
            "ask Rankr support to move it if it is wrong."
        )
    elif claim:
        lines.append(
            "It is not linked to a Rankr account yet. Enter the claim code below in Rankr within 15 "
            "minutes to link it; the code works once."
        )
    else:
        lines.append(f"Linked to Rankr account {outcome.get('account')}. Rankr starts syncing now.")
    return_url = outcome.get("returnUrl")
    back = return_url if isinstance(return_url, str) and return_url else None
    if back is None:
        lines.append("You can close this window.")
    return _page(200, "GoHighLevel connected to Rankr", *lines, code=str(claim) if claim else None, back=back)


def _count_failure(exc: ConnectionsError, *, warning: bool) -> None:
    metrics.add_metric(name="OAuthInstallFailed", unit="Count", value=1)
    extra = {"error": type(exc).__name__, "status": exc.http_status}
    if warning:
        logger.warning("install failed", extra=extra)
    else:
        logger.error("install failed", extra=extra)


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
