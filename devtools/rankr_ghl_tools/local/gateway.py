"""Local API Gateway (HTTP API, payload format 2.0) for the template's `HttpApi` routes.

Each request becomes a v2.0 event (raw body byte-exact; base64 when binary), the route's function
runs in its worker pool, and the handler's response (structured or the plain-value shortcut) is
mapped back to HTTP the way API Gateway does.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from rankr_ghl_tools.local.httpserver import HttpRequest, HttpResponse, LocalHttpServer, ServedOverHttp
from rankr_ghl_tools.local.template import ACCOUNT_ID, LOCAL_API_ID, Template
from rankr_ghl_tools.local.workers import InvocationResult

Invoker = Callable[[str, bytes], InvocationResult]  # (function logical id, JSON event bytes)

_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|javascript|ecmascript|x-javascript|graphql|yaml|x-yaml|x-ndjson)"
    r"|application/[\w.+-]+\+(json|xml))$"
)


@dataclass(frozen=True)
class _Route:
    function: str
    method: str
    path: str
    route_key: str
    pattern: re.Pattern[str] | None  # None for $default
    params: tuple[str, ...]
    literal_segments: int
    greedy: bool


def _compile(path: str) -> tuple[re.Pattern[str], tuple[str, ...], int, bool]:
    regex = ""
    params: list[str] = []
    literals = 0
    greedy = False
    for segment in path.strip("/").split("/") if path.strip("/") else []:
        match = re.fullmatch(r"\{([^}+]+)(\+?)\}", segment)
        if match:
            params.append(match.group(1))
            if match.group(2):
                greedy = True
                regex += f"/(?P<p{len(params) - 1}>.+)"
            else:
                regex += f"/(?P<p{len(params) - 1}>[^/]+)"
        else:
            literals += 1
            regex += "/" + re.escape(segment)
    return re.compile(f"^{regex or '/'}$"), tuple(params), literals, greedy


def is_text_body(content_type: str | None, body: bytes) -> bool:
    """API Gateway passes text bodies as-is; anything else is base64 (form posts included)."""
    if content_type:
        media = content_type.split(";", 1)[0].strip().lower()
        if not _TEXT_TYPES.match(media):
            return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class Gateway(ServedOverHttp):
    """Routes of one template served on `host:port` (127.0.0.1:3000 by default, else a free port)."""

    def __init__(
        self,
        template: Template | None,
        invoke: Invoker,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        api_id: str = LOCAL_API_ID,
    ) -> None:
        """Binds the port at once (so its URL is known before the template is resolved)."""
        self.invoke = invoke
        self.api_id = api_id
        self.routes: list[_Route] = []
        self.template: Template | None = None
        if template is not None:
            self.bind_template(template)
        self.server = LocalHttpServer(self.dispatch, host=host, port=port, name="gateway")
        self.requests_served = 0

    def bind_template(self, template: Template) -> None:
        self.template = template
        self.routes = self._routes(template)

    @staticmethod
    def _routes(template: Template) -> list[_Route]:
        routes: list[_Route] = []
        for fn in template.functions.values():
            for route in fn.routes:
                if route.path == "$default":
                    routes.append(_Route(fn.logical_id, "ANY", "$default", "$default", None, (), -1, True))
                    continue
                pattern, params, literals, greedy = _compile(route.path)
                key = f"{route.method} {route.path}" if route.method != "ANY" else f"ANY {route.path}"
                routes.append(
                    _Route(fn.logical_id, route.method, route.path, key, pattern, params, literals, greedy)
                )
        # API Gateway picks the most specific route: more literal segments, no greedy, exact method.
        routes.sort(key=lambda r: (r.pattern is None, -r.literal_segments, r.greedy, r.method == "ANY"))
        return routes

    def match(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method not in ("ANY", method):
                continue
            if route.pattern is None:
                return route, {}
            found = route.pattern.match(path)
            if found:
                params = {name: unquote(found.group(f"p{i}")) for i, name in enumerate(route.params)}
                return route, params
        return None

    def build_event(self, request: HttpRequest, route: _Route, path_params: dict[str, str]) -> dict[str, Any]:
        raw_path, _, raw_query = request.target.partition("?")
        now = datetime.now(UTC)
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for key, value in request.headers:
            name = key.lower()
            if name == "cookie":
                cookies.extend(c.strip() for c in value.split(";") if c.strip())
                continue
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        host = headers.get("host", f"127.0.0.1:{self.port}")
        request_id = str(uuid.uuid4())
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": self.api_id,
                "domainName": host,
                "domainPrefix": host.split(".", 1)[0],
                "http": {
                    "method": request.method,
                    "path": raw_path,
                    "protocol": request.protocol,
                    "sourceIp": request.client_ip,
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": request_id,
                "routeKey": route.route_key,
                "stage": "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            "isBase64Encoded": False,
        }
        if cookies:
            event["cookies"] = cookies
        if raw_query:
            query: dict[str, str] = {}
            for key, value in parse_qsl(raw_query, keep_blank_values=True):
                query[key] = f"{query[key]},{value}" if key in query else value
            event["queryStringParameters"] = query
        if path_params:
            event["pathParameters"] = path_params
        if request.body:
            if is_text_body(headers.get("content-type"), request.body):
                event["body"] = request.body.decode("utf-8")
            else:
                event["body"] = base64.b64encode(request.body).decode("ascii")
                event["isBase64Encoded"] = True
        return event

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        raw_path = request.target.partition("?")[0]
        found = self.match(request.method, raw_path)
        if found is None:
            return _json_response(404, {"message": "Not Found"})
        route, params = found
        event = self.build_event(request, route, params)
        request_id = event["requestContext"]["requestId"]
        started = time.monotonic()
        result = self.invoke(route.function, json.dumps(event).encode())
        self.requests_served += 1
        response = self.map_response(result)
        response.headers.append(("apigw-requestid", request_id))
        response.headers.append(("x-local-duration-ms", f"{(time.monotonic() - started) * 1000:.1f}"))
        return response

    @staticmethod
    def map_response(result: InvocationResult) -> HttpResponse:
        if not result.ok:
            status = 503 if result.error_type == "Sandbox.Timedout" else 500
            message = "Service Unavailable" if status == 503 else "Internal Server Error"
            return _json_response(status, {"message": message})
        try:
            value = result.json()
        except ValueError:
            return _json_response(500, {"message": "Internal Server Error"})
        if not isinstance(value, dict) or "statusCode" not in value:
            # Payload v2 shortcut: any other JSON value is a 200 application/json body.
            return HttpResponse(200, [("Content-Type", "application/json")], result.payload)
        try:
            status = int(value["statusCode"])
        except (TypeError, ValueError):
            return _json_response(500, {"message": "Internal Server Error"})
        headers: list[tuple[str, str]] = []
        for key, item in (value.get("headers") or {}).items():
            headers.append((str(key), str(item)))
        for key, items in (value.get("multiValueHeaders") or {}).items():
            headers.append((str(key), ",".join(str(i) for i in items)))
        for cookie in value.get("cookies") or []:
            headers.append(("Set-Cookie", str(cookie)))
        body_value = value.get("body")
        if body_value is None:
            body = b""
        elif value.get("isBase64Encoded"):
            try:
                body = base64.b64decode(str(body_value), validate=True)
            except ValueError:
                return _json_response(500, {"message": "Internal Server Error"})
        else:
            body = (body_value if isinstance(body_value, str) else json.dumps(body_value)).encode("utf-8")
        if not any(k.lower() == "content-type" for k, _ in headers) and body:
            headers.append(("Content-Type", "application/json"))
        return HttpResponse(status, headers, body)


def _json_response(status: int, document: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(document).encode())
