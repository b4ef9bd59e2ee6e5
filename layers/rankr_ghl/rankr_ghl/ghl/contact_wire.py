"""GHL contacts as wire-format dicts, checked without pydantic.

A lead push upserts a contact and adds its tags; a contact webhook reads one contact. Importing
pydantic and building the contact models costs more of a cold start than those calls take
(docs/architecture.md, "Cold start"), so `GhlClientRecords` checks these answers and bodies here.
Each check does what the pydantic model in `contact_models` / `contact_write_models` does with the
same dict:
`Contact.model_validate(raw).to_api()` for an answer (camelCase keys, None dropped, GHL's date
spellings as ISO strings, lax booleans and numbers, unknown fields kept) and
`ContactUpsert.model_validate(body).to_api()` for a body (unknown fields refused before GHL sees
them, custom fields as `{id|key, field_value}`). tests/unit/ghl/test_ghl_contact_wire.py compares both
on many inputs and asserts the field lists agree, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from rankr_ghl.ghl.wire_dates import ghl_datetime
from rankr_ghl.wire_values import Location, Problems, json_datetime, lax_bool

Check = Callable[[Any, Location, Problems], Any]
Record = dict[str, Any]

_MISSING = object()


def _snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# ---- values ------------------------------------------------------------------------------------


def json_any(value: Any) -> Any:
    """An untyped value as `model_dump(mode="json")` writes it (non-finite floats become null)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): json_any(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_any(item) for item in value]
    if isinstance(value, datetime):
        return json_datetime(value)
    if isinstance(value, date | time):
        return value.isoformat()
    return value


def any_value(value: Any, location: Location, problems: Problems) -> Any:
    return json_any(value)


def text_value(value: Any, location: Location, problems: Problems) -> Any:
    if isinstance(value, str):
        return str(value)
    problems.add(location, "Input should be a valid string")
    return None


def bool_value(value: Any, location: Location, problems: Problems) -> Any:
    try:
        return lax_bool(value)
    except ValueError:
        problems.add(location, "Input should be a valid boolean")
        return None


def number_value(value: Any, location: Location, problems: Problems) -> Any:
    """pydantic's lax float: a number, a boolean or a numeric string."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    problems.add(location, "Input should be a valid number")
    return None


def int_value(value: Any, location: Location, problems: Problems) -> Any:
    """pydantic's lax int: an integer, a whole float, a boolean or a string of digits."""
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            whole = number_value(value, location, Problems("int"))
            if whole is not None and math.isfinite(whole) and whole.is_integer():
                return int(whole)
    problems.add(location, "Input should be a valid integer")
    return None


def datetime_value(value: Any, location: Location, problems: Problems) -> Any:
    try:
        return json_datetime(ghl_datetime(value))
    except (ValueError, OverflowError, OSError):
        problems.add(location, "Input should be a valid datetime")
        return None


def optional(check: Check) -> Check:
    def optional(value: Any, location: Location, problems: Problems) -> Any:
        return None if value is None else check(value, location, problems)

    return optional


def list_of(check: Check) -> Check:
    def list_of(value: Any, location: Location, problems: Problems) -> Any:
        if not isinstance(value, list | tuple):
            problems.add(location, "Input should be a valid list")
            return None
        return [check(item, (*location, index), problems) for index, item in enumerate(value)]

    return list_of


# ---- records -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WireField:
    """One field of a record: its Python name (as the pydantic model names it), the keys it is read
    from (the first present wins), the key it is written as, and its check."""

    name: str
    inputs: tuple[str, ...]
    output: str
    check: Check
    required: bool = False
    nullable: bool = True


def wire_field(
    name: str, check: Check, *, alias: str | None = None, required: bool = False, nullable: bool = True
) -> WireField:
    """A field read from its camelCase alias (or `alias`), or else from its Python name. A required
    field must be present; a field that is not nullable refuses null (a nullable one drops it)."""
    wire = alias or _snake_to_camel(name)
    inputs = (wire,) if wire == name else (wire, name)
    return WireField(name, inputs, wire, check, required, nullable and not required)


