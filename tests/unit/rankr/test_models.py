"""Rankr models: wire names, tolerance of unknown fields, timestamp format."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from rankr_ghl.rankr import Appointment, AppointmentPut, Contact, ContactCreate, ContactPage, NoteCreate, Task
from rankr_ghl.rankr.model_base import format_timestamp

TS = "2025-01-31T12:00:00.000Z"


def test_response_models_ignore_unknown_fields_and_keep_custom_field_types() -> None:
    contact = Contact.model_validate(
        {
            "id": "con_1",
            "createdAt": TS,
            "updatedAt": "2025-01-31T13:00:00+01:00",
            "deletedAt": None,
            "brandNewField": {"x": 1},
            "customFields": {"s": "1", "i": 2, "f": 2.5, "b": True, "l": ["a"], "n": None},
        }
    )
    assert contact.custom_fields == {"s": "1", "i": 2, "f": 2.5, "b": True, "l": ["a"], "n": None}
    assert type(contact.custom_fields["b"]) is bool and type(contact.custom_fields["i"]) is int
    assert contact.updated_at == datetime(2025, 1, 31, 12, tzinfo=UTC)
    assert contact.tags == [] and not contact.deleted


def test_page_and_deleted_flag() -> None:
    page = ContactPage.model_validate(
        {"items": [{"id": "c", "createdAt": TS, "updatedAt": TS, "deletedAt": TS}], "nextCursor": "x"}
    )
    assert page.next_cursor == "x" and page.items[0].deleted


def test_timestamps_must_be_aware() -> None:
    with pytest.raises(ValidationError):
        Task.model_validate(
            {"id": "t", "contactId": "c", "title": "x", "createdAt": "2025-01-01T00:00:00", "updatedAt": TS}
        )
    with pytest.raises(ValueError):
        format_timestamp(datetime(2025, 1, 1))  # noqa: DTZ001


def test_request_models_forbid_unknown_fields_and_check_lengths() -> None:
    with pytest.raises(ValidationError):
        ContactCreate.model_validate({"firstName": "a", "nickname": "b"})
    with pytest.raises(ValidationError):
        NoteCreate(body="")
    with pytest.raises(ValidationError):
        ContactCreate(tags=["t"] * 101)


def test_appointment_put_sends_full_state_in_rankr_format() -> None:
    body = AppointmentPut(
        status="confirmed",
        start_time=datetime(2025, 1, 31, 12, 0, 0, 5000, tzinfo=UTC),
        end_time=datetime(2025, 1, 31, 13, tzinfo=UTC),
    ).to_json()
    assert body == {
        "status": "confirmed",
        "startTime": "2025-01-31T12:00:00.005Z",
        "endTime": "2025-01-31T13:00:00.000Z",
        "title": None,
        "contactId": None,
        "calendarId": None,
    }
    parsed = Appointment.model_validate({**body, "externalId": "evt", "createdAt": TS, "updatedAt": TS})
    assert parsed.external_id == "evt"
