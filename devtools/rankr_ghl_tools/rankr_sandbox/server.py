"""HTTP server of the Rankr sandbox: the public API of docs/rankr-api.yaml plus the /_admin API."""

from __future__ import annotations

import json
import random
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from rankr_ghl_tools.local.faults import COMMON_RATE_KEYS, FaultInjector
from rankr_ghl_tools.rankr_sandbox.records import (
    KINDS,
    ApiProblem,
    ListQuery,
    bad_request,
    normalize_instant,
    validate_body,
)
from rankr_ghl_tools.rankr_sandbox.store import RankrStore

DEFAULT_API_KEY = "rankr-sandbox-key"
MAX_BODY_BYTES = 1_000_000
MAX_ADMIN_BODY_BYTES = 512_000_000

CONTACTS = "/v1/accounts/{accountId}/contacts"
CONTACT = "/v1/accounts/{accountId}/contacts/{contactId}"
TASKS = "/v1/accounts/{accountId}/contacts/{contactId}/tasks"
TASK = "/v1/accounts/{accountId}/contacts/{contactId}/tasks/{taskId}"
NOTES = "/v1/accounts/{accountId}/contacts/{contactId}/notes"
NOTE = "/v1/accounts/{accountId}/contacts/{contactId}/notes/{noteId}"
APPOINTMENTS = "/v1/accounts/{accountId}/appointments"
APPOINTMENT = "/v1/accounts/{accountId}/appointments/{externalId}"
TEMPLATES = (CONTACTS, CONTACT, TASKS, TASK, NOTES, NOTE, APPOINTMENTS, APPOINTMENT)


@dataclass(frozen=True)
class RankrSandboxConfig:
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    db_path: str = ":memory:"
    seed: int = 0
    retry_after_seconds: int = 1
    max_page_size: int = 500
    idempotency_ttl_s: float = 86400.0


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{pattern}$")


_ROUTES = [(template, _compile(template)) for template in TEMPLATES]


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] | None = None
    content_type: str = "application/json"


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self.requests: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.total = 0
            self.faults = 0

    def count_request(self, route_key: str) -> None:
        with self._lock:
            self.requests[route_key] += 1
            self.total += 1

    def count_status(self, status: int | str) -> None:
        with self._lock:
            self.by_status[str(status)] += 1

    def count_fault(self) -> None:
        with self._lock:
            self.faults += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "total": self.total,
                "byStatus": dict(self.by_status),
                "faults": self.faults,
            }