@dataclass(frozen=True)
class WireRecord:
    """A record's fields and what happens to the others: kept (answers) or refused (bodies)."""

    title: str
    fields: tuple[WireField, ...]
    extra_allowed: bool = True

    def check(self, raw: Any, location: Location, problems: Problems) -> Record:
        """The record in wire form with None dropped; problems collected in `problems`."""
        if not isinstance(raw, Mapping):
            problems.add(location, f"Input should be a valid dictionary or instance of {self.title}")
            return {}
        consumed: set[Any] = set()
        record: Record = {}
        for wire in self.fields:
            key = next((name for name in wire.inputs if name in raw), _MISSING)
            if key is _MISSING:
                if wire.required:
                    problems.add((*location, wire.output), "Field required")
                continue
            consumed.add(key)
            value = raw[key]
            if value is not None or not wire.nullable:
                record[wire.output] = wire.check(value, (*location, str(key)), problems)
        for key, value in raw.items():
            if key in consumed:
                continue
            if not self.extra_allowed:
                problems.add((*location, str(key)), "Extra inputs are not permitted")
            elif value is not None:
                record[str(key)] = json_any(value)
        return record

    def parse(self, raw: Any) -> Record:
        """The record, or WireFormatError naming every problem."""
        problems = Problems(self.title)
        record = self.check(raw, (), problems)
        problems.raise_if_any()
        return record

    @property
    def field_names(self) -> frozenset[str]:
        return frozenset(wire.name for wire in self.fields)


def _fields(check: Check, *names: str) -> tuple[WireField, ...]:
    return tuple(wire_field(name, optional(check)) for name in names)


_TEXT = optional(text_value)
_BOOL = optional(bool_value)

DND_SETTING = WireRecord(
    "DndSetting",
    (wire_field("status", text_value, required=True), *_fields(text_value, "message", "code")),
)
DND_SETTINGS = WireRecord(
    "DndSettings",
    tuple(
        wire_field(name, optional(DND_SETTING.check), alias=alias)
        for name, alias in (
            ("call", "Call"),
            ("email", "Email"),
            ("sms", "SMS"),
            ("whatsapp", "WhatsApp"),
            ("gmb", "GMB"),
            ("fb", "FB"),
        )
    ),
)
ATTRIBUTION_SOURCE = WireRecord(
    "AttributionSource",
    _fields(
        text_value,
        "url",
        "campaign",
        "utm_source",
        "utm_medium",
        "utm_content",
        "referrer",
        "campaign_id",
        "fbclid",
        "gclid",
        "msclikid",
        "dclid",
        "fbc",
        "fbp",
        "fb_event_id",
        "user_agent",
        "ip",
        "medium",
        "medium_id",
    ),
)
CUSTOM_FIELD_VALUE = WireRecord("CustomFieldValue", (wire_field("id", _TEXT), wire_field("value", any_value)))

_ATTRIBUTION = optional(ATTRIBUTION_SOURCE.check)
_ANY_LIST = optional(list_of(any_value))
_TEXT_LIST = optional(list_of(text_value))

CONTACT = WireRecord(
    "Contact",
    (
        *_fields(text_value, "id", "location_id", "name", "first_name", "last_name"),
        *_fields(text_value, "first_name_lower_case", "last_name_lower_case", "full_name_lower_case"),
        *_fields(text_value, "email", "email_lower_case"),
        wire_field("additional_emails", _ANY_LIST),
        *_fields(text_value, "phone", "timezone", "company_name"),
        wire_field("dnd", _BOOL),
        wire_field("dnd_settings", optional(DND_SETTINGS.check)),
        *_fields(text_value, "type", "source", "assigned_to", "address1", "city", "state", "country"),
        *_fields(text_value, "postal_code", "website"),
        wire_field("tags", _TEXT_LIST),
        wire_field("date_of_birth", _TEXT),
        *_fields(datetime_value, "date_added", "date_updated"),
        wire_field("attachments", any_value),
        *_fields(text_value, "ssn", "keyword"),
        wire_field("last_activity", any_value),
        wire_field("custom_fields", optional(list_of(CUSTOM_FIELD_VALUE.check))),
        wire_field("business_id", _TEXT),
        *_fields(_ATTRIBUTION, "attribution_source", "last_attribution_source"),
        wire_field("attributions", optional(list_of(ATTRIBUTION_SOURCE.check))),
        wire_field("followers", _TEXT_LIST),
        wire_field("visitor_id", _TEXT),
        *_fields(bool_value, "deleted", "bounce_email", "unsubscribe_email"),
        *_fields(number_value, "birth_month", "birth_day"),
        wire_field("last_session_activity_at", any_value),
        *(wire_field(name, _ANY_LIST) for name in ("offers", "products", "search_after")),
    ),
)

