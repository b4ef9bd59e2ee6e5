"""HTTP front of the GHL sandbox: Version/Bearer checks, rate limits, faults and the /_admin API,
served by the shared `local.httpserver`."""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

from ..local.httpserver import HttpRequest, HttpResponse
from .admin_api import AdminApi
from .server import Request, Route, SandboxApp
from .store import AccessToken, ApiError
from .util import new_trace_id

_FAULT_NAMES = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    pairs = [(name, value) for name, value in (headers or {}).items()]
    if body is None:
        return HttpResponse(status, pairs)
    payload = json.dumps(body, separators=(",", ":")).encode()
    return HttpResponse(status, [*pairs, ("Content-Type", "application/json; charset=utf-8")], payload)


class SandboxFront:
    """`dispatch(request)` for `LocalHttpServer`: one call per HTTP request."""

    def __init__(self, app: SandboxApp, admin: AdminApi) -> None:
        self.app = app
        self.admin = admin

    def dispatch(self, http: HttpRequest) -> HttpResponse:
        split = urllib.parse.urlsplit(http.target)
        path = urllib.parse.unquote(split.path) or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in http.headers}
        if path.startswith("/_admin"):
            return _json_response(*self.admin.handle(http.method, path, query, http.body))
        if http.method == "GET" and path.rstrip("/") in ("/oauth/chooselocation", "/v2/oauth/chooselocation"):
            status, body, extra = self.app.choose_location(query)
            return _json_response(status, body, extra)
        return self._serve_api(Request(http.method, path, query, headers, http.body, trace_id=new_trace_id()))

    def _serve_api(self, req: Request) -> HttpResponse:
        app = self.app
        route, params, path_known = app.match(req.method, req.path)
        trace = {"x-trace-id": req.trace_id}
        if route is None:
            status = 405 if path_known else 404
            body = {
                "statusCode": status,
                "message": f"Cannot {req.method} {req.path}",
                "error": "Not Found",
                "traceId": req.trace_id,
            }
            return _json_response(status, body, trace)
        req.params = params
        headers = dict(trace)
        status, body = self._process(route, req, headers)
        app.count_request(route.key, status, req.token)
        if status == -1:
            return HttpResponse(0, drop_connection=True)
        return _json_response(status, body, headers)

    def _process(self, route: Route, req: Request, headers: dict[str, str]) -> tuple[int, Any]:
        """Returns (status, body); status -1 means: drop the connection without answering."""
        app = self.app
        try:
            if route.version is not None:
                version = req.headers.get("version")
                if not version:
                    raise ApiError(400, "version header was not found", error="Bad Request")
                if version != route.version:
                    raise ApiError(
                        400, f"version header is invalid: expected {route.version}", error="Bad Request"
                    )
            if route.auth != "none":
                req.token = self._authenticate(req, route.auth)
                decision = app.limiter.check(
                    req.token.resource_id, app.store.rate_settings_for(req.token.resource_id)
                )
                headers.update(decision.headers)
                if not decision.allowed:
                    raise ApiError(429, "Too Many Requests", error="Too Many Requests")
                app.check_scope(req.token, route)
            fault, settings = app.faults.draw(route.key, is_create=route.creates)
            if fault == "drop":
                return -1, None
            if fault in ("429", "500", "502", "503"):
                code = int(fault)
                raise ApiError(code, _FAULT_NAMES[code], error=_FAULT_NAMES[code])
            status, body = route.handler(req)
            if fault == "slow":
                time.sleep(settings.slow_seconds)  # applied, then answered too late
            if fault == "422created":
                raise ApiError(422, ["Unprocessable Entity"], error="Unprocessable Entity")
            return status, body
        except ApiError as exc:
            body = dict(exc.body)
            body["traceId"] = req.trace_id
            return exc.status, body

    def _authenticate(self, req: Request, kind: str) -> AccessToken:
        auth = req.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Invalid JWT", error="Unauthorized")
        record = self.app.store.authenticate(token.strip())
        if record is None:
            raise ApiError(401, "Invalid token: access token is invalid", error="Unauthorized")
        wanted = "Location" if kind == "location" else "Company"
        if record.user_type != wanted:
            raise ApiError(
                401, "This authClass type is not allowed to access this scope", error="Unauthorized"
            )
        return record
