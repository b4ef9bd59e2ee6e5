"""One lead as Rankr sends it, and `parse_lead`, which checks it.

Read without pydantic: the lead push's first event reads its leads, and importing pydantic would cost
more than a quarter of the cold-start budget (`rankr_ghl.wire_values`). `parse_lead` enforces the rules
the lead-push contract states (docs/lead-push.md) and reports every problem of a lead at once, worded
as pydantic worded them, naming fields and never echoing values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rankr_ghl.sync.field_checks import Invalid, items, object_fields, string
from rankr_ghl.sync.ports import LEAD_TAG_PREFIX
from rankr_ghl.sync.tags import canonical_tag, same_tag
from rankr_ghl.wire_values import Location, Problems, WireFormatError, json_datetime, parse_datetime

DEFAULT_SOURCE = "Rankr"
MAX_TAGS = 100
MAX_CUSTOM_FIELDS = 200

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
_LOCATION_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_ID_RE = re.compile(_ID_PATTERN)
_LOCATION_RE = re.compile(_LOCATION_PATTERN)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_CHARS_RE = re.compile(r"^\+?[\d\s().-]+$")


@dataclass(frozen=True)
class LeadNote:
    body: str
    title: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"body": self.body, "title": self.title}


@dataclass(frozen=True)
class LeadTask:
    title: str
    body: str | None = None
    # GHL requires a due date; a lead's follow-up task defaults to one day after the push.
    dueDate: datetime | None = None
    assignedTo: str | None = None

    def as_json(self) -> dict[str, Any]:
        due = json_datetime(self.dueDate) if self.dueDate is not None else None
        return {"title": self.title, "body": self.body, "dueDate": due, "assignedTo": self.assignedTo}


@dataclass(frozen=True)
class Lead:
    """One lead as Rankr sends it. Field names follow Rankr's contact (docs/rankr-api.yaml)."""

    leadId: str
    locationId: str | None = None
    rankrAccountId: str | None = None
    firstName: str | None = None
    lastName: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    source: str = DEFAULT_SOURCE
    tags: list[str] = field(default_factory=list)
    customFields: dict[str, Any] = field(default_factory=dict)
    note: LeadNote | None = None
    task: LeadTask | None = None
    # The fields the payload carried (the others hold their defaults).
    given_fields: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def has_identifier(self) -> bool:
        """GHL can only match a contact by e-mail or phone."""
        return bool(self.email or self.phone)

    @property
    def lead_tag(self) -> str:
        return lead_tag(self.leadId)

    def as_json(self, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The lead as JSON, every field in order (what the payload hash and the stored body hold)."""
        values: dict[str, Any] = {
            "leadId": self.leadId,
            "locationId": self.locationId,
            "rankrAccountId": self.rankrAccountId,
            "firstName": self.firstName,
            "lastName": self.lastName,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "company": self.company,
            "source": self.source,
            "tags": list(self.tags),
            "customFields": {key: _json_value(value) for key, value in self.customFields.items()},
            "note": self.note.as_json() if self.note is not None else None,
            "task": self.task.as_json() if self.task is not None else None,
        }
        return {key: value for key, value in values.items() if key not in exclude}

    def rankr_record(self) -> dict[str, Any]:
        """The lead as a Rankr contact record (the input side of the field mapping)."""
        first, last = self.firstName, self.lastName
        if self.name and not (first or last):
            first, _, rest = self.name.partition(" ")
            last = rest.strip() or None
        return {
            "id": self.leadId,
            "firstName": first,
            "lastName": last,
            "email": self.email,
            "phone": self.phone,
            "company": self.company,
            "source": self.source,
            "tags": list(self.tags),
            "customFields": dict(self.customFields),
        }


def _json_value(value: Any) -> Any:
    # A custom field's value as JSON: infinities and NaN have no JSON spelling and become null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return list(value) if isinstance(value, list) else value


def parse_lead(raw: Any) -> Lead:
    """Validate one lead; raises `WireFormatError` naming every bad field (values never echoed)."""
    problems = Problems("Lead")
    reader = object_fields(raw, problems, (), "Lead")
    if reader is None:
        problems.raise_if_any()
    assert reader is not None
    values = {
        "leadId": reader.field("leadId", _lead_id, required=True),
        "locationId": reader.field("locationId", _optional(_location_id)),
        "rankrAccountId": reader.field("rankrAccountId", _optional(_lead_id)),
        "firstName": reader.field("firstName", _optional(_text(255))),
        "lastName": reader.field("lastName", _optional(_text(255))),
        "name": reader.field("name", _optional(_text(255))),
        "email": reader.field("email", _optional(_email)),
        "phone": reader.field("phone", _optional(_phone)),
        "company": reader.field("company", _optional(_text(255))),
        "source": reader.field("source", _source, default=DEFAULT_SOURCE),
        "tags": reader.nested("tags", _tags, default=[]),
        "customFields": reader.nested("customFields", _custom_fields, default={}),
        "note": reader.nested("note", _note),
        "task": reader.nested("task", _task),
    }
    reader.finish(values)
    if not reader.failed and values["locationId"] is None and values["rankrAccountId"] is None:
        problems.add((), "Value error, locationId or rankrAccountId is required")
    problems.raise_if_any()
    return Lead(**values, given_fields=frozenset(reader.given))


def _text(max_length: int) -> Callable[[Any], str]:
    return lambda value: string(value, strip=True, max_length=max_length)


def _optional(check: Callable[[Any], str]) -> Callable[[Any], str | None]:
    """A string that may be absent: null, or blank (a blank string means absent)."""

    def optional(value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return check(value)

    return optional


def _lead_id(value: Any) -> str:
    return string(value, strip=True, pattern=_ID_PATTERN, matches=_ID_RE.fullmatch)


def _location_id(value: Any) -> str:
    return string(value, strip=True, pattern=_LOCATION_PATTERN, matches=_LOCATION_RE.fullmatch)


def _source(value: Any) -> str:
    return string(value, strip=True, min_length=1, max_length=255)


def _email(value: Any) -> str:
    text = string(value, strip=True, max_length=320)
    if not _EMAIL_RE.match(text):
        raise Invalid("Value error, not a valid e-mail address")
    return text


def _phone(value: Any) -> str:
    text = string(value, strip=True, max_length=50)
    digits = sum(ch.isdigit() for ch in text)
    if not _PHONE_CHARS_RE.match(text) or not 7 <= digits <= 15:
        raise Invalid("Value error, not a valid phone number (7 to 15 digits, optional leading +)")
    return text


def _tags(value: Any, problems: Problems, location: Location) -> list[str]:
    try:
        raw_tags = items(value, max_length=MAX_TAGS)
    except Invalid as problem:
        problems.add(location, str(problem))
        return []
    tags: list[str] = []
    valid = True
    for index, raw_tag in enumerate(raw_tags):
        try:
            tags.append(string(raw_tag, strip=True, min_length=1, max_length=100))
        except Invalid as problem:
            problems.add((*location, index), str(problem))
            valid = False
    if not valid:
        return []
    cleaned: list[str] = []
    for tag in tags:
        if tag.lower().startswith(LEAD_TAG_PREFIX):
            problems.add(location, f"Value error, tags starting with {LEAD_TAG_PREFIX!r} are reserved")
            return []
        if not any(same_tag(tag, kept) for kept in cleaned):
            cleaned.append(tag)
    return cleaned


def _custom_fields(value: Any, problems: Problems, location: Location) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        problems.add(location, "Input should be a valid dictionary")
        return {}
    fields: dict[str, Any] = {}
    before = len(problems.found)
    for raw_key, field_value in value.items():
        try:
            key = string(raw_key, strip=True, min_length=1, max_length=100)
        except Invalid as problem:
            problems.add((*location, str(raw_key), "[key]"), str(problem))
            key = None
        if not _custom_field_value_ok(field_value):
            problems.add(
                (*location, str(raw_key)),
                "Value error, must be a string, number, boolean, list of strings or null",
            )
        elif key is not None:
            fields[key] = field_value
    # As pydantic: the count is checked once every entry is valid.
    if len(problems.found) == before and len(fields) > MAX_CUSTOM_FIELDS:
        problems.add(
            location,
            f"Dictionary should have at most {MAX_CUSTOM_FIELDS} items after validation, not {len(fields)}",
        )
    return fields


def _custom_field_value_ok(value: Any) -> bool:
    # Rankr's CustomFieldValue (docs/rankr-api.yaml); one clear message instead of one per kind.
    return (
        value is None
        or isinstance(value, bool | int | float)
        or (isinstance(value, str) and len(value) <= 10_000)
        or (
            isinstance(value, list)
            and len(value) <= 100
            and all(isinstance(v, str) and len(v) <= 1000 for v in value)
        )
    )


def _note(value: Any, problems: Problems, location: Location) -> LeadNote | None:
    if value is None:
        return None
    reader = object_fields(value, problems, location, "LeadNote")
    if reader is None:
        return None
    body = reader.field(
        "body", lambda v: string(v, strip=True, min_length=1, max_length=50_000), required=True
    )
    title = reader.field("title", _optional(_text(255)))
    reader.finish(("body", "title"))
    return None if reader.failed else LeadNote(body=body, title=title)


def _task(value: Any, problems: Problems, location: Location) -> LeadTask | None:
    if value is None:
        return None
    reader = object_fields(value, problems, location, "LeadTask")
    if reader is None:
        return None
    title = reader.field(
        "title", lambda v: string(v, strip=True, min_length=1, max_length=500), required=True
    )
    body = reader.field("body", lambda v: None if v is None else string(v, strip=True, max_length=50_000))
    due = reader.field("dueDate", _due_date)
    assigned_to = reader.field("assignedTo", _optional(_text(255)))
    reader.finish(("title", "body", "dueDate", "assignedTo"))
    if reader.failed:
        return None
    return LeadTask(title=title, body=body, dueDate=due, assignedTo=assigned_to)


def _due_date(value: Any) -> datetime | None:
    """What pydantic read as a datetime (`wire_values.parse_datetime`); without an offset, UTC."""
    if value is None:
        return None
    try:
        due = parse_datetime(value)
    except ValueError:
        # pydantic's wording: text may also have been a date.
        raise Invalid(
            "Input should be a valid datetime or date"
            if isinstance(value, str)
            else "Input should be a valid datetime"
        ) from None
    return due if due.tzinfo is not None else due.replace(tzinfo=UTC)


def lead_tag(lead_id: str) -> str:
    """The marker tag of a lead's contact, in the canonical case it is written and searched in."""
    return canonical_tag(f"{LEAD_TAG_PREFIX}{lead_id}")


def describe_validation_error(error: WireFormatError) -> str:
    """One line naming every bad field; values are never echoed (they may be PII)."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "lead"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
