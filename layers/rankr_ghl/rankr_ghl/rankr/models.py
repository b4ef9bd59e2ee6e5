"""Typed models of docs/rankr-api.yaml.

Attributes are snake_case, the wire is camelCase (aliases). Response models ignore unknown fields so that
Rankr can add fields without breaking the connector. Request models forbid unknown fields, so a typo is a
local error rather than a 422 from Rankr.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

CustomFieldValue = str | bool | int | float | list[str] | None


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision, the format Rankr uses: 2025-01-31T12:00:00.000Z."""
    if value.tzinfo is None:
        raise ValueError("timestamps sent to Rankr must be timezone-aware")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


# Aware datetime that goes on the wire in Rankr's exact format.
Timestamp = Annotated[AwareDatetime, PlainSerializer(format_timestamp, return_type=str, when_used="json")]


class _Response(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True, defer_build=True
    )


class _Record(_Response):
    """A stored Rankr record: its timestamps, and soft deletes."""

    created_at: Timestamp
    updated_at: Timestamp
    deleted_at: Timestamp | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


class _Request(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", defer_build=True
    )

    def to_json(self, *, partial: bool) -> dict[str, Any]:
        """Wire body. `partial` (PATCH) sends only the fields that were set; explicit None clears."""
        if partial:
            return self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# ---------------------------------------------------------------- contacts


class _ContactFields(_Request):
    first_name: str | None = Field(default=None, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    company: str | None = Field(default=None, max_length=255)
    source: str | None = Field(default=None, max_length=255)
    tags: list[str] | None = Field(default=None, max_length=100)
    custom_fields: dict[str, CustomFieldValue] | None = None


class ContactCreate(_ContactFields):
    """Body of POST /contacts."""


class ContactUpdate(_ContactFields):
    """Body of PATCH /contacts/{id}: only the fields you set are sent; None clears a field, and a None
    value inside `custom_fields` removes that custom field."""


class Contact(_Record):
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    source: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, CustomFieldValue] = Field(default_factory=dict)


# ---------------------------------------------------------------- tasks


class TaskCreate(_Request):
    title: str = Field(min_length=1, max_length=500)
    body: str | None = Field(default=None, max_length=50000)
    due_date: Timestamp | None = None
    completed: bool = False
    assignee: str | None = Field(default=None, max_length=255)


class TaskUpdate(_Request):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    body: str | None = Field(default=None, max_length=50000)
    due_date: Timestamp | None = None
    completed: bool | None = None
    assignee: str | None = Field(default=None, max_length=255)


class Task(_Record):
    id: str
    contact_id: str
    title: str
    body: str | None = None
    due_date: Timestamp | None = None
    completed: bool = False
    assignee: str | None = None


# ---------------------------------------------------------------- notes


class NoteCreate(_Request):
    body: str = Field(min_length=1, max_length=50000)
    title: str | None = Field(default=None, max_length=500)


class NoteUpdate(_Request):
    body: str | None = Field(default=None, min_length=1, max_length=50000)
    title: str | None = Field(default=None, max_length=500)


class Note(_Record):
    id: str
    contact_id: str
    title: str | None = None
    body: str


# ---------------------------------------------------------------- appointments


class AppointmentPut(_Request):
    """Full mirrored state of a GHL appointment (PUT replaces everything)."""

    status: str = Field(min_length=1, max_length=50)
    start_time: Timestamp
    end_time: Timestamp
    title: str | None = Field(default=None, max_length=500)
    contact_id: str | None = None
    calendar_id: str | None = Field(default=None, max_length=128)

    def to_json(self, *, partial: bool = False) -> dict[str, Any]:
        # A mirror is a full replace: send every field, nulls included.
        return self.model_dump(mode="json", by_alias=True)


class Appointment(_Record):
    external_id: str
    status: str
    start_time: Timestamp
    end_time: Timestamp
    title: str | None = None
    contact_id: str | None = None
    calendar_id: str | None = None


# ---------------------------------------------------------------- pages


class ContactPage(_Response):
    items: list[Contact]
    next_cursor: str | None = None


class TaskPage(_Response):
    items: list[Task]
    next_cursor: str | None = None


class NotePage(_Response):
    items: list[Note]
    next_cursor: str | None = None


class AppointmentPage(_Response):
    items: list[Appointment]
    next_cursor: str | None = None
