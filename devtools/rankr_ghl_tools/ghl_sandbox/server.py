"""HTTP front of the GHL sandbox: routing, Version/Bearer checks, rate limits, faults, admin API."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import socket
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .config import SandboxConfig
from .faults import FaultInjector
from .ratelimit import RateLimiter
from .state import AccessToken, ApiError, Store, forbidden, unprocessable
from .util import new_trace_id
from .webhooks import WebhookDispatcher

CONTACTS_VERSION = "2021-07-28"
CALENDARS_VERSION = "2021-04-15"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes
    params: dict[str, str] = field(default_factory=dict)
    token: AccessToken | None = None
    trace_id: str = ""

    def json(self) -> dict[str, Any]:
        if not self.raw_body.strip():
            return {}
        try:
            data = json.loads(self.raw_body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Unexpected token in JSON body", error="Bad Request") from None
        if not isinstance(data, dict):
            raise ApiError(400, "JSON body must be an object", error="Bad Request")
        return data

    def form(self) -> dict[str, str]:
        content_type = self.headers.get("content-type", "")
        text = self.raw_body.decode("utf-8", "replace")
        if "application/json" in content_type:
            data = self.json()
            return {k: str(v) for k, v in data.items() if v is not None}
        return {k: v[-1] for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()}


Handler = Callable[[Request], tuple[int, Any]]


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    version: str | None  # required Version header value; None = not checked
    auth: str  # "location" | "company" | "none"
    creates: bool = False  # eligible for the "422 but created" fault

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template.rstrip("/"))
    return re.compile(f"^{regex}/?$")


class SandboxApp:
    """Everything the HTTP handler needs; one per sandbox."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.initial_config = dataclasses.replace(config, webhook_urls=list(config.webhook_urls))
        self.store = Store(config)
        self.webhooks = WebhookDispatcher(config)
        self.store.sink = self.webhooks.emit
        self.limiter = RateLimiter(config.rate_limit_algorithm)
        self.faults = FaultInjector(config.seed)
        self._stats_lock = threading.Lock()
        self.reset_stats()
        self.routes: list[Route] = []
        self._register_routes()

    # ------------------------------------------------------------------ stats

    def reset_stats(self) -> None:
        with self._stats_lock:
            self.requests: Counter[str] = Counter()
            self.by_location: Counter[str] = Counter()
            self.statuses: Counter[str] = Counter()
            self.responses_429 = 0
            self.total = 0
        with self.store.lock:
            self.store.refresh_grants = 0
            self.store.refresh_rotations = 0
            self.store.auth_code_grants = 0

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            data: dict[str, Any] = {
                "requests": dict(self.requests),
                "total": self.total,
                "responses429": self.responses_429,
                "byLocation": dict(self.by_location),
                "byStatus": dict(self.statuses),
            }
        data.update(
            refreshGrants=self.store.refresh_grants,
            refreshRotations=self.store.refresh_rotations,
            authCodeGrants=self.store.auth_code_grants,
            faultsInjected=dict(self.faults.injected),
            webhooksPending=self.webhooks.pending(),
        )
        return data

    # ------------------------------------------------------------------ routing table

    def _route(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        version: str | None = CONTACTS_VERSION,
        auth: str = "location",
        creates: bool = False,
    ) -> None:
        self.routes.append(Route(method, template, _compile(template), handler, version, auth, creates))

    def _register_routes(self) -> None:
        r = self._route
        # Specific paths before the {contactId} patterns that would swallow them.
        r("POST", "/contacts/search", self.search_contacts)
        r("GET", "/contacts/search/duplicate", self.duplicate_search)
        r("POST", "/contacts/upsert", self.upsert_contact, creates=True)
        r("GET", "/contacts/business/{businessId}", self.business_contacts)
        r("GET", "/contacts/", self.list_contacts)
        r("POST", "/contacts/", self.create_contact, creates=True)
        r("GET", "/contacts/{contactId}", self.get_contact)
        r("PUT", "/contacts/{contactId}", self.update_contact)
        r("DELETE", "/contacts/{contactId}", self.delete_contact)
        r("POST", "/contacts/{contactId}/tags", self.add_tags, creates=True)
        r("DELETE", "/contacts/{contactId}/tags", self.remove_tags)
        r("GET", "/contacts/{contactId}/tasks", self.list_tasks)
        r("POST", "/contacts/{contactId}/tasks", self.create_task, creates=True)
        r("GET", "/contacts/{contactId}/tasks/{taskId}", self.get_task)
        r("PUT", "/contacts/{contactId}/tasks/{taskId}", self.update_task)
        r("PUT", "/contacts/{contactId}/tasks/{taskId}/completed", self.complete_task)
        r("DELETE", "/contacts/{contactId}/tasks/{taskId}", self.delete_task)
        r("GET", "/contacts/{contactId}/notes", self.list_notes)
        r("POST", "/contacts/{contactId}/notes", self.create_note, creates=True)
        r("GET", "/contacts/{contactId}/notes/{id}", self.get_note)
        r("PUT", "/contacts/{contactId}/notes/{id}", self.update_note)
        r("DELETE", "/contacts/{contactId}/notes/{id}", self.delete_note)
        r("GET", "/contacts/{contactId}/appointments", self.list_appointments)
        r("GET", "/calendars/events/appointments/{eventId}", self.get_appointment, version=CALENDARS_VERSION)
        r("POST", "/locations/{locationId}/tasks/search", self.search_tasks)
        r("POST", "/oauth/token", self.oauth_token, version=None, auth="none")
        r("POST", "/oauth/locationToken", self.location_token, auth="company")
        r("GET", "/oauth/installedLocations", self.installed_locations, auth="company")

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_exists_with_other_method)."""
        path_known = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                if route.method == method:
                    return route, found.groupdict(), True
                path_known = True
        return None, {}, path_known

    # ------------------------------------------------------------------ access checks

    def _own_location(self, req: Request, location_id: str | None) -> str:
        if not location_id:
            raise unprocessable(["locationId should not be empty"])
        assert req.token is not None
        if req.token.location_id != location_id:
            raise forbidden()
        return location_id

    def _own_entity(self, req: Request, entity: str, entity_id: str) -> None:
        owner = self.store.owner_of(entity, entity_id)
        if owner is None:
            return  # the store answers 404
        assert req.token is not None
        if owner != req.token.location_id:
            raise forbidden()

    # ------------------------------------------------------------------ contacts

    def get_contact(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "contact", req.params["contactId"])
        return 200, {"contact": self.store.contact_view(self.store.get_contact(req.params["contactId"]))}

    def create_contact(self, req: Request) -> tuple[int, Any]:
        body = req.json()
        self._own_location(req, body.get("locationId"))
        contact = self.store.create_contact(body)
        return 201, {"contact": self.store.created_contact_view(contact)}

    def update_contact(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "contact", req.params["contactId"])
        contact = self.store.update_contact(req.params["contactId"], req.json())
        return 200, {"succeded": True, "contact": self.store.contact_view(contact)}

    def delete_contact(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "contact", req.params["contactId"])
        self.store.delete_contact(req.params["contactId"])
        return 200, {"succeded": True}

    def upsert_contact(self, req: Request) -> tuple[int, Any]:
        body = req.json()
        self._own_location(req, body.get("locationId"))
        is_new, contact = self.store.upsert_contact(body)
        return 200, {"new": is_new, "contact": self.store.contact_view(contact), "traceId": req.trace_id}

    def list_contacts(self, req: Request) -> tuple[int, Any]:
        location_id = self._own_location(req, req.query.get("locationId"))
        return 200, self.store.list_contacts(location_id, req.query)

    def business_contacts(self, req: Request) -> tuple[int, Any]:
        location_id = self._own_location(req, req.query.get("locationId"))
        return 200, self.store.business_contacts(location_id, req.params["businessId"], req.query)

    def duplicate_search(self, req: Request) -> tuple[int, Any]:
        location_id = self._own_location(req, req.query.get("locationId"))
        contact = self.store.duplicate_search(location_id, req.query.get("email"), req.query.get("number"))
        return 200, {"contact": self.store.contact_view(contact) if contact else None}

    def search_contacts(self, req: Request) -> tuple[int, Any]:
        body = req.json()
        self._own_location(req, body.get("locationId"))
        return 200, self.store.search_contacts(body)

    def add_tags(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "contact", req.params["contactId"])
        body = req.json()
        if "tags" not in body:
            raise unprocessable(["tags should not be empty"])
        return 201, {"tags": self.store.add_tags(req.params["contactId"], body["tags"])}

    def remove_tags(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "contact", req.params["contactId"])
        body = req.json()
        if "tags" not in body:
            raise unprocessable(["tags should not be empty"])
        return 200, {"tags": self.store.add_tags(req.params["contactId"], body["tags"], remove=True)}

    # ------------------------------------------------------------------ tasks / notes / appointments

    def list_tasks(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "contact", req.params["contactId"])
        return 200, {
            "tasks": [self.store.task_view(t) for t in self.store.list_tasks(req.params["contactId"])]
        }

    def get_task(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "task", req.params["taskId"])
        return 200, {
            "task": self.store.task_view(self.store.get_task(req.params["contactId"], req.params["taskId"]))
        }

    def create_task(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "contact", req.params["contactId"])
        return 201, {
            "task": self.store.task_view(self.store.create_task(req.params["contactId"], req.json()))
        }

    def update_task(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "task", req.params["taskId"])
        task = self.store.update_task(req.params["contactId"], req.params["taskId"], req.json())
        return 200, {"task": self.store.task_view(task)}

    def complete_task(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "task", req.params["taskId"])
        task = self.store.update_task(
            req.params["contactId"], req.params["taskId"], req.json(), only_completed=True
        )
        return 200, {"task": self.store.task_view(task)}

    def delete_task(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "task", req.params["taskId"])
        self.store.delete_task(req.params["contactId"], req.params["taskId"])
        return 200, {"succeded": True}

    def search_tasks(self, req: Request) -> tuple[int, Any]:
        location_id = self._own_location(req, req.params["locationId"])
        return 200, self.store.search_tasks(location_id, req.json())

    def list_notes(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "contact", req.params["contactId"])
        return 200, {
            "notes": [self.store.note_view(n) for n in self.store.list_notes(req.params["contactId"])]
        }

    def get_note(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "note", req.params["id"])
        return 200, {
            "note": self.store.note_view(self.store.get_note(req.params["contactId"], req.params["id"]))
        }

    def create_note(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "contact", req.params["contactId"])
        return 201, {
            "note": self.store.note_view(self.store.create_note(req.params["contactId"], req.json()))
        }

    def update_note(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "note", req.params["id"])
        note = self.store.update_note(req.params["contactId"], req.params["id"], req.json())
        return 200, {"note": self.store.note_view(note)}

    def delete_note(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "note", req.params["id"])
        self.store.delete_note(req.params["contactId"], req.params["id"])
        return 200, {"succeded": True}

    def list_appointments(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "contact", req.params["contactId"])
        events = self.store.list_appointments(req.params["contactId"])
        return 200, {"events": [self.store.appointment_contact_view(a) for a in events]}

    def get_appointment(self, req: Request) -> tuple[int, Any]:
        self._own_entity(req, "appointment", req.params["eventId"])
        return 200, {
            "event": self.store.appointment_event_view(self.store.get_appointment(req.params["eventId"]))
        }

    # ------------------------------------------------------------------ oauth

    def oauth_token(self, req: Request) -> tuple[int, Any]:
        form = req.form()
        for name in ("client_id", "client_secret", "grant_type"):
            if not form.get(name):
                raise ApiError(
                    400,
                    f"Missing parameter: {name}",
                    error="invalid_request",
                    error_description=f"Missing parameter: {name}",
                )
        if form["client_id"] != self.config.client_id or form["client_secret"] != self.config.client_secret:
            raise ApiError(
                401,
                "Invalid client credentials",
                error="invalid_client",
                error_description="Invalid client credentials",
            )
        if form.get("user_type") and form["user_type"] not in ("Location", "Company"):
            raise ApiError(
                400,
                "Invalid parameter: user_type",
                error="invalid_request",
                error_description="Invalid parameter: user_type",
            )
        grant = form["grant_type"]
        if grant == "authorization_code":
            if not form.get("code"):
                raise ApiError(
                    400,
                    "Missing parameter: code",
                    error="invalid_request",
                    error_description="Missing parameter: code",
                )
            return 200, self.store.exchange_code(form)
        if grant == "refresh_token":
            if not form.get("refresh_token"):
                raise ApiError(
                    400,
                    "Missing parameter: refresh_token",
                    error="invalid_request",
                    error_description="Missing parameter: refresh_token",
                )
            return 200, self.store.refresh(form)
        raise ApiError(
            400,
            "Invalid parameter: grant_type",
            error="unsupported_grant_type",
            error_description="Invalid parameter: grant_type",
        )

    def location_token(self, req: Request) -> tuple[int, Any]:
        assert req.token is not None
        return 200, self.store.location_token(req.token, req.form())

    def installed_locations(self, req: Request) -> tuple[int, Any]:
        assert req.token is not None
        return 200, self.store.installed_locations(req.token, req.query)

    def choose_location(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if query.get("client_id") != self.config.client_id:
            return 400, {"statusCode": 400, "message": "Invalid client_id"}, {}
        if query.get("response_type", "code") != "code":
            return 400, {"statusCode": 400, "message": "response_type must be code"}, {}
        redirect_uri = query.get("redirect_uri")
        if not redirect_uri or not redirect_uri.startswith(("http://", "https://")):
            return 400, {"statusCode": 400, "message": "redirect_uri is required"}, {}
        code = self.store.consent(query.get("locationId"), redirect_uri)
        params = {"code": code}
        if "state" in query:
            params["state"] = query["state"]
        separator = "&" if urllib.parse.urlsplit(redirect_uri).query else "?"
        return 302, None, {"Location": redirect_uri + separator + urllib.parse.urlencode(params)}


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GHLSandbox/1.0"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    app: SandboxApp  # set on the subclass made per server
    admin: Any

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests and benches would drown in access logs

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _handle(self, method: str) -> None:
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path) or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        trace_id = new_trace_id()
        if path.startswith("/_admin"):
            status, body = self.admin.handle(method, path, query, raw)
            self._send(status, body)
            return
        if method == "GET" and path.rstrip("/") in ("/oauth/chooselocation", "/v2/oauth/chooselocation"):
            status, body, extra = self.app.choose_location(query)
            self._send(status, body, extra)
            return
        self._serve_api(Request(method, path, query, headers, raw, trace_id=trace_id))

    def _serve_api(self, req: Request) -> None:
        app = self.app
        route, params, path_known = app.match(req.method, req.path)
        trace = {"x-trace-id": req.trace_id}
        if route is None:
            status = 405 if path_known else 404
            self._send(
                status,
                {
                    "statusCode": status,
                    "message": f"Cannot {req.method} {req.path}",
                    "error": "Not Found",
                    "traceId": req.trace_id,
                },
                trace,
            )
            return
        req.params = params
        headers = dict(trace)
        status, body = self._process(route, req, headers)
        with app._stats_lock:
            app.requests[route.key] += 1
            app.total += 1
            app.statuses[str(status)] += 1
            if status == 429:
                app.responses_429 += 1
            if req.token is not None:
                app.by_location[req.token.resource_id] += 1
        if status == -1:
            self._drop()
            return
        self._send(status, body, headers)

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
            fault = app.faults.draw(route.key, route.creates)
            if fault == "drop":
                return -1, None
            if fault in ("429", "500", "502", "503"):
                code = int(fault)
                names = {
                    429: "Too Many Requests",
                    500: "Internal Server Error",
                    502: "Bad Gateway",
                    503: "Service Unavailable",
                }
                raise ApiError(code, names[code], error=names[code])
            status, body = route.handler(req)
            if fault == "slow":
                time.sleep(app.faults.settings.slow_seconds)  # applied, then answered too late
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


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def make_server(app: SandboxApp, admin: Any, host: str, port: int) -> SandboxHTTPServer:
    handler = type("GHLSandboxHandler", (_RequestHandler,), {"app": app, "admin": admin})
    return SandboxHTTPServer((host, port), handler)
