"""The Rankr sandbox's record rules: kinds and ids, field validation, patches, instants, list cursors
and the problem (RFC 7807) errors the API answers with. The SQLite state is in `store.py`."""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

KINDS = ("contact", "task", "note", "appointment")
ID_PREFIX = {"contact": "con_", "task": "tsk_", "note": "not_"}
_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


class ApiProblem(Exception):
    """An error answered as application/problem+json."""

    def __init__(
        self,
        status: int,
        name: str,
        title: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.name = name
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions or {}  # RFC 9457 extension members, e.g. resourceId

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": f"https://rankr.example/problems/{self.name}",
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            out["detail"] = self.detail
        if self.errors:
            out["errors"] = self.errors
        out.update(self.extensions)
        return out


def not_found(kind: str, record_id: str) -> ApiProblem:
    return ApiProblem(404, "not-found", "Not Found", f"{kind} {record_id} does not exist")


def validation(errors: list[dict[str, str]]) -> ApiProblem:
    return ApiProblem(422, "validation", "Validation failed", "the request body is invalid", errors=errors)


def bad_request(detail: str) -> ApiProblem:
    return ApiProblem(400, "bad-request", "Bad Request", detail)


# ---------------------------------------------------------------- time


def format_ms(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_instant(value: Any) -> int:
    """RFC 3339 date-time with an offset -> epoch ms. Raises ValueError."""
    if not isinstance(value, str) or "T" not in value.upper():
        raise ValueError("must be an RFC 3339 date-time")
    dt = datetime.fromisoformat(value.replace("z", "Z"))
    if dt.tzinfo is None:
        raise ValueError("must carry a timezone offset")
    return int(dt.replace(microsecond=0).timestamp()) * 1000 + dt.microsecond // 1000


def normalize_instant(value: Any) -> str:
    return format_ms(parse_instant(value))


class MonotonicClock:
    """Wall-clock ms that never repeats nor goes back, so every write gets a later updatedAt."""

    def __init__(self, last_ms: int = 0) -> None:
        self.last_ms = last_ms

    def tick(self) -> str:
        self.last_ms = max(int(time.time() * 1000), self.last_ms + 1)
        return format_ms(self.last_ms)

    def observe(self, stamp: str) -> None:
        self.last_ms = max(self.last_ms, parse_instant(stamp))


# ---------------------------------------------------------------- validation

_Spec = dict[str, Any]


def _check_text(value: Any, *, max_len: int, nullable: bool, min_len: int = 0) -> str | None:
    if value is None:
        return None if nullable else "must not be null"
    if not isinstance(value, str):
        return "must be a string"
    if len(value) < min_len:
        return f"must be at least {min_len} characters"
    if len(value) > max_len:
        return f"must be at most {max_len} characters"
    return None


def _check_custom_value(value: Any) -> str | None:
    if value is None or isinstance(value, bool | int | float):
        return None
    if isinstance(value, str):
        return None if len(value) <= 10000 else "must be at most 10000 characters"
    if isinstance(value, list):
        if len(value) > 100 or not all(isinstance(v, str) and len(v) <= 1000 for v in value):
            return "must be a list of at most 100 strings"
        return None
    return "must be a string, number, boolean, list of strings or null"


def _validate_field(kind: str, name: str, value: Any) -> str | None:
    """Error message for one field of a request body, or None when valid."""
    if kind == "contact":
        if name in ("firstName", "lastName", "company", "source"):
            return _check_text(value, max_len=255, nullable=True)
        if name == "email":
            problem = _check_text(value, max_len=320, nullable=True)
            if problem is None and value is not None and not _EMAIL_RE.match(value):
                problem = "must be an e-mail address"
            return problem
        if name == "phone":
            return _check_text(value, max_len=50, nullable=True)
        if name == "tags":
            if not isinstance(value, list):
                return "must be a list of strings"
            if len(value) > 100:
                return "must have at most 100 items"
            if not all(isinstance(t, str) and 1 <= len(t) <= 100 for t in value):
                return "items must be strings of 1 to 100 characters"
            return None
        if name == "customFields":
            if not isinstance(value, dict):
                return "must be an object"
            if len(value) > 200:
                return "must have at most 200 fields"
            for key, item in value.items():
                if not 1 <= len(key) <= 100:
                    return "field names must be 1 to 100 characters"
                problem = _check_custom_value(item)
                if problem:
                    return f"{key}: {problem}"
            return None
    if kind == "task":
        if name == "title":
            return _check_text(value, max_len=500, nullable=False, min_len=1)
        if name == "body":
            return _check_text(value, max_len=50000, nullable=True)
        if name == "assignee":
            return _check_text(value, max_len=255, nullable=True)
        if name == "completed":
            return None if isinstance(value, bool) else "must be a boolean"
        if name == "dueDate":
            return _check_instant(value, nullable=True)
    if kind == "note":
        if name == "body":
            return _check_text(value, max_len=50000, nullable=False, min_len=1)
        if name == "title":
            return _check_text(value, max_len=500, nullable=True)
    if kind == "appointment":
        if name == "status":
            return _check_text(value, max_len=50, nullable=False, min_len=1)
        if name in ("startTime", "endTime"):
            return _check_instant(value, nullable=False)
        if name == "title":
            return _check_text(value, max_len=500, nullable=True)
        if name == "calendarId":
            return _check_text(value, max_len=128, nullable=True)
        if name == "contactId":
            if value is None:
                return None
            return None if isinstance(value, str) and _ID_RE.match(value) else "must be a Rankr contact id"
    return "is not a known field"


def _check_instant(value: Any, *, nullable: bool) -> str | None:
    if value is None:
        return None if nullable else "must not be null"
    try:
        parse_instant(value)
    except (ValueError, TypeError):
        return "must be an RFC 3339 date-time with a timezone"
    return None


FIELDS: dict[str, tuple[str, ...]] = {
    "contact": ("firstName", "lastName", "email", "phone", "company", "source", "tags", "customFields"),
    "task": ("title", "body", "dueDate", "completed", "assignee"),
    "note": ("title", "body"),
    "appointment": ("status", "startTime", "endTime", "title", "contactId", "calendarId"),
}
REQUIRED_ON_CREATE: dict[str, tuple[str, ...]] = {
    "contact": (),
    "task": ("title",),
    "note": ("body",),
    "appointment": ("status", "startTime", "endTime"),
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "contact": {
        "firstName": None,
        "lastName": None,
        "email": None,
        "phone": None,
        "company": None,
        "source": None,
        "tags": [],
        "customFields": {},
    },
    "task": {"title": "", "body": None, "dueDate": None, "completed": False, "assignee": None},
    "note": {"title": None, "body": ""},
    "appointment": {
        "status": "",
        "startTime": "",
        "endTime": "",
        "title": None,
        "contactId": None,
        "calendarId": None,
    },
}


def validate_body(kind: str, body: Any, *, create: bool) -> dict[str, Any]:
    """Validate a create (or full PUT) / PATCH body; returns it with instants normalised."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    errors: list[dict[str, str]] = []
    for name, value in body.items():
        if name not in FIELDS[kind]:
            errors.append({"field": name, "message": "is not a known field"})
            continue
        problem = _validate_field(kind, name, value)
        if problem:
            errors.append({"field": name, "message": problem})
    if create:
        errors.extend(
            {"field": name, "message": "is required"} for name in REQUIRED_ON_CREATE[kind] if name not in body
        )
    if errors:
        raise validation(errors)
    clean = dict(body)
    for name in ("dueDate", "startTime", "endTime"):
        if clean.get(name) is not None:
            clean[name] = normalize_instant(clean[name])
    return clean


def apply_patch(kind: str, current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for name, value in changes.items():
        if kind == "contact" and name == "customFields":
            custom = dict(current.get("customFields") or {})
            for key, item in value.items():
                if item is None:
                    custom.pop(key, None)
                else:
                    custom[key] = item
            merged["customFields"] = custom
        else:
            merged[name] = value
    return merged


# ---------------------------------------------------------------- cursors


def encode_cursor(updated_at: str, record_id: str) -> str:
    raw = json.dumps([updated_at, record_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_at, record_id = json.loads(raw)
        if not isinstance(updated_at, str) or not isinstance(record_id, str):
            raise ValueError
        parse_instant(updated_at)
    except (ValueError, TypeError) as exc:
        raise bad_request("cursor is not valid") from exc
    return updated_at, record_id


@dataclass
class ListQuery:
    updated_since: str | None = None
    include_deleted: bool | None = None
    cursor: str | None = None
    limit: int = 100
    parent_id: str | None = None
    filters: dict[str, str] = field(default_factory=dict)
