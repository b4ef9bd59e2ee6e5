"""In-memory GHL state per location, with GHL's rules (duplicates, upsert, search, tokens).

All public methods of `Store` take the store lock; the HTTP layer never touches the dicts directly.
Mutations report webhook events through `Store.sink(type, payload)` while the lock is held, so the
event order is the mutation order.
"""

from __future__ import annotations

import bisect
import functools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .config import SandboxConfig
from .ratelimit import RateLimitSettings
from .util import (
    email_key,
    iso_ms,
    iso_offset,
    new_id,
    new_token,
    normalize_phone,
    now_ms,
    parse_time_ms,
    phone_key,
    plain_datetime,
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

_STRING_FIELDS = (
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
        *_STRING_FIELDS,
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

_DND_CHANNELS = ("Call", "Email", "SMS", "WhatsApp", "GMB", "FB")
_CONTACT_EVENT_FIELDS = (
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


def _index_add(index: dict[str, dict[str, None]], key: str | None, cid: str) -> None:
    if key:
        index.setdefault(key, {})[cid] = None


def _index_remove(index: dict[str, dict[str, None]], key: str | None, cid: str) -> None:
    if key and key in index:
        index[key].pop(cid, None)
        if not index[key]:
            del index[key]


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


class Store:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.sink: EventSink = lambda _type, _payload: None
        self.reset()

    # ------------------------------------------------------------------ lifecycle / admin

    def reset(self) -> None:
        with self.lock:
            self.locations: dict[str, LocationState] = {}
            self.companies: dict[str, CompanyState] = {}
            self.contact_loc: dict[str, str] = {}
            self.task_loc: dict[str, str] = {}
            self.note_loc: dict[str, str] = {}
            self.appt_loc: dict[str, str] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, RefreshRecord] = {}
            self.codes: dict[str, AuthCode] = {}
            self.consent_override: tuple[str, str] | None = None  # ("Location"|"Company", id)
            self.refresh_grants = 0
            self.refresh_rotations = 0
            self.auth_code_grants = 0

    def ensure_company(self, company_id: str, name: str | None = None) -> CompanyState:
        with self.lock:
            company = self.companies.get(company_id)
            if company is None:
                company = CompanyState(id=company_id, name=name or f"Company {company_id}")
                self.companies[company_id] = company
            elif name:
                company.name = name
            return company

    def upsert_location(self, body: dict[str, Any]) -> LocationState:
        location_id = body.get("locationId")
        if not isinstance(location_id, str) or not location_id:
            raise ApiError(400, "locationId is required")
        priority = body.get("duplicatePriority", ["email", "phone"])
        if (
            not isinstance(priority, list)
            or not priority
            or any(p not in ("email", "phone") for p in priority)
        ):
            raise ApiError(400, "duplicatePriority must be a non-empty list of 'email'/'phone'")
        rate = _parse_rate(body.get("rateLimit"))
        with self.lock:
            loc = self.locations.get(location_id)
            company_id = body.get("companyId") or (loc.company_id if loc else f"company-{location_id}")
            self.ensure_company(company_id)
            if loc is None:
                loc = LocationState(
                    id=location_id, company_id=company_id, name=body.get("name") or location_id
                )
                self.locations[location_id] = loc
            loc.company_id = company_id
            if body.get("name"):
                loc.name = body["name"]
            if "address" in body:
                loc.address = str(body["address"])
            if "allowDuplicates" in body:
                loc.allow_duplicates = bool(body["allowDuplicates"])
            loc.duplicate_priority = list(priority)
            if rate is not None:
                loc.rate = rate
            if "active" in body:
                loc.active = bool(body["active"])
            if "installed" in body:
                loc.installed = bool(body["installed"])
            return loc

    def upsert_company(self, body: dict[str, Any]) -> CompanyState:
        company_id = body.get("companyId")
        if not isinstance(company_id, str) or not company_id:
            raise ApiError(400, "companyId is required")
        rate = _parse_rate(body.get("rateLimit"))
        with self.lock:
            company = self.ensure_company(company_id, body.get("name"))
            if rate is not None:
                company.rate = rate
            if "installed" in body:
                company.installed = bool(body["installed"])
            return company

    def location_view(self, loc: LocationState) -> dict[str, Any]:
        return {
            "locationId": loc.id,
            "companyId": loc.company_id,
            "name": loc.name,
            "allowDuplicates": loc.allow_duplicates,
            "duplicatePriority": loc.duplicate_priority,
            "active": loc.active,
            "installed": loc.installed,
            "rateLimit": self.rate_settings_for(loc.id).__dict__,
        }

    def get_location(self, location_id: str) -> LocationState:
        loc = self.locations.get(location_id)
        if loc is None:
            raise not_found("Location")
        return loc

    def rate_settings_for(self, resource_id: str) -> RateLimitSettings:
        cfg = self.config
        default = RateLimitSettings(cfg.rate_limit_max, cfg.rate_limit_interval_ms, cfg.daily_limit)
        with self.lock:
            loc = self.locations.get(resource_id)
            if loc is not None:
                return loc.rate or default
            company = self.companies.get(resource_id)
            if company is not None:
                return company.rate or default
            return default

    # ------------------------------------------------------------------ tokens

    def _issue_access(self, user_type: str, location_id: str | None, company_id: str | None) -> str:
        token = new_token("sbx-at")
        self.access_tokens[token] = AccessToken(
            user_type, location_id, company_id, time.time() + float(self.config.access_token_ttl_s)
        )
        return token

    def _issue_pair(self, user_type: str, location_id: str | None, company_id: str | None) -> dict[str, Any]:
        access = self._issue_access(user_type, location_id, company_id)
        refresh = new_token("sbx-rt")
        self.refresh_tokens[refresh] = RefreshRecord(user_type, location_id, company_id)
        response: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.config.access_token_ttl_s),
            "refresh_token": refresh,
            "scope": self.config.scope,
            "userType": user_type,
            "companyId": company_id,
            "userId": f"user-{company_id}",
            "planId": self.config.plan_id,
        }
        if user_type == "Location":
            response["locationId"] = location_id
            response["isBulkInstallation"] = False
        else:
            company_locs = [loc.id for loc in self.locations.values() if loc.company_id == company_id]
            response["approvedLocations"] = company_locs
            response["isBulkInstallation"] = True
            response["installToFutureLocations"] = True
            response["approveAllLocations"] = True
        return _drop_none(response)

    def admin_tokens(self, location_id: str | None, company_id: str | None) -> dict[str, Any]:
        with self.lock:
            if location_id:
                loc = self.locations.get(location_id) or self.upsert_location({"locationId": location_id})
                loc.installed = True
                return self._issue_pair("Location", loc.id, loc.company_id)
            if company_id:
                company = self.ensure_company(company_id)
                company.installed = True
                return self._issue_pair("Company", None, company.id)
            raise ApiError(400, "locationId or companyId is required")

    def expire_tokens(self, location_id: str | None, company_id: str | None) -> int:
        with self.lock:
            count = 0
            for token in self.access_tokens.values():
                if (location_id and token.user_type == "Location" and token.location_id == location_id) or (
                    company_id and token.user_type == "Company" and token.company_id == company_id
                ):
                    token.expires_at = 0.0
                    count += 1
            return count

    def revoke(self, location_id: str | None, company_id: str | None) -> None:
        """Uninstall: every token of the subject stops working."""
        with self.lock:
            for table in (self.access_tokens, self.refresh_tokens):
                for key in [
                    k
                    for k, v in table.items()
                    if (location_id and v.user_type == "Location" and v.location_id == location_id)
                    or (company_id and v.user_type == "Company" and v.company_id == company_id)
                ]:
                    del table[key]

    def authenticate(self, token: str) -> AccessToken | None:
        with self.lock:
            record = self.access_tokens.get(token)
            if record is None or record.expires_at <= time.time():
                return None
            return record

    def consent(self, location_hint: str | None, redirect_uri: str | None) -> str:
        """Automatic consent of /oauth/chooselocation: returns an authorization code."""
        with self.lock:
            cfg = self.config
            if location_hint:
                subject = ("Location", location_hint)
            elif self.consent_override:
                subject = self.consent_override
            elif cfg.auto_consent_location_id:
                subject = ("Location", cfg.auto_consent_location_id)
            elif cfg.auto_consent_company_id:
                subject = ("Company", cfg.auto_consent_company_id)
            elif len(self.locations) == 1:
                subject = ("Location", next(iter(self.locations)))
            else:
                raise ApiError(400, "No location to consent for: configure auto_consent_location_id")
            if subject[0] == "Location":
                loc = self.locations.get(subject[1]) or self.upsert_location({"locationId": subject[1]})
                code_record = AuthCode("Location", loc.id, loc.company_id, redirect_uri, time.time() + 600)
            else:
                company = self.ensure_company(subject[1])
                code_record = AuthCode("Company", None, company.id, redirect_uri, time.time() + 600)
            code = new_token("sbx-code")
            self.codes[code] = code_record
            return code

    def exchange_code(self, form: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            self.auth_code_grants += 1
            code = self.codes.get(form.get("code") or "")
            if code is None or code.used or code.expires_at < time.time():
                raise _oauth_error("Invalid grant: authorization code is invalid")
            if code.redirect_uri and form.get("redirect_uri") and form["redirect_uri"] != code.redirect_uri:
                raise _oauth_error("Invalid grant: redirect_uri does not match", "invalid_grant")
            user_type = form.get("user_type") or code.user_type
            if user_type != code.user_type:
                raise ApiError(400, "Invalid parameter: user_type", error="invalid_request")
            code.used = True
            if code.user_type == "Location" and code.location_id in self.locations:
                loc = self.locations[code.location_id]
                loc.installed = True
                loc.installed_at = now_ms()
            return self._issue_pair(code.user_type, code.location_id, code.company_id)

    def refresh(self, form: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            self.refresh_grants += 1
            record = self.refresh_tokens.get(form.get("refresh_token") or "")
            if record is None:
                raise _oauth_error(INVALID_GRANT)
            if form.get("user_type") and form["user_type"] != record.user_type:
                raise ApiError(400, "Invalid parameter: user_type", error="invalid_request")
            if record.user_type == "Location":
                loc = self.locations.get(record.location_id or "")
                # GHL: "Once the location becomes active again, the same refresh token can be used".
                if loc is not None and not loc.active:
                    raise ApiError(
                        400,
                        "Location is not active",
                        error="invalid_request",
                        error_description="Location is not active",
                    )
            now = time.time()
            if record.used_at is not None:
                if record.replacement is not None and now - record.used_at <= float(
                    self.config.refresh_grace_s
                ):
                    return dict(record.replacement)
                raise _oauth_error(INVALID_GRANT)
            pair = self._issue_pair(record.user_type, record.location_id, record.company_id)
            record.used_at = now
            record.replacement = pair
            self.refresh_rotations += 1
            return dict(pair)

    def location_token(self, company_token: AccessToken, form: dict[str, str]) -> dict[str, Any]:
        company_id, location_id = form.get("companyId"), form.get("locationId")
        missing = [
            name for name, value in (("companyId", company_id), ("locationId", location_id)) if not value
        ]
        if missing:
            raise unprocessable([f"{name} should not be empty" for name in missing])
        with self.lock:
            if company_id != company_token.company_id:
                raise forbidden()
            loc = self.locations.get(location_id or "")
            if loc is None or loc.company_id != company_id:
                raise ApiError(400, "Location not found for this company")
            if not loc.installed:
                raise ApiError(400, "The app is not installed on this location")
            access = self._issue_access("Location", loc.id, loc.company_id)
            return {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": int(self.config.access_token_ttl_s),
                "scope": self.config.scope,
                "locationId": loc.id,
                "planId": self.config.plan_id,
                "userId": f"user-{company_id}",
                "appId": self.config.app_id,
                "versionId": self.config.app_version_id,
            }

    def installed_locations(self, company_token: AccessToken, query: dict[str, str]) -> dict[str, Any]:
        missing = [name for name in ("companyId", "appId") if not query.get(name)]
        if missing:
            raise unprocessable([f"{name} should not be empty" for name in missing])
        if query["appId"] != self.config.app_id:
            raise ApiError(400, "Invalid appId")
        skip, limit = _int_param(query, "skip", 0), _int_param(query, "limit", 20)
        with self.lock:
            if query["companyId"] != company_token.company_id:
                raise forbidden()
            locs = [loc for loc in self.locations.values() if loc.company_id == query["companyId"]]
            if query.get("isInstalled") in ("true", "false"):
                wanted = query["isInstalled"] == "true"
                locs = [loc for loc in locs if loc.installed == wanted]
            if query.get("locationId"):
                locs = [loc for loc in locs if loc.id == query["locationId"]]
            if query.get("query"):
                needle = query["query"].lower()
                locs = [loc for loc in locs if needle in loc.name.lower()]
            page = locs[skip : skip + limit]
            return {
                "locations": [
                    _drop_none(
                        {
                            "_id": loc.id,
                            "name": loc.name,
                            "address": loc.address,
                            "isInstalled": loc.installed,
                            "versionId": self.config.app_version_id if loc.installed else None,
                            "installedAt": iso_ms(loc.installed_at) if loc.installed else None,
                        }
                    )
                    for loc in page
                ],
                "count": len(locs),
                "installToFutureLocations": True,
            }

    # ------------------------------------------------------------------ ownership helpers

    def owner_of(self, entity: str, entity_id: str) -> str | None:
        table = {"contact": self.contact_loc, "task": self.task_loc, "note": self.note_loc}.get(entity)
        if entity == "appointment":
            table = self.appt_loc
        return table.get(entity_id) if table is not None else None

    # ------------------------------------------------------------------ contacts: views

    def contact_view(self, c: Record) -> dict[str, Any]:
        first, last = c.get("firstName"), c.get("lastName")
        full = " ".join(p for p in (first, last) if p) or c.get("name")
        view: dict[str, Any] = {
            "id": c["id"],
            "locationId": c["locationId"],
            "name": full,
            "firstName": first,
            "lastName": last,
            "firstNameLowerCase": first.lower() if first else None,
            "lastNameLowerCase": last.lower() if last else None,
            "fullNameLowerCase": full.lower() if full else None,
            "email": c.get("email"),
            "emailLowerCase": c["email"].lower() if c.get("email") else None,
            "phone": c.get("phone"),
            "companyName": c.get("companyName"),
            "gender": c.get("gender"),
            "timezone": c.get("timezone"),
            "dnd": bool(c.get("dnd", False)),
            "dndSettings": c.get("dndSettings"),
            "inboundDndSettings": c.get("inboundDndSettings"),
            "type": c.get("type", "lead"),
            "source": c.get("source"),
            "assignedTo": c.get("assignedTo"),
            "address1": c.get("address1"),
            "city": c.get("city"),
            "state": c.get("state"),
            "country": c.get("country"),
            "postalCode": c.get("postalCode"),
            "website": c.get("website"),
            "tags": list(c.get("tags", [])),
            "dateOfBirth": c.get("dateOfBirth"),
            "dateAdded": iso_ms(c["dateAdded_ms"]),
            "dateUpdated": iso_ms(c["dateUpdated_ms"]),
            "customFields": [{"id": k, "value": v} for k, v in c.get("customFields", {}).items()],
            "businessId": c.get("businessId"),
            "additionalEmails": [],
            "followers": [],
        }
        return _drop_none(view)

    def created_contact_view(self, c: Record) -> dict[str, Any]:
        view = self.contact_view(c)
        view.update(
            {"deleted": False, "bounceEmail": False, "unsubscribeEmail": False, "offers": [], "products": []}
        )
        dob = c.get("dateOfBirth_ms")
        if dob is not None:
            view["birthMonth"] = int(iso_ms(dob)[5:7]) - 1
            view["birthDay"] = int(iso_ms(dob)[8:10])
        return view

    def contact_event(self, event_type: str, c: Record) -> dict[str, Any]:
        view = self.contact_view(c)
        payload: dict[str, Any] = {"type": event_type, "locationId": c["locationId"], "id": c["id"]}
        for key in _CONTACT_EVENT_FIELDS:
            if key == "attachments":
                payload[key] = []
            elif key in view:
                payload[key] = view[key]
        if event_type == "ContactDndUpdate":
            payload["dndSettings"] = c.get("dndSettings") or {}
        return payload

    # ------------------------------------------------------------------ contacts: validation

    def _validate_contact_body(self, body: dict[str, Any], allowed: frozenset[str]) -> list[str]:
        errors = [f"property {key} should not exist" for key in body if key not in allowed]
        for key in _STRING_FIELDS:
            if key in body and body[key] is not None and not isinstance(body[key], str):
                errors.append(f"{key} must be a string")
        if isinstance(body.get("email"), str) and body["email"] and "@" not in body["email"]:
            errors.append("email must be an email")
        if "dnd" in body and not isinstance(body["dnd"], bool):
            errors.append("dnd must be a boolean value")
        if "tags" in body and (
            not isinstance(body["tags"], list) or not all(isinstance(t, str) for t in body["tags"])
        ):
            errors.append("each value in tags must be a string")
        if "customFields" in body:
            items = body["customFields"]
            if not isinstance(items, list) or not all(
                isinstance(i, dict) and (isinstance(i.get("id"), str) or isinstance(i.get("key"), str))
                for i in items
            ):
                errors.append("customFields must be an array of {id|key, field_value}")
        for key in ("dndSettings", "inboundDndSettings"):
            if key in body and body[key] is not None and not isinstance(body[key], dict):
                errors.append(f"{key} must be an object")
        if isinstance(body.get("dndSettings"), dict):
            for channel, setting in body["dndSettings"].items():
                if channel not in _DND_CHANNELS:
                    errors.append(f"dndSettings.property {channel} should not exist")
                elif not isinstance(setting, dict) or setting.get("status") not in (
                    "active",
                    "inactive",
                    "permanent",
                ):
                    errors.append(f"dndSettings.{channel}.status must be one of active, inactive, permanent")
        if body.get("dateOfBirth") is not None:
            try:
                parse_time_ms(body["dateOfBirth"])
            except ValueError:
                errors.append("dateOfBirth must be a valid date")
        return errors

    def _apply_fields(self, loc: LocationState, c: Record, body: dict[str, Any]) -> set[str]:
        """Write `body` into the (copied) record `c`; returns the names of fields that changed."""
        changed: set[str] = set()

        def put(key: str, value: Any) -> None:
            if c.get(key) != value:
                changed.add(key)
                if value is None:
                    c.pop(key, None)
                else:
                    c[key] = value

        for key in (*_STRING_FIELDS, "businessId"):
            if key in body:
                value = body[key]
                if key == "phone" and value:
                    value = normalize_phone(value) or None
                if isinstance(value, str) and value == "" and key in ("email", "phone"):
                    value = None
                put(key, value)
        if "name" in body and body.get("name") and "firstName" not in body and "lastName" not in body:
            first, _, last = body["name"].strip().partition(" ")
            put("firstName", first or None)
            put("lastName", last or None)
        if "dnd" in body:
            put("dnd", bool(body["dnd"]))
        for key in ("dndSettings", "inboundDndSettings"):
            if key in body:
                merged = {**(c.get(key) or {}), **(body[key] or {})} if body[key] else None
                put(key, merged)
        if "tags" in body:
            tags: list[str] = []
            for raw_tag in body["tags"]:
                tag = raw_tag.strip().lower()  # GHL stores tags lower-cased
                if tag and tag not in tags:
                    tags.append(tag)
            put("tags", tags)
        if "customFields" in body:
            fields = dict(c.get("customFields", {}))
            for item in body["customFields"]:
                field_id = item.get("id")
                if not field_id:
                    key = item["key"].removeprefix("contact.")
                    field_id = loc.custom_field_ids.setdefault(key, new_id())
                value = item.get("field_value", item.get("value"))
                if value is None or value == "":
                    fields.pop(field_id, None)
                else:
                    fields[field_id] = value
            put("customFields", fields)
        if "dateOfBirth" in body:
            if body["dateOfBirth"] is None:
                put("dateOfBirth", None)
                c.pop("dateOfBirth_ms", None)
            else:
                dob_ms = parse_time_ms(body["dateOfBirth"])
                c["dateOfBirth_ms"] = dob_ms
                put("dateOfBirth", iso_ms(dob_ms))
        return changed

    def _find_match(
        self,
        loc: LocationState,
        email: str | None,
        phone: str | None,
        exclude: str | None = None,
        priority: Iterable[str] | None = None,
    ) -> tuple[str, str] | None:
        keys = {"email": email_key(email), "phone": phone_key(phone)}
        indexes = {"email": loc.by_email, "phone": loc.by_phone}
        for field_name in priority or loc.duplicate_priority:
            key = keys.get(field_name)
            if not key:
                continue
            for cid in indexes[field_name].get(key, {}):
                if cid != exclude:
                    return cid, field_name
        return None

    def _duplicate_error(self, match: tuple[str, str]) -> ApiError:
        return ApiError(
            400,
            "This location does not allow duplicated contacts.",
            meta={"contactId": match[0], "matchingField": match[1]},
        )

    def _store_contact(self, loc: LocationState, new: Record, old: Record | None) -> None:
        cid = new["id"]
        if old is not None:
            _index_remove(loc.by_email, email_key(old.get("email")), cid)
            _index_remove(loc.by_phone, phone_key(old.get("phone")), cid)
        loc.contacts[cid] = new
        self.contact_loc[cid] = loc.id
        _index_add(loc.by_email, email_key(new.get("email")), cid)
        _index_add(loc.by_phone, phone_key(new.get("phone")), cid)
        self._search_write(loc, cid, new)

    def _search_write(self, loc: LocationState, cid: str, record: Record | None) -> None:
        lag = float(self.config.search_index_lag_s)
        if lag <= 0 and not loc.search_pending:
            self._search_apply(loc, cid, record)
        else:
            loc.search_pending.append((time.monotonic() + max(lag, 0.0), cid, record))

    def _search_apply(self, loc: LocationState, cid: str, record: Record | None) -> None:
        if record is None:
            loc.search_view.pop(cid, None)
        else:
            loc.search_view[cid] = record
        loc.search_version += 1

    def _search_catch_up(self, loc: LocationState) -> None:
        now = time.monotonic()
        lag = float(self.config.search_index_lag_s)
        while loc.search_pending and (lag <= 0 or loc.search_pending[0][0] <= now):
            _, cid, record = loc.search_pending.popleft()
            self._search_apply(loc, cid, record)

    # ------------------------------------------------------------------ contacts: operations

    def _new_contact(self, loc: LocationState, body: dict[str, Any], when: int | None = None) -> Record:
        stamp = when if when is not None else now_ms()
        c: Record = {
            "id": new_id(),
            "locationId": loc.id,
            "type": "lead",
            "tags": [],
            "customFields": {},
            "dateAdded_ms": stamp,
            "dateUpdated_ms": stamp,
        }
        self._apply_fields(loc, c, body)
        return c

    def create_contact(self, body: dict[str, Any], *, emit: bool = True, check_fields: bool = True) -> Record:
        if check_fields:
            errors = self._validate_contact_body(body, CREATE_FIELDS)
            if errors:
                raise unprocessable(errors)
        with self.lock:
            loc = self.get_location(body.get("locationId") or "")
            if not loc.allow_duplicates:
                match = self._find_match(loc, body.get("email"), body.get("phone"))
                if match:
                    raise self._duplicate_error(match)
            fields = {k: v for k, v in body.items() if k != "locationId"}
            c = self._new_contact(loc, fields)
            self._store_contact(loc, c, None)
            if emit:
                self.sink("ContactCreate", self.contact_event("ContactCreate", c))
            return c

    def update_contact(
        self,
        contact_id: str,
        body: dict[str, Any],
        *,
        emit: bool = True,
        allowed: frozenset[str] | None = None,
    ) -> Record:
        if allowed is None:
            allowed = (
                UPDATE_FIELDS_STRICT if self.config.strict_update_fields else CREATE_FIELDS - {"locationId"}
            )
        errors = self._validate_contact_body(body, allowed)
        if errors:
            raise unprocessable(errors)
        with self.lock:
            loc, old = self._contact(contact_id)
            if not loc.allow_duplicates:
                match = self._find_match(loc, body.get("email"), body.get("phone"), exclude=contact_id)
                if match:
                    raise self._duplicate_error(match)
            return self._write_contact(loc, old, body, emit=emit)

    def _write_contact(self, loc: LocationState, old: Record, body: dict[str, Any], *, emit: bool) -> Record:
        new = {**old, "tags": list(old.get("tags", [])), "customFields": dict(old.get("customFields", {}))}
        changed = self._apply_fields(loc, new, body)
        if not changed:
            return old
        new["dateUpdated_ms"] = max(now_ms(), old["dateUpdated_ms"])
        self._store_contact(loc, new, old)
        if emit:
            other = changed - {"tags", "dnd", "dndSettings", "inboundDndSettings"}
            if other:
                self.sink("ContactUpdate", self.contact_event("ContactUpdate", new))
            if "tags" in changed:
                self.sink("ContactTagUpdate", self.contact_event("ContactTagUpdate", new))
            if changed & {"dnd", "dndSettings"}:
                self.sink("ContactDndUpdate", self.contact_event("ContactDndUpdate", new))
        return new

    def _contact(self, contact_id: str) -> tuple[LocationState, Record]:
        location_id = self.contact_loc.get(contact_id)
        loc = self.locations.get(location_id or "")
        if loc is None or contact_id not in loc.contacts:
            raise not_found("Contact")
        return loc, loc.contacts[contact_id]

    def get_contact(self, contact_id: str) -> Record:
        with self.lock:
            return self._contact(contact_id)[1]

    def delete_contact(self, contact_id: str, *, emit: bool = True) -> None:
        with self.lock:
            loc, c = self._contact(contact_id)
            _index_remove(loc.by_email, email_key(c.get("email")), contact_id)
            _index_remove(loc.by_phone, phone_key(c.get("phone")), contact_id)
            del loc.contacts[contact_id]
            del self.contact_loc[contact_id]
            self._search_write(loc, contact_id, None)
            # Children go with the contact (GHL sends no child delete events for this).
            for tid in loc.tasks_by_contact.pop(contact_id, {}):
                loc.tasks.pop(tid, None)
                self.task_loc.pop(tid, None)
            for nid in loc.notes_by_contact.pop(contact_id, {}):
                loc.notes.pop(nid, None)
                self.note_loc.pop(nid, None)
            for aid in loc.appts_by_contact.pop(contact_id, {}):
                loc.appointments.pop(aid, None)
                self.appt_loc.pop(aid, None)
            if emit:
                self.sink("ContactDelete", self.contact_event("ContactDelete", c))

    def upsert_contact(self, body: dict[str, Any]) -> tuple[bool, Record]:
        errors = self._validate_contact_body(body, UPSERT_FIELDS)
        if "createNewIfDuplicateAllowed" in body and not isinstance(
            body["createNewIfDuplicateAllowed"], bool
        ):
            errors.append("createNewIfDuplicateAllowed must be a boolean value")
        if errors:
            raise unprocessable(errors)
        fields = {k: v for k, v in body.items() if k not in ("locationId", "createNewIfDuplicateAllowed")}
        with self.lock:
            loc = self.get_location(body.get("locationId") or "")
            if loc.allow_duplicates and body.get("createNewIfDuplicateAllowed"):
                return True, self.create_contact({**fields, "locationId": loc.id}, check_fields=False)
            match = self._find_match(loc, fields.get("email"), fields.get("phone"))
            if match is None:
                return True, self.create_contact({**fields, "locationId": loc.id}, check_fields=False)
            target_id, matched_field = match
            # The other identifier belongs to a different contact: silently ignore it (GHL issue #37).
            other_field = "phone" if matched_field == "email" else "email"
            if fields.get(other_field) and not loc.allow_duplicates:
                other = self._find_match(
                    loc, fields.get("email"), fields.get("phone"), exclude=target_id, priority=[other_field]
                )
                if other is not None:
                    fields.pop(other_field)
            elif fields.get(other_field) and loc.allow_duplicates:
                pass  # duplicates allowed: the other value may be shared
            return False, self._write_contact(loc, loc.contacts[target_id], fields, emit=True)

    def duplicate_search(self, location_id: str, email: str | None, number: str | None) -> Record | None:
        with self.lock:
            loc = self.get_location(location_id)
            priority = loc.duplicate_priority if not loc.allow_duplicates else ["email", "phone"]
            match = self._find_match(loc, email, number, priority=priority)
            return loc.contacts[match[0]] if match else None

    def list_contacts(self, location_id: str, query: dict[str, str]) -> dict[str, Any]:
        """Deprecated GET /contacts/: dateAdded ascending, cursor startAfter (ms) + startAfterId."""
        limit = _int_param(query, "limit", 20)
        if limit > 100:
            raise unprocessable(["limit must not be greater than 100"])
        if limit < 1:
            raise unprocessable(["limit must not be less than 1"])
        start_after = query.get("startAfter")
        start_after_id = query.get("startAfterId") or ""
        with self.lock:
            loc = self.get_location(location_id)
            rows = sorted(
                (c["dateAdded_ms"], c["id"])
                for c in loc.contacts.values()
                if _matches_query(c, query.get("query"))
            )
            start = 0
            if start_after:
                try:
                    cursor = (int(float(start_after)), start_after_id)
                except ValueError:
                    raise unprocessable(["startAfter must be a number"]) from None
                start = bisect.bisect_right(rows, cursor)
            elif start_after_id and start_after_id in loc.contacts:
                start = bisect.bisect_right(
                    rows, (loc.contacts[start_after_id]["dateAdded_ms"], start_after_id)
                )
            page = rows[start : start + limit]
            contacts = [self.contact_view(loc.contacts[cid]) for _, cid in page]
            meta: dict[str, Any] = {"total": len(rows), "currentPage": start // limit + 1}
            if start + limit < len(rows) and page:
                meta.update(startAfter=page[-1][0], startAfterId=page[-1][1], nextPage=start // limit + 2)
            return {"contacts": contacts, "count": len(rows), "meta": meta}

    def business_contacts(self, location_id: str, business_id: str, query: dict[str, str]) -> dict[str, Any]:
        limit, skip = _int_param(query, "limit", 25), _int_param(query, "skip", 0)
        with self.lock:
            loc = self.get_location(location_id)
            rows = [
                c
                for c in loc.contacts.values()
                if c.get("businessId") == business_id and _matches_query(c, query.get("query"))
            ]
            return {"contacts": [self.contact_view(c) for c in rows[skip : skip + limit]], "count": len(rows)}

    def add_tags(self, contact_id: str, tags: Any, *, remove: bool = False) -> list[str]:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise unprocessable(["each value in tags must be a string"])
        with self.lock:
            loc, c = self._contact(contact_id)
            wanted = [t.strip().lower() for t in tags if t.strip()]
            current = list(c.get("tags", []))
            if remove:
                new_tags = [t for t in current if t not in wanted]
            else:
                new_tags = current + [t for t in dict.fromkeys(wanted) if t not in current]
            updated = self._write_contact(loc, c, {"tags": new_tags}, emit=True)
            return list(updated.get("tags", []))

    # ------------------------------------------------------------------ search

    def search_contacts(self, body: dict[str, Any]) -> dict[str, Any]:
        location_id = body.get("locationId")
        if not isinstance(location_id, str) or not location_id:
            raise unprocessable(["locationId should not be empty"])
        page_limit = body.get("pageLimit", 20)
        if isinstance(page_limit, bool) or not isinstance(page_limit, int) or not 1 <= page_limit <= 500:
            raise unprocessable(["pageLimit must be an integer between 1 and 500"])
        page = body.get("page", 1)
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise unprocessable(["page must be a positive integer"])
        query = body.get("query")
        if query is not None and (not isinstance(query, str) or len(query) > 75):
            raise unprocessable(["query must be a string of at most 75 characters"])
        sort_spec = _parse_sort(body.get("sort"))
        filters = body.get("filters") or []
        if not isinstance(filters, list):
            raise unprocessable(["filters must be an array"])
        predicate = _compile_filters(filters)
        search_after = body.get("searchAfter")
        if search_after is not None and (
            not isinstance(search_after, list) or len(search_after) != len(sort_spec) + 1
        ):
            raise ApiError(400, f"searchAfter must be an array of {len(sort_spec) + 1} sort values")
        window = int(self.config.max_search_window)
        if search_after is None and page * page_limit > window:
            raise ApiError(
                400,
                f"Search window exceeded: page * pageLimit must not be greater than {window}. "
                "Use searchAfter to paginate beyond this limit.",
            )
        with self.lock:
            loc = self.get_location(location_id)
            self._search_catch_up(loc)
            cache_key = json.dumps([filters, sort_spec, query], sort_keys=True, default=str)
            cached = loc.search_cache.get(cache_key)
            if cached is not None and cached[0] == loc.search_version:
                rows = cached[1]
            else:
                rows = [
                    (_sort_key(c, sort_spec), cid)
                    for cid, c in loc.search_view.items()
                    if predicate(c) and _matches_query(c, query)
                ]
                for idx in range(len(sort_spec), -1, -1):
                    descending = idx < len(sort_spec) and sort_spec[idx][1] == "desc"
                    if idx == len(sort_spec):
                        rows.sort(key=lambda r: r[1])
                    else:
                        rows.sort(key=functools.partial(_component, idx), reverse=descending)
                if len(loc.search_cache) >= 4:
                    loc.search_cache.pop(next(iter(loc.search_cache)))
                loc.search_cache[cache_key] = (loc.search_version, rows)
            if search_after is not None:
                cursor = _cursor_key(search_after, sort_spec)
                start = _first_after(rows, cursor, sort_spec)
            else:
                start = (page - 1) * page_limit
            selected = rows[start : start + page_limit]
            contacts = []
            for key, cid in selected:
                view = self.contact_view(loc.search_view[cid])
                view["searchAfter"] = [*key, cid]
                contacts.append(view)
            return {"contacts": contacts, "total": len(rows)}

    # ------------------------------------------------------------------ tasks

    def task_view(self, t: Record, *, with_dates: bool = False) -> dict[str, Any]:
        view = {
            "id": t["id"],
            "title": t.get("title"),
            "body": t.get("body"),
            "assignedTo": t.get("assignedTo"),
            "dueDate": iso_ms(t["dueDate_ms"]),
            "completed": bool(t.get("completed")),
            "contactId": t["contactId"],
        }
        if with_dates:
            view.update(
                locationId=t["locationId"],
                dateAdded=iso_ms(t["dateAdded_ms"]),
                dateUpdated=iso_ms(t["dateUpdated_ms"]),
            )
        return _drop_none(view)

    def task_event(self, event_type: str, t: Record) -> dict[str, Any]:
        return _drop_none(
            {
                "type": event_type,
                "locationId": t["locationId"],
                "id": t["id"],
                "assignedTo": t.get("assignedTo"),
                "body": t.get("body"),
                "contactId": t["contactId"],
                "title": t.get("title"),
                "dateAdded": iso_ms(t["dateAdded_ms"]),
                "dueDate": iso_ms(t["dueDate_ms"]),
            }
        )

    def _validate_task(self, body: dict[str, Any], *, create: bool) -> list[str]:
        allowed = {"title", "body", "dueDate", "completed", "assignedTo"}
        errors = [f"property {k} should not exist" for k in body if k not in allowed]
        if create:
            errors += [f"{k} should not be empty" for k in ("title", "dueDate", "completed") if k not in body]
        for key in ("title", "body", "assignedTo", "dueDate"):
            if key in body and body[key] is not None and not isinstance(body[key], str):
                errors.append(f"{key} must be a string")
        if "completed" in body and not isinstance(body["completed"], bool):
            errors.append("completed must be a boolean value")
        if isinstance(body.get("dueDate"), str):
            try:
                parse_time_ms(body["dueDate"])
            except ValueError:
                errors.append("dueDate must be a valid ISO 8601 date string")
        return errors

    def create_task(
        self, contact_id: str, body: dict[str, Any], *, emit: bool = True, when: int | None = None
    ) -> Record:
        errors = self._validate_task(body, create=True)
        if errors:
            raise unprocessable(errors)
        with self.lock:
            loc, _ = self._contact(contact_id)
            stamp = when if when is not None else now_ms()
            t: Record = {
                "id": new_id(),
                "locationId": loc.id,
                "contactId": contact_id,
                "title": body["title"],
                "body": body.get("body"),
                "assignedTo": body.get("assignedTo"),
                "dueDate_ms": parse_time_ms(body["dueDate"]),
                "completed": body["completed"],
                "dateAdded_ms": stamp,
                "dateUpdated_ms": stamp,
            }
            loc.tasks[t["id"]] = t
            loc.tasks_by_contact.setdefault(contact_id, {})[t["id"]] = None
            self.task_loc[t["id"]] = loc.id
            if emit:
                self.sink("TaskCreate", self.task_event("TaskCreate", t))
            return t

    def _task(self, contact_id: str | None, task_id: str) -> tuple[LocationState, Record]:
        loc = self.locations.get(self.task_loc.get(task_id, ""))
        if loc is None or task_id not in loc.tasks:
            raise not_found("Task")
        task = loc.tasks[task_id]
        if contact_id is not None and task["contactId"] != contact_id:
            raise not_found("Task")
        return loc, task

    def get_task(self, contact_id: str | None, task_id: str) -> Record:
        with self.lock:
            return self._task(contact_id, task_id)[1]

    def list_tasks(self, contact_id: str) -> list[Record]:
        with self.lock:
            loc, _ = self._contact(contact_id)
            return [loc.tasks[t] for t in loc.tasks_by_contact.get(contact_id, {})]

    def update_task(
        self,
        contact_id: str | None,
        task_id: str,
        body: dict[str, Any],
        *,
        emit: bool = True,
        only_completed: bool = False,
    ) -> Record:
        errors = self._validate_task(body, create=False)
        if only_completed:
            errors = (
                [e for e in errors if not e.startswith("property")]
                + (["completed should not be empty"] if "completed" not in body else [])
                + [f"property {k} should not exist" for k in body if k != "completed"]
            )
        if errors:
            raise unprocessable(errors)
        with self.lock:
            loc, old = self._task(contact_id, task_id)
            new = dict(old)
            for key in ("title", "body", "assignedTo", "completed"):
                if key in body:
                    new[key] = body[key]
            if "dueDate" in body:
                new["dueDate_ms"] = parse_time_ms(body["dueDate"])
            if new == old:
                return old
            new["dateUpdated_ms"] = max(now_ms(), old["dateUpdated_ms"])
            loc.tasks[task_id] = new
            # GHL has no TaskUpdate event: only completion is announced.
            if emit and new.get("completed") and not old.get("completed"):
                self.sink("TaskComplete", self.task_event("TaskComplete", new))
            return new

    def delete_task(self, contact_id: str | None, task_id: str, *, emit: bool = True) -> None:
        with self.lock:
            loc, t = self._task(contact_id, task_id)
            del loc.tasks[task_id]
            loc.tasks_by_contact.get(t["contactId"], {}).pop(task_id, None)
            del self.task_loc[task_id]
            if emit:
                self.sink("TaskDelete", self.task_event("TaskDelete", t))

    def search_tasks(self, location_id: str, body: dict[str, Any]) -> dict[str, Any]:
        errors = []
        for key in ("contactId", "assignedTo"):
            if key in body and (
                not isinstance(body[key], list) or not all(isinstance(v, str) for v in body[key])
            ):
                errors.append(f"{key} must be an array of strings")
        if "completed" in body and not isinstance(body["completed"], bool):
            errors.append("completed must be a boolean value")
        for key in ("limit", "skip"):
            if key in body and (
                isinstance(body[key], bool) or not isinstance(body[key], int) or body[key] < 0
            ):
                errors.append(f"{key} must be a non-negative number")
        if errors:
            raise unprocessable(errors)
        limit, skip = body.get("limit", 25), body.get("skip", 0)
        contact_ids = set(body.get("contactId") or [])
        assigned = set(body.get("assignedTo") or [])
        needle = (body.get("query") or "").lower()
        with self.lock:
            loc = self.get_location(location_id)
            rows = [
                t
                for t in loc.tasks.values()
                if (not contact_ids or t["contactId"] in contact_ids)
                and ("completed" not in body or bool(t.get("completed")) == body["completed"])
                and (not assigned or t.get("assignedTo") in assigned)
                and (
                    not needle
                    or needle in (t.get("title") or "").lower()
                    or needle in (t.get("body") or "").lower()
                )
            ]
            rows.sort(key=lambda t: (t["dateAdded_ms"], t["id"]))
            return {
                "tasks": [self.task_view(t, with_dates=True) for t in rows[skip : skip + limit]],
                "total": len(rows),
            }

    # ------------------------------------------------------------------ notes

    def note_view(self, n: Record) -> dict[str, Any]:
        return _drop_none(
            {
                "id": n["id"],
                "body": n.get("body"),
                "userId": n.get("userId"),
                "dateAdded": iso_ms(n["dateAdded_ms"]),
                "contactId": n["contactId"],
                "title": n.get("title"),
                "color": n.get("color"),
                "pinned": n.get("pinned"),
            }
        )

    def note_event(self, event_type: str, n: Record) -> dict[str, Any]:
        return _drop_none(
            {
                "type": event_type,
                "locationId": n["locationId"],
                "id": n["id"],
                "body": n.get("body"),
                "contactId": n["contactId"],
                "dateAdded": iso_ms(n["dateAdded_ms"]),
            }
        )

    def _validate_note(self, body: dict[str, Any], *, create: bool) -> list[str]:
        allowed = {"userId", "body", "title", "color", "pinned"}
        errors = [f"property {k} should not exist" for k in body if k not in allowed]
        if create and not body.get("body"):
            errors.append("body should not be empty")
        for key in ("userId", "body", "title", "color"):
            if key in body and body[key] is not None and not isinstance(body[key], str):
                errors.append(f"{key} must be a string")
        if "pinned" in body and not isinstance(body["pinned"], bool):
            errors.append("pinned must be a boolean value")
        return errors

    def create_note(
        self, contact_id: str, body: dict[str, Any], *, emit: bool = True, when: int | None = None
    ) -> Record:
        errors = self._validate_note(body, create=True)
        if errors:
            raise unprocessable(errors)
        with self.lock:
            loc, _ = self._contact(contact_id)
            stamp = when if when is not None else now_ms()
            n: Record = {
                "id": new_id(),
                "locationId": loc.id,
                "contactId": contact_id,
                **{k: body.get(k) for k in ("userId", "body", "title", "color")},
                "pinned": bool(body.get("pinned", False)),
                "dateAdded_ms": stamp,
                "dateUpdated_ms": stamp,
            }
            loc.notes[n["id"]] = n
            loc.notes_by_contact.setdefault(contact_id, {})[n["id"]] = None
            self.note_loc[n["id"]] = loc.id
            if emit:
                self.sink("NoteCreate", self.note_event("NoteCreate", n))
            return n

    def _note(self, contact_id: str | None, note_id: str) -> tuple[LocationState, Record]:
        loc = self.locations.get(self.note_loc.get(note_id, ""))
        if loc is None or note_id not in loc.notes:
            raise not_found("Note")
        note = loc.notes[note_id]
        if contact_id is not None and note["contactId"] != contact_id:
            raise not_found("Note")
        return loc, note

    def get_note(self, contact_id: str | None, note_id: str) -> Record:
        with self.lock:
            return self._note(contact_id, note_id)[1]

    def list_notes(self, contact_id: str) -> list[Record]:
        with self.lock:
            loc, _ = self._contact(contact_id)
            return [loc.notes[n] for n in loc.notes_by_contact.get(contact_id, {})]

    def update_note(
        self, contact_id: str | None, note_id: str, body: dict[str, Any], *, emit: bool = True
    ) -> Record:
        errors = self._validate_note(body, create=False)
        if errors:
            raise unprocessable(errors)
        with self.lock:
            loc, old = self._note(contact_id, note_id)
            new = {**old, **body}
            if new == old:
                return old
            new["dateUpdated_ms"] = max(now_ms(), old["dateUpdated_ms"])
            loc.notes[note_id] = new
            if emit:
                self.sink("NoteUpdate", self.note_event("NoteUpdate", new))
            return new

    def delete_note(self, contact_id: str | None, note_id: str, *, emit: bool = True) -> None:
        with self.lock:
            loc, n = self._note(contact_id, note_id)
            del loc.notes[note_id]
            loc.notes_by_contact.get(n["contactId"], {}).pop(note_id, None)
            del self.note_loc[note_id]
            if emit:
                self.sink("NoteDelete", self.note_event("NoteDelete", n))

    # ------------------------------------------------------------------ appointments

    def appointment_contact_view(self, a: Record) -> dict[str, Any]:
        """GetEventSchema of GET /contacts/{id}/appointments: non-ISO times."""
        return _drop_none(
            {
                "id": a["id"],
                "calendarId": a["calendarId"],
                "status": a["appointmentStatus"],
                "title": a["title"],
                "assignedUserId": a["assignedUserId"],
                "notes": a.get("notes"),
                "startTime": plain_datetime(a["startTime_ms"]),
                "endTime": plain_datetime(a["endTime_ms"]),
                "address": a.get("address"),
                "locationId": a["locationId"],
                "contactId": a["contactId"],
                "groupId": a["groupId"],
                "appointmentStatus": a["appointmentStatus"],
                "users": list(a["users"]),
                "dateAdded": plain_datetime(a["dateAdded_ms"]),
                "dateUpdated": plain_datetime(a["dateUpdated_ms"]),
                "assignedResources": list(a.get("assignedResources", [])),
            }
        )

    def appointment_event_view(self, a: Record) -> dict[str, Any]:
        """CalendarEventDTO of GET /calendars/events/appointments/{eventId}."""
        return _drop_none(
            {
                "id": a["id"],
                "address": a.get("address"),
                "title": a["title"],
                "calendarId": a["calendarId"],
                "locationId": a["locationId"],
                "contactId": a["contactId"],
                "groupId": a["groupId"],
                "appointmentStatus": a["appointmentStatus"],
                "assignedUserId": a["assignedUserId"],
                "users": list(a["users"]),
                "notes": a.get("notes"),
                "description": a.get("description"),
                "isRecurring": False,
                "startTime": iso_offset(a["startTime_ms"]),
                "endTime": iso_offset(a["endTime_ms"]),
                "dateAdded": iso_offset(a["dateAdded_ms"]),
                "dateUpdated": iso_offset(a["dateUpdated_ms"]),
                "assignedResources": list(a.get("assignedResources", [])),
                "createdBy": {"userId": a["assignedUserId"], "source": a.get("source", "booking_widget")},
            }
        )

    def appointment_event(self, event_type: str, a: Record) -> dict[str, Any]:
        shown_type = event_type
        if self.config.appointment_type_doc_bug:
            shown_type = "AppointmentCreate"
        appointment = {
            k: v
            for k, v in self.appointment_event_view(a).items()
            if k
            in (
                "id",
                "address",
                "title",
                "calendarId",
                "contactId",
                "groupId",
                "appointmentStatus",
                "assignedUserId",
                "users",
                "notes",
                "startTime",
                "endTime",
                "dateAdded",
                "dateUpdated",
            )
        }
        appointment["source"] = a.get("source", "booking_widget")
        return {"type": shown_type, "locationId": a["locationId"], "appointment": appointment}

    def create_appointment(
        self, contact_id: str, fields: dict[str, Any], *, emit: bool = True, when: int | None = None
    ) -> Record:
        with self.lock:
            loc, _ = self._contact(contact_id)
            stamp = when if when is not None else now_ms()
            start = parse_time_ms(fields["startTime"]) if fields.get("startTime") else stamp + 86_400_000
            end = parse_time_ms(fields["endTime"]) if fields.get("endTime") else start + 1_800_000
            user = fields.get("assignedUserId") or f"user-{loc.company_id}"[:20]
            a: Record = {
                "id": new_id(),
                "locationId": loc.id,
                "contactId": contact_id,
                "calendarId": fields.get("calendarId") or f"cal-{loc.id}"[:20],
                "groupId": fields.get("groupId") or f"grp-{loc.id}"[:20],
                "title": fields.get("title") or "Appointment",
                "appointmentStatus": fields.get("appointmentStatus") or "confirmed",
                "assignedUserId": user,
                "users": fields.get("users") or [user],
                "notes": fields.get("notes"),
                "address": fields.get("address"),
                "description": fields.get("description"),
                "source": fields.get("source") or "booking_widget",
                "startTime_ms": start,
                "endTime_ms": end,
                "dateAdded_ms": stamp,
                "dateUpdated_ms": stamp,
            }
            loc.appointments[a["id"]] = a
            loc.appts_by_contact.setdefault(contact_id, {})[a["id"]] = None
            self.appt_loc[a["id"]] = loc.id
            if emit:
                self.sink("AppointmentCreate", self.appointment_event("AppointmentCreate", a))
            return a

    def _appointment(self, appt_id: str) -> tuple[LocationState, Record]:
        loc = self.locations.get(self.appt_loc.get(appt_id, ""))
        if loc is None or appt_id not in loc.appointments:
            raise not_found("Appointment")
        return loc, loc.appointments[appt_id]

    def get_appointment(self, appt_id: str) -> Record:
        with self.lock:
            return self._appointment(appt_id)[1]

    def list_appointments(self, contact_id: str) -> list[Record]:
        with self.lock:
            loc, _ = self._contact(contact_id)
            return [loc.appointments[a] for a in loc.appts_by_contact.get(contact_id, {})]

    def update_appointment(self, appt_id: str, changes: dict[str, Any], *, emit: bool = True) -> Record:
        with self.lock:
            loc, old = self._appointment(appt_id)
            new = dict(old)
            for key, value in changes.items():
                if key in ("startTime", "endTime"):
                    new[f"{key}_ms"] = parse_time_ms(value)
                elif key in ("id", "locationId", "contactId"):
                    continue
                else:
                    new[key] = value
            new["dateUpdated_ms"] = max(now_ms(), old["dateUpdated_ms"])
            loc.appointments[appt_id] = new
            if emit:
                self.sink("AppointmentUpdate", self.appointment_event("AppointmentUpdate", new))
            return new

    def delete_appointment(self, appt_id: str, *, emit: bool = True) -> None:
        with self.lock:
            loc, a = self._appointment(appt_id)
            del loc.appointments[appt_id]
            loc.appts_by_contact.get(a["contactId"], {}).pop(appt_id, None)
            del self.appt_loc[appt_id]
            if emit:
                self.sink("AppointmentDelete", self.appointment_event("AppointmentDelete", a))

    # ------------------------------------------------------------------ admin bulk

    def seed(self, body: dict[str, Any]) -> list[str]:
        count = int(body.get("contacts", 0))
        if count < 0 or count > 1_000_000:
            raise ApiError(400, "contacts must be between 0 and 1000000")
        per_task = int(body.get("tasksPerContact", 0))
        per_note = int(body.get("notesPerContact", 0))
        per_appt = int(body.get("appointmentsPerContact", 0))
        with_email = bool(body.get("withEmail", True))
        with_phone = bool(body.get("withPhone", True))
        emit = bool(body.get("emitWebhook", False))
        with self.lock:
            loc = self.get_location(body.get("locationId") or "")
            base = now_ms() - count  # distinct, increasing, past timestamps
            ids: list[str] = []
            for i in range(count):
                loc.seed_serial += 1
                serial = loc.seed_serial
                tag = f"{loc.id[:12].lower()}.{serial}"
                fields: dict[str, Any] = {
                    "firstName": f"Seed{serial}",
                    "lastName": "Contact",
                    "source": "sandbox seed",
                }
                if with_email:
                    fields["email"] = f"seed.{tag}@example.com"
                if with_phone:
                    fields["phone"] = f"+1555{(serial * 7919) % 10_000_000:07d}"
                    while phone_key(fields["phone"]) in loc.by_phone:
                        fields["phone"] = f"+1556{int(new_id(7).encode().hex(), 16) % 10_000_000:07d}"
                c = self._new_contact(loc, fields, when=base + i)
                self._store_contact(loc, c, None)
                if emit:
                    self.sink("ContactCreate", self.contact_event("ContactCreate", c))
                ids.append(c["id"])
                for j in range(per_task):
                    self.create_task(
                        c["id"],
                        {
                            "title": f"Task {j + 1}",
                            "body": "Seeded task",
                            "dueDate": iso_ms(base + i + 7 * 86_400_000),
                            "completed": False,
                        },
                        emit=emit,
                        when=base + i,
                    )
                for j in range(per_note):
                    self.create_note(
                        c["id"],
                        {"body": f"Seeded note {j + 1}", "title": f"Note {j + 1}"},
                        emit=emit,
                        when=base + i,
                    )
                for j in range(per_appt):
                    self.create_appointment(
                        c["id"], {"title": f"Appointment {j + 1}"}, emit=emit, when=base + i
                    )
            return ids

    def dump(self, location_id: str) -> dict[str, Any]:
        with self.lock:
            loc = self.get_location(location_id)
            return {
                "location": self.location_view(loc),
                "contacts": [self.contact_view(c) for c in loc.contacts.values()],
                "tasks": [self.task_view(t, with_dates=True) for t in loc.tasks.values()],
                "notes": [
                    {**self.note_view(n), "dateUpdated": iso_ms(n["dateUpdated_ms"])}
                    for n in loc.notes.values()
                ],
                "appointments": [self.appointment_event_view(a) for a in loc.appointments.values()],
            }


# ---------------------------------------------------------------------- helpers


def _oauth_error(description: str, error: str = "invalid_grant") -> ApiError:
    return ApiError(400, description, error=error, error_description=description)


def _parse_rate(raw: Any) -> RateLimitSettings | None:
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


def _int_param(query: dict[str, Any], name: str, default: int) -> int:
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


def _matches_query(c: Record, query: str | None) -> bool:
    if not query:
        return True
    needle = query.lower()
    haystack = " ".join(
        str(c.get(k) or "") for k in ("firstName", "lastName", "name", "email", "phone", "companyName")
    ).lower()
    return needle in haystack or needle in (c.get("phone") or "").replace("+", "")


def _parse_sort(raw: Any) -> list[tuple[str, str]]:
    if raw is None or raw == []:
        return [("dateAdded", "desc")]
    if not isinstance(raw, list):
        raise unprocessable(["sort must be an array of {field, direction}"])
    spec = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("field"), str) or not item["field"]:
            raise unprocessable(["sort items must be {field, direction}"])
        direction = str(item.get("direction", "asc")).lower()
        if direction not in ("asc", "desc"):
            raise unprocessable([f"sort direction must be asc or desc, got {item.get('direction')!r}"])
        spec.append((item["field"], direction))
    return spec


def _field_value(c: Record, name: str) -> Any:
    if name in SEARCH_DATE_FIELDS:
        return c[f"{name}_ms"]
    if name.endswith("LowerCase"):
        name = name[: -len("LowerCase")]
        if name == "fullName":
            return " ".join(p for p in (c.get("firstName"), c.get("lastName")) if p).lower()
    return c.get(name)


def _sort_value(c: Record, name: str) -> Any:
    value = _field_value(c, name)
    if name in SEARCH_DATE_FIELDS:
        return value
    if isinstance(value, list):
        value = ",".join(value)
    return str(value or "").lower()


def _sort_key(c: Record, spec: list[tuple[str, str]]) -> tuple[Any, ...]:
    return tuple(_sort_value(c, name) for name, _ in spec)


def _component(idx: int, row: tuple[tuple[Any, ...], str]) -> Any:
    return row[0][idx]


def _cursor_key(search_after: list[Any], spec: list[tuple[str, str]]) -> tuple[tuple[Any, ...], str]:
    values: list[Any] = []
    for (name, _), raw in zip(spec, search_after, strict=False):
        if name in SEARCH_DATE_FIELDS:
            try:
                values.append(parse_time_ms(raw))
            except ValueError:
                raise ApiError(400, f"searchAfter value for {name} must be epoch milliseconds") from None
        else:
            values.append(str(raw or "").lower())
    return tuple(values), str(search_after[-1])


def _compare(
    row: tuple[tuple[Any, ...], str], cursor: tuple[tuple[Any, ...], str], spec: list[tuple[str, str]]
) -> int:
    for idx, (_, direction) in enumerate(spec):
        a, b = row[0][idx], cursor[0][idx]
        if a != b:
            result = -1 if a < b else 1
            return -result if direction == "desc" else result
    if row[1] == cursor[1]:
        return 0
    return -1 if row[1] < cursor[1] else 1


def _first_after(
    rows: list[tuple[tuple[Any, ...], str]], cursor: tuple[tuple[Any, ...], str], spec: list[tuple[str, str]]
) -> int:
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        if _compare(rows[mid], cursor, spec) <= 0:
            lo = mid + 1
        else:
            hi = mid
    return lo


_OPERATORS = frozenset({"eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range"})


def _compile_filters(filters: list[Any]) -> Callable[[Record], bool]:
    predicates = [_compile_filter(f) for f in filters]
    return lambda c: all(p(c) for p in predicates)


def _compile_filter(item: Any) -> Callable[[Record], bool]:
    if not isinstance(item, dict):
        raise unprocessable(["filters items must be objects"])
    if "group" in item:
        group = str(item["group"]).upper()
        subs = item.get("filters")
        if group not in ("AND", "OR") or not isinstance(subs, list):
            raise unprocessable(["filter group must be AND or OR with a filters array"])
        compiled = [_compile_filter(s) for s in subs]
        if group == "AND":
            return lambda c: all(p(c) for p in compiled)
        return lambda c: any(p(c) for p in compiled)
    name, operator, value = item.get("field"), item.get("operator"), item.get("value")
    if not isinstance(name, str) or not name:
        raise unprocessable(["filter field must be a string"])
    if operator not in _OPERATORS:
        raise unprocessable([f"filter operator must be one of {', '.join(sorted(_OPERATORS))}"])
    if operator in ("exists", "not_exists"):
        wanted = operator == "exists"
        return lambda c: bool(_field_value(c, name)) == wanted
    if operator == "range":
        return _compile_range(name, value)
    normalize = _normalizer(name)
    target = normalize(value)

    def matches(c: Record) -> bool:
        current = _field_value(c, name)
        if isinstance(current, list):
            items = [normalize(v) for v in current]
            eq = operator in ("eq", "not_eq")
            hit = target in items if eq else any(target in str(v) for v in items)
        else:
            norm = normalize(current)
            hit = (
                norm == target
                if operator in ("eq", "not_eq")
                else (target is not None and target in str(norm or ""))
            )
        return hit if operator in ("eq", "contains") else not hit

    return matches


def _normalizer(name: str) -> Callable[[Any], Any]:
    if name == "email":
        return lambda v: email_key(v) if isinstance(v, str) else v
    if name == "phone":
        return lambda v: phone_key(v) if isinstance(v, str) else v
    if name in SEARCH_DATE_FIELDS:
        return lambda v: parse_time_ms(v) if v is not None else None
    return lambda v: str(v).lower() if v is not None else None


def _compile_range(name: str, value: Any) -> Callable[[Record], bool]:
    if not isinstance(value, dict) or not set(value) & {"gte", "lte", "gt", "lt"}:
        raise unprocessable([f"range filter on {name} needs a value with gte/lte/gt/lt"])
    bounds: dict[str, Any] = {}
    for key in ("gte", "lte", "gt", "lt"):
        if key in value:
            try:
                bounds[key] = parse_time_ms(value[key]) if name in SEARCH_DATE_FIELDS else value[key]
            except ValueError:
                raise unprocessable([f"range bound {key} of {name} must be a date"]) from None

    def matches(c: Record) -> bool:
        current = _field_value(c, name)
        if current is None:
            return False
        try:
            return (
                ("gte" not in bounds or current >= bounds["gte"])
                and ("lte" not in bounds or current <= bounds["lte"])
                and ("gt" not in bounds or current > bounds["gt"])
                and ("lt" not in bounds or current < bounds["lt"])
            )
        except TypeError:
            return False

    return matches