class RankrApp:
    """Request handling independent of the socket layer (the handler class below adapts it)."""

    def __init__(self, config: RankrSandboxConfig) -> None:
        self.config = config
        self.store = RankrStore(config.db_path, idempotency_ttl_s=config.idempotency_ttl_s)
        self.faults = FaultInjector(
            {**COMMON_RATE_KEYS, "rateDropAfterCommit": "drop_after_commit"},
            seed=config.seed,
            retry_after_seconds=config.retry_after_seconds,
        )
        self.stats = Stats()
        self._seed_rng = random.Random(config.seed)

    # ------------------------------------------------------------ public API

    def route(self, method: str, path: str) -> tuple[str | None, dict[str, str]]:
        for template, pattern in _ROUTES:
            match = pattern.match(path)
            if match:
                return template, {k: unquote(v) for k, v in match.groupdict().items()}
        return None, {}

    def check_auth(self, authorization: str | None) -> None:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or key.strip() not in self.config.api_keys:
            raise ApiProblem(
                401,
                "unauthorized",
                "Unauthorized",
                "a valid API key is required (Authorization: Bearer <key>)",
                headers={"WWW-Authenticate": 'Bearer realm="rankr"'},
            )

    def handle_api(
        self,
        method: str,
        template: str,
        *,
        params: dict[str, str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        raw_body: bytes,
    ) -> Response:
        account = params["accountId"]
        contact_id = params.get("contactId")
        if template in (CONTACTS, TASKS, NOTES):
            kind = {CONTACTS: "contact", TASKS: "task", NOTES: "note"}[template]
            parent_id = None if template == CONTACTS else contact_id
            if method == "GET":
                list_query = self._list_query(query)
                list_query.parent_id = parent_id
                return Response(200, self.store.list_records(account, kind, list_query))
            if method == "POST":
                return self._create(
                    account,
                    kind,
                    parent_id=parent_id,
                    headers=headers,
                    raw_body=raw_body,
                    method=method,
                    template=template,
                    params=params,
                )
        elif template == CONTACT:
            assert contact_id is not None
            return self._item(method, account, "contact", contact_id, parent_id=None, raw_body=raw_body)
        elif template in (TASK, NOTE):
            kind = "task" if template == TASK else "note"
            record_id = params["taskId" if kind == "task" else "noteId"]
            return self._item(method, account, kind, record_id, parent_id=contact_id, raw_body=raw_body)
        elif template == APPOINTMENTS:
            if method == "GET":
                list_query = self._list_query(query)
                if query.get("contactId"):
                    list_query.filters["contactId"] = query["contactId"][0]
                return Response(200, self.store.list_records(account, "appointment", list_query))
        elif template == APPOINTMENT:
            external_id = params["externalId"]
            if method == "PUT":
                body = validate_body("appointment", _json(raw_body), create=True)
                status, record = self.store.put_appointment(account, external_id, body)
                return Response(status, record)
            if method == "GET":
                return Response(200, self.store.get(account, "appointment", external_id))
            if method == "DELETE":
                self.store.soft_delete(account, "appointment", external_id)
                return Response(204)
        raise ApiProblem(405, "method-not-allowed", "Method Not Allowed", f"{method} is not allowed here")

    def _item(
        self, method: str, account: str, kind: str, record_id: str, *, parent_id: str | None, raw_body: bytes
    ) -> Response:
        if method == "GET":
            return Response(200, self.store.get(account, kind, record_id, parent_id))
        if method == "PATCH":
            changes = validate_body(kind, _json(raw_body), create=False)
            return Response(200, self.store.update(account, kind, record_id, changes, parent_id=parent_id))
        if method == "DELETE":
            self.store.soft_delete(account, kind, record_id, parent_id=parent_id)
            return Response(204)
        raise ApiProblem(405, "method-not-allowed", "Method Not Allowed", f"{method} is not allowed here")

    def _create(
        self,
        account: str,
        kind: str,
        *,
        parent_id: str | None,
        headers: dict[str, str],
        raw_body: bytes,
        method: str,
        template: str,
        params: dict[str, str],
    ) -> Response:
        key = headers.get("idempotency-key")
        if not key:
            raise bad_request("the Idempotency-Key header is required on creates")
        if len(key) > 255 or not re.fullmatch(r"[\x21-\x7e]+", key):
            raise bad_request("Idempotency-Key must be 1-255 printable ASCII characters")
        parsed = _json(raw_body)
        body = validate_body(kind, parsed, create=True)
        scope = f"{method} {template.format(**params)}"
        status, record, replayed = self.store.idempotent_create(
            account, scope, key, parsed, lambda: self.store.create(account, kind, body, parent_id=parent_id)
        )
        location = template.format(**params) + "/" + record["id"]
        extra = {"Location": location}
        if replayed:
            extra["Idempotent-Replayed"] = "true"
        return Response(status, record, extra)

    def _list_query(self, query: dict[str, list[str]]) -> ListQuery:
        out = ListQuery()
        if "limit" in query:
            raw = query["limit"][0]
            if not raw.isdigit() or not 1 <= int(raw) <= self.config.max_page_size:
                raise bad_request(f"limit must be an integer between 1 and {self.config.max_page_size}")
            out.limit = int(raw)
        if "updated_since" in query:
            try:
                out.updated_since = normalize_instant(query["updated_since"][0])
            except (ValueError, TypeError) as exc:
                raise bad_request("updated_since must be an RFC 3339 date-time with a timezone") from exc
        if "include_deleted" in query:
            raw = query["include_deleted"][0].lower()
            if raw not in ("true", "false"):
                raise bad_request("include_deleted must be true or false")
            out.include_deleted = raw == "true"
        if "cursor" in query:
            out.cursor = query["cursor"][0]
        return out

    # ------------------------------------------------------------ admin API

    def handle_admin(self, method: str, path: str, query: dict[str, list[str]], raw_body: bytes) -> Response:
        action = path[len("/_admin") :].strip("/")
        if method == "GET":
            if action == "state":
                account = query.get("accountId", [None])[0]
                include_deleted = query.get("includeDeleted", ["true"])[0].lower() != "false"
                return Response(200, self.store.dump(account, include_deleted))
            if action == "stats":
                return Response(200, self.stats.snapshot())
            if action == "faults":
                return Response(200, self.faults.settings.to_dict())
            if action == "health":
                return Response(200, {"ok": True})
            raise ApiProblem(404, "not-found", "Not Found", f"no admin endpoint GET /_admin/{action}")
        if method != "POST":
            raise ApiProblem(405, "method-not-allowed", "Method Not Allowed", "admin endpoints take POST")
        body = _json(raw_body) if raw_body.strip() else {}
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        handler = self._admin_actions().get(action)
        if handler is None:
            raise ApiProblem(404, "not-found", "Not Found", f"no admin endpoint POST /_admin/{action}")
        return handler(body)

    def _admin_actions(self) -> dict[str, Callable[[dict[str, Any]], Response]]:
        return {
            "reset": self._admin_reset,
            "seed": self._admin_seed,
            "create": self._admin_create,
            "bulk": self._admin_bulk,
            "edit": self._admin_edit,
            "delete": self._admin_delete,
            "faults": self._admin_faults,
            "stats/reset": self._admin_stats_reset,
        }

    def _admin_reset(self, _body: dict[str, Any]) -> Response:
        self.store.reset()
        self.stats.reset()
        self.faults.reset()
        return Response(200, {"ok": True})

    def _admin_stats_reset(self, _body: dict[str, Any]) -> Response:
        self.stats.reset()
        return Response(200, {"ok": True})

    def _admin_faults(self, body: dict[str, Any]) -> Response:
        try:
            settings = self.faults.configure(body)
        except (ValueError, TypeError) as exc:
            raise bad_request(str(exc)) from exc
        return Response(200, settings.to_dict())

    @staticmethod
    def _account(body: dict[str, Any]) -> str:
        account = body.get("accountId")
        if not isinstance(account, str) or not account:
            raise bad_request("accountId is required")
        return account

    @staticmethod
    def _entity(body: dict[str, Any]) -> str:
        entity = body.get("entity")
        if entity not in KINDS:
            raise bad_request(f"entity must be one of {', '.join(KINDS)}")
        return str(entity)

    def _admin_seed(self, body: dict[str, Any]) -> Response:
        account = self._account(body)
        count = int(body.get("contacts", 0))
        tasks_per = int(body.get("tasksPerContact", 0))
        notes_per = int(body.get("notesPerContact", 0))
        with_email = bool(body.get("withEmail", True))
        with_phone = bool(body.get("withPhone", True))
        tags = body.get("tags") or []
        if count < 0 or tasks_per < 0 or notes_per < 0:
            raise bad_request("counts must be >= 0")
        rng = self._seed_rng
        contacts = []
        for _ in range(count):
            n = rng.randrange(10**9)
            first, last = f"Seed{n % 9973}", f"Person{n % 7919}"
            contacts.append(
                {
                    "firstName": first,
                    "lastName": last,
                    "email": f"{first}.{last}.{n}@example.com".lower() if with_email else None,
                    "phone": f"+1555{n % 10**7:07d}" if with_phone else None,
                    "company": "Sandbox Inc",
                    "source": "rankr-sandbox",
                    "tags": list(tags),
                }
            )
        for item in contacts:
            validate_body("contact", item, create=True)
        ids = self.store.bulk_create_contacts(account, contacts)
        for contact_id in ids:
            for i in range(tasks_per):
                self.store.create(account, "task", {"title": f"Task {i + 1}"}, parent_id=contact_id)
            for i in range(notes_per):
                self.store.create(account, "note", {"body": f"Note {i + 1}"}, parent_id=contact_id)
        return Response(200, {"contactIds": ids})

    def _admin_create(self, body: dict[str, Any]) -> Response:
        account = self._account(body)
        entity = self._entity(body)
        fields = dict(body.get("fields") or {})
        created_at = fields.pop("createdAt", None)
        updated_at = fields.pop("updatedAt", None)
        try:
            created_at = normalize_instant(created_at) if created_at is not None else None
            updated_at = normalize_instant(updated_at) if updated_at is not None else None
        except (ValueError, TypeError) as exc:
            raise bad_request("createdAt/updatedAt must be RFC 3339 date-times") from exc
        record_id = body.get("id")
        if entity == "appointment":
            if not isinstance(record_id, str) or not record_id:
                raise bad_request("id (the GHL event id) is required for an appointment")
            clean = validate_body("appointment", fields, create=True)
            status, record = self.store.put_appointment(account, record_id, clean)
            return Response(status, record)
        clean = validate_body(entity, fields, create=True)
        parent = body.get("contactId") if entity in ("task", "note") else None
        if entity in ("task", "note") and not parent:
            raise bad_request("contactId is required for tasks and notes")
        record = self.store.create(
            account,
            entity,
            clean,
            parent_id=parent,
            record_id=record_id,
            created_at=created_at,
            updated_at=updated_at,
        )
        return Response(201, record)

    def _admin_bulk(self, body: dict[str, Any]) -> Response:
        account = self._account(body)
        contacts = body.get("contacts")
        if not isinstance(contacts, list):
            raise bad_request("contacts must be a list of contact field objects")
        clean = [validate_body("contact", item, create=True) for item in contacts]
        return Response(200, {"contactIds": self.store.bulk_create_contacts(account, clean)})

    def _admin_edit(self, body: dict[str, Any]) -> Response:
        account = self._account(body)
        entity = self._entity(body)
        record_id = str(body.get("id") or "")
        changes = validate_body(entity, body.get("changes") or {}, create=False)
        parent = body.get("contactId")
        return Response(
            200, self.store.update(account, entity, record_id, changes, parent_id=parent, force_bump=True)
        )

    def _admin_delete(self, body: dict[str, Any]) -> Response:
        account = self._account(body)
        entity = self._entity(body)
        record_id = str(body.get("id") or "")
        parent = body.get("contactId")
        return Response(200, self.store.soft_delete(account, entity, record_id, parent_id=parent))


def _json(raw_body: bytes) -> Any:
    if not raw_body.strip():
        raise bad_request("a JSON request body is required")
    try:
        return json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("the request body is not valid JSON") from exc
