"""Records, errors and field rules shared by the store's resource modules."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ratelimit import RateLimitSettings
from ..util import (
    now_ms,
)

Record = dict[str, Any]
EventSink = Callable[[str, dict[str, Any]], object]


class ApiError(Exception):
    """An HTTP error answer with a GHL-shaped body."""

    def __init__(self, status: int, message: str | list[str], **extra: Any) -> None:
        super().__init__(str(message))
        self.status = status
        self.body: dict[str, Any] = {"statusCode": status, "message": message, **extra}


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found", error="Not Found")


def unprocessable(messages: list[str]) -> ApiError:
    return ApiError(422, messages, error="Unprocessable Entity")


def forbidden() -> ApiError:
    return ApiError(403, "The token does not have access to this location.", error="Forbidden")


INVALID_GRANT = "Invalid grant: refresh token is invalid"

STRING_FIELDS = (
    "firstName",
    "lastName",
    "name",
    "email",
    "gender",
    "phone",
    "address1",
    "city",
    "state",
    "postalCode",
    "website",
    "timezone",
    "source",
    "country",
    "companyName",
    "assignedTo",
)
CREATE_FIELDS = frozenset(
    {
        *STRING_FIELDS,
        "locationId",
        "dnd",
        "dndSettings",
        "inboundDndSettings",
        "tags",
        "customFields",
        "dateOfBirth",
    }
)
UPDATE_FIELDS_STRICT = CREATE_FIELDS - {"locationId", "gender", "companyName"}
UPSERT_FIELDS = CREATE_FIELDS | {"createNewIfDuplicateAllowed"}
# What a person may edit in the GHL UI (admin simulate-edit).
ADMIN_CONTACT_FIELDS = (CREATE_FIELDS - {"locationId"}) | {"businessId"}

DND_CHANNELS = ("Call", "Email", "SMS", "WhatsApp", "GMB", "FB")
CONTACT_EVENT_FIELDS = (
    "address1",
    "city",
    "state",
    "companyName",
    "country",
    "source",
    "dateAdded",
    "dateOfBirth",
    "dnd",
    "email",
    "name",
    "firstName",
    "lastName",
    "phone",
    "postalCode",
    "tags",
    "website",
    "attachments",
    "assignedTo",
    "customFields",
)
SEARCH_DATE_FIELDS = frozenset({"dateAdded", "dateUpdated"})


@dataclass
class AccessToken:
    user_type: str  # "Location" | "Company"
    location_id: str | None
    company_id: str | None
    expires_at: float
    scopes: frozenset[str] | None = None  # None: every scope of the app

    def allows(self, scope: str | None) -> bool:
        return scope is None or self.scopes is None or scope in self.scopes

    @property
    def resource_id(self) -> str:
        return (self.location_id if self.user_type == "Location" else self.company_id) or ""


@dataclass
class RefreshRecord:
    user_type: str
    location_id: str | None
    company_id: str | None
    used_at: float | None = None
    replacement: dict[str, Any] | None = None
    scopes: frozenset[str] | None = None


@dataclass
class AuthCode:
    user_type: str
    location_id: str | None
    company_id: str | None
    redirect_uri: str | None
    expires_at: float
    used: bool = False


@dataclass
class CompanyState:
    id: str
    name: str
    rate: RateLimitSettings | None = None
    installed: bool = True


@dataclass
class LocationState:
    id: str
    company_id: str
    name: str
    address: str = ""
    allow_duplicates: bool = False
    duplicate_priority: list[str] = field(default_factory=lambda: ["email", "phone"])
    rate: RateLimitSettings | None = None
    scopes: frozenset[str] | None = None  # what tokens issued for this location grant; None: all
    active: bool = True
    installed: bool = True
    installed_at: int = field(default_factory=now_ms)
    contacts: dict[str, Record] = field(default_factory=dict)
    tasks: dict[str, Record] = field(default_factory=dict)
    notes: dict[str, Record] = field(default_factory=dict)
    appointments: dict[str, Record] = field(default_factory=dict)
    # contactId -> ordered ids of its children
    tasks_by_contact: dict[str, dict[str, None]] = field(default_factory=dict)
    notes_by_contact: dict[str, dict[str, None]] = field(default_factory=dict)
    appts_by_contact: dict[str, dict[str, None]] = field(default_factory=dict)
    # duplicate indexes: normalised email / phone digits -> ordered contact ids
    by_email: dict[str, dict[str, None]] = field(default_factory=dict)
    by_phone: dict[str, dict[str, None]] = field(default_factory=dict)
    custom_field_ids: dict[str, str] = field(default_factory=dict)  # key -> id
    seed_serial: int = 0
    # search index (lags the live contacts when search_index_lag_s > 0)
    search_view: dict[str, Record] = field(default_factory=dict)
    search_pending: deque[tuple[float, str, Record | None]] = field(default_factory=deque)
    search_version: int = 0
    search_cache: dict[str, tuple[int, list[tuple[tuple[Any, ...], str]]]] = field(default_factory=dict)


def index_add(index: dict[str, dict[str, None]], key: str | None, cid: str) -> None:
    if key:
        index.setdefault(key, {})[cid] = None


def index_remove(index: dict[str, dict[str, None]], key: str | None, cid: str) -> None:
    if key and key in index:
        index[key].pop(cid, None)
        if not index[key]:
            del index[key]


def drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def oauth_error(description: str, error: str = "invalid_grant") -> ApiError:
    return ApiError(400, description, error=error, error_description=description)


def parse_rate(raw: Any) -> RateLimitSettings | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ApiError(400, "rateLimit must be an object {max, intervalMs, daily}")
    try:
        settings = RateLimitSettings(
            max=int(raw.get("max", 100)),
            interval_ms=int(raw.get("intervalMs", 10000)),
            daily=int(raw.get("daily", 200000)),
        )
    except (TypeError, ValueError):
        raise ApiError(400, "rateLimit values must be integers") from None
    if settings.max < 1 or settings.interval_ms < 1 or settings.daily < 1:
        raise ApiError(400, "rateLimit values must be positive")
    return settings


def int_param(query: dict[str, Any], name: str, default: int) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise unprocessable([f"{name} must be a number"]) from None
    if value < 0:
        raise unprocessable([f"{name} must not be negative"])
    return value
