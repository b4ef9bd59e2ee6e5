"""The GHL sandbox application: its routing table and the resource API handlers (see http_front.py)."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..local.faults import COMMON_RATE_KEYS, FaultInjector
from .config import SandboxConfig
from .ratelimit import RateLimiter
from .store import AccessToken, ApiError, Store, forbidden, unprocessable
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
    scope: str | None = None  # the OAuth scope a token needs (FACTS.md 1.6)

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
        self.webhooks = WebhookDispatcher(config, self.store.variants)
        self.store.sink = self.webhooks.emit
        self.limiter = RateLimiter(config.rate_limit_algorithm)
        self.faults = FaultInjector(
            {**COMMON_RATE_KEYS, "rate422Created": "422created"},
            seed=config.seed,
            create_only=frozenset({"422created"}),
        )
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
            self.store.refresh_grants_by_subject.clear()
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
            refreshGrantsBySubject=dict(self.store.refresh_grants_by_subject),
            refreshRotations=self.store.refresh_rotations,
            authCodeGrants=self.store.auth_code_grants,
            faultsInjected=dict(self.faults.injected),
            webhooksPending=self.webhooks.pending(),
        )
        return data

    def count_request(self, route_key: str, status: int, token: AccessToken | None) -> None:
        with self._stats_lock:
            self.requests[route_key] += 1
            self.total += 1
            self.statuses[str(status)] += 1
            if status == 429:
                self.responses_429 += 1
            if token is not None:
                self.by_location[token.resource_id] += 1

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
        scope: str | None = None,
    ) -> None:
        if scope is None and auth == "location":
            scope = "contacts.readonly" if method == "GET" else "contacts.write"
        route = Route(method, template, _compile(template), handler, version, auth, creates, scope)
        self.routes.append(route)

    def _register_routes(self) -> None:
        r = self._route
        # Specific paths before the {contactId} patterns that would swallow them.
        r("POST", "/contacts/search", self.search_contacts, scope="contacts.readonly")
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
        r(
            "GET",
            "/calendars/events/appointments/{eventId}",
            self.get_appointment,
            version=CALENDARS_VERSION,
            scope="calendars/events.readonly",
        )
        r("POST", "/locations/{locationId}/tasks/search", self.search_tasks, scope="locations/tasks.readonly")
        r("GET", "/locations/{locationId}", self.get_location, scope="locations.readonly")
        r("POST", "/oauth/token", self.oauth_token, version=None, auth="none")
        r("POST", "/oauth/locationToken", self.location_token, auth="company", scope="oauth.write")
        r(
            "GET",
            "/oauth/installedLocations",
            self.installed_locations,
            auth="company",
            scope="oauth.readonly",
        )

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

    def check_scope(self, token: AccessToken, route: Route) -> None:
        """A token without the route's scope: 401 or 403, as the scope_denied variant says."""
        if token.allows(route.scope):
            return
        status = self.store.variants_for(token.resource_id).scope_denied
        error = "Unauthorized" if status == 401 else "Forbidden"
        raise ApiError(status, "The token is not authorized for this scope.", error=error)

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

    def get_location(self, req: Request) -> tuple[int, Any]:
        """GET /locations/{locationId} (`locations.readonly`): the sub-account's profile."""
        location_id = self._own_location(req, req.params["locationId"])
        return 200, {"location": self.store.location_profile(location_id)}

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
