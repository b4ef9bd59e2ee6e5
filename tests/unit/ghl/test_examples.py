"""Every documented example (OpenAPI responses/requests, webhook events) parses into our models,
with every documented field landing in a declared field (not in the ``extra`` bucket).

The examples are rebuilt from the contract fixtures under tests/contract: GHL's documented shapes
filled with fixed values of each kind."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest
from ghl_openapi_examples import SpecExamples, sample
from pydantic import BaseModel
from rankr_ghl.flows import intake
from rankr_ghl.flows.queue_message import (
    APP_EVENTS,
    APPOINTMENT_EVENTS,
    CONTACT_EVENTS,
    NOTE_EVENTS,
    SUPPORTED_EVENT_TYPES,
    TASK_EVENTS,
)
from rankr_ghl.ghl import models as m

RESPONSES: list[tuple[str, str, str, str, type[BaseModel]]] = [
    ("contacts.json", "GET", "/contacts/{contactId}", "200", m.ContactResponse),
    ("contacts.json", "GET", "/contacts/", "200", m.ContactsListResponse),
    ("contacts.json", "GET", "/contacts/business/{businessId}", "200", m.ContactsListResponse),
    ("contacts.json", "POST", "/contacts/", "201", m.ContactResponse),
    ("contacts.json", "PUT", "/contacts/{contactId}", "200", m.UpdateContactResponse),
    ("contacts.json", "DELETE", "/contacts/{contactId}", "200", m.SucceededResponse),
    ("contacts.json", "POST", "/contacts/upsert", "200", m.UpsertContactResponse),
    ("contacts.json", "GET", "/contacts/{contactId}/tasks", "200", m.TasksResponse),
    ("contacts.json", "GET", "/contacts/{contactId}/tasks/{taskId}", "200", m.TaskResponse),
    ("contacts.json", "POST", "/contacts/{contactId}/tasks", "201", m.TaskResponse),
    ("contacts.json", "PUT", "/contacts/{contactId}/tasks/{taskId}", "200", m.TaskResponse),
    ("contacts.json", "PUT", "/contacts/{contactId}/tasks/{taskId}/completed", "200", m.TaskResponse),
    ("contacts.json", "DELETE", "/contacts/{contactId}/tasks/{taskId}", "200", m.SucceededResponse),
    ("contacts.json", "GET", "/contacts/{contactId}/notes", "200", m.NotesResponse),
    ("contacts.json", "GET", "/contacts/{contactId}/notes/{id}", "200", m.NoteResponse),
    ("contacts.json", "POST", "/contacts/{contactId}/notes", "201", m.NoteResponse),
    ("contacts.json", "PUT", "/contacts/{contactId}/notes/{id}", "200", m.NoteResponse),
    ("contacts.json", "DELETE", "/contacts/{contactId}/notes/{id}", "200", m.SucceededResponse),
    ("contacts.json", "GET", "/contacts/{contactId}/appointments", "200", m.AppointmentsResponse),
    ("contacts.json", "POST", "/contacts/{contactId}/tags", "201", m.TagsResponse),
    ("contacts.json", "DELETE", "/contacts/{contactId}/tags", "200", m.TagsResponse),
    ("calendars.json", "GET", "/calendars/events/appointments/{eventId}", "200", m.CalendarEventResponse),
    ("locations.json", "POST", "/locations/{locationId}/tasks/search", "200", m.LocationTasksResponse),
]

# Read without pydantic (`from_wire`): unknown fields land in `extra`.
OAUTH_RESPONSES: list[tuple[str, str, str, str, Any]] = [
    ("oauth.json", "POST", "/oauth/token", "200", m.TokenResponse),
    ("oauth.json", "POST", "/oauth/locationToken", "200", m.TokenResponse),
    ("oauth.json", "GET", "/oauth/installedLocations", "200", m.InstalledLocationsResponse),
]

KNOWN_EXAMPLE_TYPE_BUGS = {
    # ContactsSearchSchema.followers: array of strings whose example is a bare string.
    ("contacts.json", "GET", "/contacts/"): ["array:string"],
    ("contacts.json", "GET", "/contacts/business/{businessId}"): ["array:string"],
    # GetAccessCodeSuccessfulResponseDto.isBulkInstallation: boolean whose example is a string.
    ("oauth.json", "POST", "/oauth/token"): ["boolean:string"],
}

REQUESTS: list[tuple[str, str, str, type[m.GHLRequest]]] = [
    ("contacts.json", "POST", "/contacts/", m.ContactCreate),
    ("contacts.json", "PUT", "/contacts/{contactId}", m.ContactUpdate),
    ("contacts.json", "POST", "/contacts/upsert", m.ContactUpsert),
    ("contacts.json", "POST", "/contacts/{contactId}/tasks", m.TaskCreate),
    ("contacts.json", "PUT", "/contacts/{contactId}/tasks/{taskId}", m.TaskUpdate),
    ("contacts.json", "POST", "/contacts/{contactId}/notes", m.NoteCreate),
    ("contacts.json", "PUT", "/contacts/{contactId}/notes/{id}", m.NoteUpdate),
]


def _extras(model: Any, where: str = "") -> list[str]:
    """Paths of fields that were not declared on the model (landed in ``model_extra``)."""
    found: list[str] = []
    if isinstance(model, BaseModel):
        found += [f"{where}.{k}" for k in (model.model_extra or {})]
        for name in type(model).model_fields:
            found += _extras(getattr(model, name), f"{where}.{name}")
    elif isinstance(model, list):
        for i, item in enumerate(model):
            found += _extras(item, f"{where}[{i}]")
    return found


@pytest.mark.parametrize(("spec_file", "method", "path", "status", "model"), RESPONSES)
def test_documented_response_example_parses(
    ghl_contract: dict[str, Any], spec_file: str, method: str, path: str, status: str, model: type[BaseModel]
) -> None:
    examples = SpecExamples(ghl_contract)
    example = examples.response_example(spec_file, method, path, status)
    assert example, f"no example could be assembled for {method} {path}"
    # Spec bugs: examples that contradict their own declared type (replaced by a typed value).
    assert examples.mismatches == KNOWN_EXAMPLE_TYPE_BUGS.get((spec_file, method, path), [])
    parsed = model.model_validate(example)
    assert _extras(parsed) == [], "documented fields must map onto declared model fields"
    # Round trip: every documented top-level key comes back under its exact wire name.
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert set(example) <= set(dumped)


def _wire_extras(payload: Any, where: str = "") -> list[str]:
    """Paths of fields a `from_wire` payload did not declare (kept in its ``extra``)."""
    found: list[str] = []
    if dataclasses.is_dataclass(payload):
        found += [f"{where}.{k}" for k in payload.extra]  # type: ignore[attr-defined]
        for item in dataclasses.fields(payload):
            found += _wire_extras(getattr(payload, item.name), f"{where}.{item.name}")
    elif isinstance(payload, list):
        for i, item in enumerate(payload):
            found += _wire_extras(item, f"{where}[{i}]")
    return found


@pytest.mark.parametrize(("spec_file", "method", "path", "status", "model"), OAUTH_RESPONSES)
def test_documented_oauth_example_reads_into_declared_fields(
    ghl_contract: dict[str, Any], spec_file: str, method: str, path: str, status: str, model: Any
) -> None:
    examples = SpecExamples(ghl_contract)
    example = examples.response_example(spec_file, method, path, status)
    assert example, f"no example could be assembled for {method} {path}"
    assert examples.mismatches == KNOWN_EXAMPLE_TYPE_BUGS.get((spec_file, method, path), [])
    parsed = model.from_wire(example)
    assert _wire_extras(parsed) == [], "documented fields must map onto declared fields"
    set_fields = {f.name for f in dataclasses.fields(parsed) if getattr(parsed, f.name) not in (None, [], {})}
    assert len(set_fields) >= len(example), "every documented top-level key was read"


@pytest.mark.parametrize(("spec_file", "method", "path", "model"), REQUESTS)
def test_documented_request_example_round_trips(
    ghl_contract: dict[str, Any], spec_file: str, method: str, path: str, model: type[m.GHLRequest]
) -> None:
    example = SpecExamples(ghl_contract).request_example(spec_file, method, path)
    parsed = model.model_validate(example)
    assert set(parsed.to_api()) == set(example)


def test_contact_example_values(ghl_contract: dict[str, Any]) -> None:
    example = SpecExamples(ghl_contract).response_example(
        "contacts.json", "GET", "/contacts/{contactId}", "200"
    )
    contact = m.ContactResponse.model_validate(example).contact
    assert contact.custom_fields and contact.custom_fields[0].value == sample("string")
    assert contact.date_added == datetime.fromisoformat(sample("date-time"))
    assert contact.dnd_settings is not None and contact.dnd_settings.call is not None


def test_non_iso_appointment_times_parse(ghl_contract: dict[str, Any]) -> None:
    example = SpecExamples(ghl_contract).response_example(
        "contacts.json", "GET", "/contacts/{contactId}/appointments", "200"
    )
    # GHL documents these times as "YYYY-MM-DD hh:mm:ss", with no zone.
    assert example["events"][0]["startTime"] == sample("date-time-space")
    event = m.AppointmentsResponse.model_validate(example).events[0]
    assert event.start_time == datetime(2023, 9, 25, 16, 0) and event.start_time.tzinfo is None
    assert event.end_time is not None and event.end_time - event.start_time == timedelta(0)


def test_calendar_event_times_keep_offset(ghl_contract: dict[str, Any]) -> None:
    example = SpecExamples(ghl_contract).response_example(
        "calendars.json", "GET", "/calendars/events/appointments/{eventId}", "200"
    )
    event = m.CalendarEventResponse.model_validate(example).event
    assert event.start_time is not None and event.start_time.utcoffset() == timedelta(hours=5, minutes=30)


def test_token_response_mixed_case_and_repr_hides_tokens() -> None:
    mixed = {
        "access_token": "AT-secret",
        "refreshToken": "RT-secret",
        "expires_in": 86399,
        "userType": "Location",
        "location_id": "loc1",
        "companyId": "co1",
        "scope": "contacts.readonly contacts.write",
    }
    token = m.TokenResponse.from_wire(mixed)
    assert (token.access_token, token.refresh_token) == ("AT-secret", "RT-secret")
    assert (token.user_type, token.location_id, token.company_id) == ("Location", "loc1", "co1")
    assert token.scopes == ["contacts.readonly", "contacts.write"]
    assert "secret" not in repr(token)


def test_succeded_typo_and_correct_spelling() -> None:
    assert m.SucceededResponse.model_validate({"succeded": True}).succeeded is True
    assert m.SucceededResponse.model_validate({"succeeded": False}).succeeded is False
    assert m.SucceededResponse(succeeded=True).to_api() == {"succeded": True}


def test_custom_fields_written_as_field_value_read_as_value() -> None:
    body = m.ContactUpdate(
        custom_fields=[
            m.CustomFieldInput(id="cf1", field_value="x"),
            m.CustomFieldInput(key="k2", field_value=None),
        ]
    ).to_api()
    assert body == {"customFields": [{"id": "cf1", "field_value": "x"}, {"key": "k2", "field_value": None}]}
    with pytest.raises(ValueError, match="id or a key"):
        m.CustomFieldInput(field_value="orphan")
    read = m.Contact.model_validate({"customFields": [{"id": "cf1", "value": ["a", "b"]}]})
    assert read.custom_fields is not None and read.custom_fields[0].value == ["a", "b"]


def test_request_models_reject_unknown_fields() -> None:
    with pytest.raises(ValueError, match="additionalEmails"):
        m.ContactUpdate.model_validate({"additionalEmails": ["x"]})


def test_response_models_keep_unknown_fields() -> None:
    contact = m.Contact.model_validate({"id": "c1", "brandNewField": 7})
    assert contact.model_extra == {"brandNewField": 7}


def test_contact_repr_hides_pii() -> None:
    contact = m.Contact.model_validate({"id": "c1", "email": "a@b.example", "phone": "+15551234567"})
    assert "a@b.example" not in repr(contact) and "5551234567" not in repr(contact)


def test_location_tasks_nested_arrays_flatten() -> None:
    parsed = m.LocationTasksResponse.model_validate(
        {"tasks": [[{"_id": "t1", "title": "A"}], [{"id": "t2"}]]}
    )
    assert [t.id for t in parsed.tasks] == ["t1", "t2"]


# ---- webhook events ----------------------------------------------------------------------------

# Example file name -> the event set of the queue message format that must hold its type.
EXPECTED_SET = {
    "AppInstall": APP_EVENTS,
    "AppUninstall": APP_EVENTS,
    "AppointmentCreate": APPOINTMENT_EVENTS,
    "AppointmentUpdate": APPOINTMENT_EVENTS,
    "AppointmentDelete": APPOINTMENT_EVENTS,
    "ContactCreate": CONTACT_EVENTS,
    "ContactUpdate": CONTACT_EVENTS,
    "ContactDelete": CONTACT_EVENTS,
    "ContactTagUpdate": CONTACT_EVENTS,
    "ContactDndUpdate": CONTACT_EVENTS,
    "NoteCreate": NOTE_EVENTS,
    "NoteUpdate": NOTE_EVENTS,
    "NoteDelete": NOTE_EVENTS,
    "TaskCreate": TASK_EVENTS,
    "TaskComplete": TASK_EVENTS,
    "TaskDelete": TASK_EVENTS,
}


def webhook_example(documented: dict[str, Any]) -> dict[str, Any]:
    """A payload of the documented shape, with the documented event type."""
    return {**sample(documented["shape"]), "type": documented["type"]}


def test_every_webhook_example_is_a_supported_event_with_its_ids(ghl_webhook_events: dict[str, Any]) -> None:
    assert len(ghl_webhook_events) >= len(EXPECTED_SET)
    seen = set()
    for file_name, documented in sorted(ghl_webhook_events.items()):
        name = file_name.split(".")[0]
        event = intake.normalise_envelope(webhook_example(documented))
        assert event["type"] in EXPECTED_SET[name], file_name
        assert event["type"] in SUPPORTED_EVENT_TYPES, file_name
        intake.check_entity(event["type"], event)  # raises WebhookRejected when an id is missing
        seen.add(name)
    assert seen == set(EXPECTED_SET)


def test_webhook_envelope_with_data_is_flattened(ghl_webhook_events: dict[str, Any]) -> None:
    flat = webhook_example(ghl_webhook_events["TaskCreate.example"])
    wrapped = {
        "type": flat.pop("type"),
        "timestamp": "2025-01-28T14:35:00Z",
        "webhookId": "wh-1",
        "data": flat,
    }
    event = intake.normalise_envelope(wrapped)
    assert event["type"] in TASK_EVENTS
    assert event["webhookId"] == "wh-1" and event["id"] == flat["id"]
    assert event["locationId"] == flat["locationId"]
    assert intake.parse_timestamp(event["timestamp"]).tzinfo is not None


def test_unknown_webhook_type_is_not_supported() -> None:
    event = intake.normalise_envelope({"type": "OpportunityCreate", "locationId": "L", "id": "o1"})
    assert event["type"] not in SUPPORTED_EVENT_TYPES
