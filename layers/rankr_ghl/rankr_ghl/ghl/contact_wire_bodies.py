"""GHL contact write bodies as wire-format dicts, checked without pydantic.

What `ContactCreate` / `ContactUpsert` / `ContactUpdate` (`contact_write_models`) do with a body,
for the flows that hand `GhlClientRecords` a dict (see `contact_wire` for why): unknown fields are
refused before GHL sees them (GHL answers 422 "property X should not exist" to them anyway),
None is dropped, and custom fields go out as `{id|key, field_value}` with `field_value` always sent
(a null clears the value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rankr_ghl.ghl.contact_wire import (
    DND_SETTINGS,
    Record,
    WireRecord,
    any_value,
    bool_value,
    list_of,
    optional,
    text_value,
    wire_field,
)
from rankr_ghl.wire_values import Location, Problems

_TEXT = optional(text_value)

CUSTOM_FIELD_INPUT = WireRecord(
    "CustomFieldInput",
    (
        wire_field("id", _TEXT),
        wire_field("key", _TEXT),
        wire_field("field_value", any_value, alias="field_value"),
    ),
    extra_allowed=False,
)


def _custom_field(value: Any, location: Location, problems: Problems) -> Any:
    """`{id|key, field_value}`; `field_value` is sent as given, null included."""
    before = len(problems.found)
    field = CUSTOM_FIELD_INPUT.check(value, location, problems)
    if len(problems.found) == before and not field.get("id") and not field.get("key"):
        problems.add(location, "Value error, a custom field needs an id or a key")
    field.pop("field_value", None)
    raw_value = value.get("field_value") if isinstance(value, Mapping) else None
    return field | {"field_value": raw_value}


INBOUND_DND_SETTING = WireRecord(
    "InboundDndSetting", (wire_field("status", text_value, required=True), wire_field("message", _TEXT))
)
INBOUND_DND_SETTINGS = WireRecord(
    "InboundDndSettings", (wire_field("all", optional(INBOUND_DND_SETTING.check)),)
)

_CONTACT_WRITE = (
    *(
        wire_field(name, _TEXT)
        for name in (
            "first_name",
            "last_name",
            "name",
            "email",
            "phone",
            "address1",
            "city",
            "state",
            "postal_code",
            "website",
            "timezone",
        )
    ),
    wire_field("dnd", optional(bool_value)),
    wire_field("dnd_settings", optional(DND_SETTINGS.check)),
    wire_field("inbound_dnd_settings", optional(INBOUND_DND_SETTINGS.check)),
    wire_field("tags", optional(list_of(text_value))),
    wire_field("custom_fields", optional(list_of(_custom_field))),
    wire_field("source", _TEXT),
    wire_field("date_of_birth", any_value),
    wire_field("country", _TEXT),
    wire_field("assigned_to", _TEXT),
)
_CONTACT_CREATE = (
    *_CONTACT_WRITE,
    *(wire_field(name, _TEXT) for name in ("location_id", "gender", "company_name")),
)

CONTACT_UPDATE = WireRecord("ContactUpdate", _CONTACT_WRITE, extra_allowed=False)
CONTACT_CREATE = WireRecord("ContactCreate", _CONTACT_CREATE, extra_allowed=False)
CONTACT_UPSERT = WireRecord(
    "ContactUpsert",
    (*_CONTACT_CREATE, wire_field("create_new_if_duplicate_allowed", optional(bool_value))),
    extra_allowed=False,
)


def contact_body(record: WireRecord, body: Mapping[str, Any]) -> Record:
    """The body GHL receives (custom fields last, as the models write it), or WireFormatError naming
    every refused or malformed field (names only: values may be PII)."""
    checked = record.parse(body)
    custom_fields = checked.pop("customFields", None)
    if custom_fields is not None:
        checked["customFields"] = custom_fields
    return checked
