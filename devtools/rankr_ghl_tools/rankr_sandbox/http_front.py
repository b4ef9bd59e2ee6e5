"""HTTP front of the Rankr sandbox: faults, auth and problem+json answers, served by `local.httpserver`."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

from rankr_ghl_tools.local.httpserver import HttpRequest, HttpResponse
from rankr_ghl_tools.rankr_sandbox.records import ApiProblem
from rankr_ghl_tools.rankr_sandbox.server import MAX_BODY_BYTES, RankrApp, Response

_FAULT_NAMES = {429: "rate-limited", 500: "internal", 502: "bad-gateway", 503: "unavailable"}
_FAULT_TITLES = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class RankrFront:
    """`dispatch(request)` for `LocalHttpServer`: one call per HTTP request."""

    def __init__(self, app: RankrApp) -> None:
        self.app = app

    def dispatch(self, http: HttpRequest) -> HttpResponse:
        app = self.app
        split = urlsplit(http.target)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        method = http.method
        if path == "/_admin" or path.startswith("/_admin/"):
            try:
                response = app.handle_admin(method, path, query, http.body)
            except ApiProblem as problem:
                response = _problem_response(problem)
            return _encode(response)

        template, params = app.route(method, path)
        route_key = f"{method} {template or '<unmatched>'}"
        app.stats.count_request(route_key)
        fault = None
        if template is not None:
            fault, settings = app.faults.draw(route_key)
            if fault is not None:
                app.stats.count_fault()
            if fault == "drop":
                return HttpResponse(0, drop_connection=True)
            if fault == "slow":
                time.sleep(settings.slow_seconds)
            elif fault in ("429", "500", "502", "503"):
                return self._counted(_fault_response(int(fault), settings.retry_after_seconds))
        try:
            if template is None:
                raise ApiProblem(404, "not-found", "Not Found", f"no route for {path}")
            app.check_auth(http.header("Authorization"))
            if len(http.body) > MAX_BODY_BYTES:
                raise ApiProblem(413, "payload-too-large", "Payload Too Large", "request body over 1 MB")
            headers = {k.lower(): v for k, v in http.headers}
            response = app.handle_api(
                method, template, params=params, query=query, headers=headers, raw_body=http.body
            )
        except ApiProblem as problem:
            response = _problem_response(problem)
        except Exception as exc:  # a sandbox bug must still answer, as a real server would
            response = _problem_response(
                ApiProblem(500, "internal", "Internal Server Error", type(exc).__name__)
            )
        if fault == "drop_after_commit":
            return HttpResponse(0, drop_connection=True)
        return self._counted(response)

    def _counted(self, response: Response) -> HttpResponse:
        self.app.stats.count_status(response.status)
        return _encode(response)


def _encode(response: Response) -> HttpResponse:
    payload = b"" if response.status == 204 or response.body is None else json.dumps(response.body).encode()
    headers = [("Content-Type", response.content_type)] if payload else []
    headers += list((response.headers or {}).items())
    return HttpResponse(response.status, headers, payload)


def _problem_response(problem: ApiProblem) -> Response:
    return Response(problem.status, problem.body(), problem.headers, "application/problem+json")


def _fault_response(status: int, retry_after: int) -> Response:
    headers = {"Retry-After": str(retry_after)} if status in (429, 503) else {}
    problem = ApiProblem(
        status, _FAULT_NAMES[status], _FAULT_TITLES[status], "injected fault", headers=headers
    )
    return _problem_response(problem)