# ---- answers -----------------------------------------------------------------------------------
# Each reads a 2xx body as the pydantic answer model named in its title does; a body that is not
# what GHL documents raises WireFormatError (the client turns it into GHLError).

CONTACT_RESPONSE = WireRecord("ContactResponse", (wire_field("contact", CONTACT.check, required=True),))
UPSERT_CONTACT_RESPONSE = WireRecord(
    "UpsertContactResponse",
    (
        wire_field("new", bool_value, required=True),
        wire_field("contact", CONTACT.check, required=True),
        wire_field("trace_id", _TEXT),
    ),
)
# PUT and DELETE answer `succeded` (sic); `succeeded` is read when it is absent.
_SUCCEEDED = WireField("succeeded", ("succeded", "succeeded"), "succeded", _BOOL)
UPDATE_CONTACT_RESPONSE = WireRecord(
    "UpdateContactResponse", (_SUCCEEDED, wire_field("contact", optional(CONTACT.check)))
)
SUCCEEDED_RESPONSE = WireRecord("SucceededResponse", (_SUCCEEDED,))
TAGS_RESPONSE = WireRecord("TagsResponse", (wire_field("tags", list_of(text_value), nullable=False),))
DUPLICATE_CONTACT_RESPONSE = WireRecord(
    "DuplicateContactResponse", (wire_field("contact", optional(CONTACT.check)),)
)
CONTACT_SEARCH_RESPONSE = WireRecord(
    "ContactSearchResponse",
    (
        wire_field("contacts", list_of(CONTACT.check), nullable=False),
        wire_field("total", optional(int_value)),
    ),
)


def _answer(record: WireRecord, body: Any) -> Record:
    return record.parse(body if body is not None else {})


def contact_answer(body: Any) -> Record:
    """GET /contacts/{id}, POST /contacts/: the contact."""
    contact: Record = _answer(CONTACT_RESPONSE, body)["contact"]
    return contact


def upsert_answer(body: Any) -> tuple[Record, bool]:
    """POST /contacts/upsert: the contact, and whether GHL created it."""
    answer = _answer(UPSERT_CONTACT_RESPONSE, body)
    return answer["contact"], bool(answer["new"])


def update_answer(body: Any) -> Record | None:
    """PUT /contacts/{id}: the contact when GHL sends it back."""
    contact: Record | None = _answer(UPDATE_CONTACT_RESPONSE, body).get("contact")
    return contact


def succeeded_answer(body: Any) -> bool:
    """DELETE answers: GHL's `succeded` flag."""
    return bool(_answer(SUCCEEDED_RESPONSE, body).get("succeded"))


def tags_answer(body: Any) -> list[str]:
    """POST/DELETE /contacts/{id}/tags: the contact's tags."""
    tags: list[str] = _answer(TAGS_RESPONSE, body).get("tags", [])
    return tags


def duplicate_answer(body: Any) -> Record | None:
    """GET /contacts/search/duplicate: the matching contact, if any."""
    contact: Record | None = _answer(DUPLICATE_CONTACT_RESPONSE, body).get("contact")
    return contact


@dataclass(frozen=True)
class ContactSearchAnswer:
    """POST /contacts/search: the page's contacts, GHL's total, and whether GHL sent a top-level
    `searchAfter` (undocumented; observed, not used)."""

    contacts: list[Record]
    total: int | None
    top_level_cursor: bool


def search_answer(body: Any) -> ContactSearchAnswer:
    answer = _answer(CONTACT_SEARCH_RESPONSE, body)
    return ContactSearchAnswer(
        answer.get("contacts", []), answer.get("total"), bool(answer.get("searchAfter"))
    )
