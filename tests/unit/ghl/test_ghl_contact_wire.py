"""The pydantic-free contact checks (`contact_wire`, `contact_wire_bodies`) read and write exactly
what the pydantic models they stand in for do: on the contract fixture's examples, on realistic
GHL contacts, on adversarial ones and on thousands of generated ones; and their field lists are
the models' (so neither can change alone)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from ghl_openapi_examples import SpecExamples
from pydantic import BaseModel, ValidationError
from rankr_ghl.ghl import contact_wire as wire
from rankr_ghl.ghl import contact_wire_bodies as bodies
from rankr_ghl.ghl import models as m
from rankr_ghl.wire_values import WireFormatError

Outcome = tuple[str, Any]


def model_outcome(
    model: type[BaseModel], raw: Any, read: Callable[[Any], Any], *, null_is_empty: bool = True
) -> Outcome:
    """What the pydantic path gives: an answer's null body reads as {} (`parse_response`)."""
    try:
        return "ok", read(model.model_validate(raw if raw is not None or not null_is_empty else {}))
    except (ValidationError, OverflowError, OSError):
        # GHLDateTime lets an out-of-range epoch escape as OverflowError/OSError; the wire check
        # reports it as a shape error instead (both refuse the answer).
        return "error", None


def wire_outcome(parse: Callable[[Any], Any], raw: Any) -> Outcome:
    try:
        return "ok", parse(raw)
    except WireFormatError:
        return "error", None


def contact_of(answer: Any) -> Any:
    return answer.contact.to_api() if answer.contact is not None else None


def search_outcome(page: wire.ContactSearchAnswer) -> tuple[Any, ...]:
    return page.contacts, page.total, page.top_level_cursor


# (pydantic model, how its answer is read by the client, the wire parser)
ANSWERS: dict[str, tuple[type[BaseModel], Callable[[Any], Any], Callable[[Any], Any]]] = {
    # A null body reads as {} (as `parse_response` reads it) for the contact too.
    "contact": (
        m.Contact,
        lambda c: c.to_api(),
        lambda raw: wire.CONTACT.parse(raw if raw is not None else {}),
    ),
    "get": (m.ContactResponse, contact_of, wire.contact_answer),
    "upsert": (m.UpsertContactResponse, lambda a: (a.contact.to_api(), a.new), wire.upsert_answer),
    "update": (m.UpdateContactResponse, contact_of, wire.update_answer),
    "delete": (m.SucceededResponse, lambda a: bool(a.succeeded), wire.succeeded_answer),
    "tags": (m.TagsResponse, lambda a: a.tags, wire.tags_answer),
    "duplicate": (m.DuplicateContactResponse, contact_of, wire.duplicate_answer),
    "search": (
        m.ContactSearchResponse,
        lambda a: (
            [c.to_api() for c in a.contacts],
            a.total,
            bool((a.model_extra or {}).get("searchAfter")),
        ),
        lambda body: search_outcome(wire.search_answer(body)),
    ),
}
BODIES: dict[str, tuple[type[BaseModel], wire.WireRecord]] = {
    "create": (m.ContactCreate, bodies.CONTACT_CREATE),
    "update": (m.ContactUpdate, bodies.CONTACT_UPDATE),
    "upsert": (m.ContactUpsert, bodies.CONTACT_UPSERT),
}


def assert_answer_same(kind: str, raw: Any) -> Outcome:
    model, read, parse = ANSWERS[kind]
    expected = model_outcome(model, raw, read)
    got = wire_outcome(parse, raw)
    assert got == expected, (kind, raw)
    return got


def assert_body_same(kind: str, raw: Any) -> Outcome:
    model, record = BODIES[kind]
    expected = model_outcome(model, raw, lambda body: body.to_api(), null_is_empty=False)
    got = wire_outcome(lambda body: bodies.contact_body(record, body), raw)
    assert got == expected, (kind, raw)
    if got[0] == "ok":
        assert list(got[1]) == list(expected[1]), "same key order"
    return got


# ---- fixed inputs ------------------------------------------------------------------------------

REALISTIC_CONTACT: dict[str, Any] = {
    "id": "ocQHyuzHvysMo5N5VsXc",
    "locationId": "C2QujeCh8ZnC7al2InWR",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "firstNameLowerCase": "ada",
    "fullNameLowerCase": "ada lovelace",
    "email": "ada@example.com",
    "emailLowerCase": "ada@example.com",
    "phone": "+15550100",
    "additionalEmails": [{"email": "a2@example.com"}],
    "dnd": False,
    "dndSettings": {
        "Call": {"status": "active", "message": "opted out", "code": "103"},
        "SMS": {"status": "x"},
    },
    "type": "lead",
    "source": "rankr",
    "tags": ["rankr", "VIP"],
    "dateOfBirth": "1990-12-10",
    "dateAdded": "2024-06-06T12:44:17.497Z",
    "dateUpdated": 1717676657497,
    "customFields": [
        {"id": "cf1", "value": "x"},
        {"id": "cf2", "value": ["a", "b"]},
        {"id": "cf3", "value": 12},
    ],
    "attributionSource": {"url": "https://x", "campaign": "c", "utmSource": "g", "sessionSource": "CRM UI"},
    "lastAttributionSource": {"medium": "api"},
    "attributions": [{"utmMedium": "cpc", "isFirst": True}],
    "followers": [],
    "birthMonth": 12,
    "birthDay": "10",
    "businessId": None,
    "createdBy": {"source": "INTEGRATION", "channel": "OAUTH", "sourceId": "abc", "timestamp": "2024-06-06"},
    "searchAfter": [1717676657497, "ocQHyuzHvysMo5N5VsXc"],
    "opportunities": [],
}

ADVERSARIAL_CONTACTS: list[Any] = [
    {},
    None,
    [],
    "contact",
    {"id": 5},
    {"firstName": "a", "first_name": "b"},
    {"first_name": "b"},
    {"tags": ["a", 1]},
    {"tags": ("a", "b")},
    {"tags": "a"},
    {"tags": None, "email": None, "foo": None, "bar": {"x": None}},
    {"dnd": "yes", "deleted": "0", "bounceEmail": 1, "unsubscribeEmail": 0.0},
    {"dnd": "maybe"},
    {"dnd": 2},
    {"dndSettings": {"call": {"status": "active", "x": 1}}},
    {"dndSettings": {"Call": {"status": "active"}, "call": {"status": 1}}},
    {"dndSettings": {"SMS": {"status": 5}}},
    {"dndSettings": {"SMS": {}}},
    {"dndSettings": {"SMS": None, "Email": {"status": "inactive", "message": None}}},
    {"dndSettings": []},
    {"customFields": [{"id": 1, "value": None}]},
    {"customFields": [{"value": {"a": None}, "x": None, "y": 1}]},
    {"customFields": {"id": "x"}},
    {"attributionSource": {"utm_source": "x", "utmSource": "y"}},
    {"attributionSource": {"fb_event_id": "x", "userAgent": 3}},
    {"attributions": [None]},
    {"birthMonth": "5", "birthDay": True},
    {"birthMonth": " 5 ", "birthDay": "1_0"},
    {"birthMonth": "five"},
    {"birthMonth": [5]},
    {"dateAdded": "2024-01-02"},
    {"dateAdded": "2024-01-02T10"},
    {"dateAdded": "20240102"},
    {"dateAdded": "-5"},
    {"dateAdded": "1700000000000.5"},
    {"dateAdded": "1700000000"},
    {"dateAdded": 1700000000000.25},
    {"dateAdded": True},
    {"dateAdded": 10**20},
    {"dateAdded": "9" * 30},
    {"dateAdded": ""},
    {"dateAdded": "  "},
    {"dateAdded": "2024-01-02 10:11:12"},
    {"dateAdded": "2024-01-02T10:11:12.1234567Z"},
    {"dateAdded": "2024-01-02T10:11:12+0100"},
    {"dateAdded": "2024-01-02T10:11:12-05:30"},
    {"dateAdded": "2024-01-02t10:11:12z"},
    {"dateAdded": "2024-13-02T10:11:12Z"},
    {"dateAdded": "not a date"},
    {"dateAdded": []},
    {"dateUpdated": " 1717676657497 "},
    {"dateOfBirth": 631152000000},
    {"searchAfter": "x"},
    {"offers": [1, None, {"a": None}], "products": None, "attachments": {"k": [None]}},
    {"lastActivity": 1717676657497, "lastSessionActivityAt": "2024-01-01"},
    {"extra": float("inf"), "other": [float("nan")]},
]

UPSERT_ANSWERS: list[Any] = [
    {"new": True, "contact": REALISTIC_CONTACT, "traceId": "t-1"},
    {"new": "false", "contact": {"id": "c"}},
    {"new": None, "contact": {"id": "c"}},
    {"contact": {"id": "c"}},
    {"new": True},
    {"new": True, "contact": None},
    {"new": True, "contact": {"id": "c"}, "traceId": 5},
    {"new": 1, "contact": {"id": 5}, "trace_id": "x"},
    None,
    [],
]
SUCCEEDED_ANSWERS: list[Any] = [
    {"succeded": True},
    {"succeeded": True},
    {"succeded": None, "succeeded": "x"},
    {"succeded": "yes", "succeeded": "x"},
    {"succeeded": "x"},
    {"succeded": "false", "contact": {"id": "c", "tags": ["a"]}},
    {"succeded": True, "contact": None},
    {"succeded": True, "contact": {"firstName": 3}},
    {"contact": []},
    {},
    None,
]
TAGS_ANSWERS: list[Any] = [
    {"tags": ["a", "B"]},
    {"tags": []},
    {},
    None,
    {"tags": None},
    {"tags": "a"},
    {"tags": ["a", None]},
    {"tags": ("a",), "traceId": "x"},
    [],
]
SEARCH_ANSWERS: list[Any] = [
    {"contacts": [REALISTIC_CONTACT, {"id": "b", "searchAfter": [2, "b"]}], "total": 2},
    {"contacts": [], "total": "5", "searchAfter": [1, "x"]},
    {"contacts": None},
    {"total": 5.0},
    {"total": 5.5},
    {"total": True},
    {"total": "5.0"},
    {"contacts": [{"id": 1}], "total": "x"},
    {"contacts": {}},
    {},
    None,
]

REALISTIC_BODY: dict[str, Any] = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "+15550100",
    "address1": "1 Main St",
    "city": "London",
    "state": "LDN",
    "postalCode": "N1",
    "website": "https://ada.example",
    "timezone": "Europe/London",
    "dnd": False,
    "dndSettings": {"Email": {"status": "active", "message": "m", "code": "c"}},
    "inboundDndSettings": {"all": {"status": "inactive", "message": "m"}},
    "tags": ["rankr"],
    "customFields": [
        {"id": "cf1", "field_value": "x"},
        {"key": "contact.score", "field_value": None},
        {"id": "cf3", "key": "k", "field_value": ["a", {"b": None}]},
    ],
    "source": "rankr",
    "dateOfBirth": "1990-12-10",
    "country": "GB",
    "assignedTo": "user-1",
}
CREATE_ONLY = {"locationId": "loc-1", "gender": "female", "companyName": "Engines Ltd"}

ADVERSARIAL_BODIES: list[Any] = [
    {},
    {"first_name": "a"},
    {"first_name": "a", "firstName": "b"},
    {"foo": 1},
    {"foo": None},
    {"firstName": None, "tags": None, "customFields": None},
    {"firstName": 1},
    {"dnd": "yes"},
    {"dnd": "nope"},
    {"tags": "a"},
    {"tags": ["a", 2]},
    {"customFields": [{"key": "k"}]},
    {"customFields": [{"id": "", "field_value": 1}]},
    {"customFields": [{"id": None, "key": None, "field_value": 1}]},
    {"customFields": [{"id": "x", "fieldValue": 1}]},
    {"customFields": [{"id": "x", "value": 1}]},
    {"customFields": [{"id": 3, "field_value": 1}]},
    {"customFields": [{"field_value": 1}, {"id": "", "key": ""}]},
    {"customFields": ["x"]},
    {"custom_fields": [{"id": "x", "field_value": 0}]},
    {"dndSettings": {"Call": {"status": "a", "foo": None, "bar": 1}, "extra": None}},
    {"dndSettings": {"Call": {}}},
    {"inboundDndSettings": {"all": {"status": "x"}, "other": 1}},
    {"inboundDndSettings": {"all": {"message": "x"}}},
    {"inboundDndSettings": {"all": None}},
    {"dateOfBirth": {"a": None}},
    {"dateOfBirth": 631152000000},
    {"dateOfBirth": None},
    {"createNewIfDuplicateAllowed": "0"},
    {"create_new_if_duplicate_allowed": True},
    {"createNewIfDuplicateAllowed": "perhaps"},
    {"locationId": 5},
    {"location_id": "loc-1", "companyName": None},
    {"gender": "x", "company_name": "y"},
]


def test_contract_examples_read_the_same(ghl_contract: dict[str, Any]) -> None:
    examples = SpecExamples(ghl_contract)
    operations = [
        ("GET", "/contacts/{contactId}", "200", "get"),
        ("POST", "/contacts/", "201", "get"),
        ("PUT", "/contacts/{contactId}", "200", "update"),
        ("DELETE", "/contacts/{contactId}", "200", "delete"),
        ("POST", "/contacts/upsert", "200", "upsert"),
        ("POST", "/contacts/{contactId}/tags", "201", "tags"),
        ("DELETE", "/contacts/{contactId}/tags", "200", "tags"),
    ]
    for method, path, status, kind in operations:
        example = examples.response_example("contacts.json", method, path, status)
        assert assert_answer_same(kind, example)[0] == "ok", (method, path)
    for method, path, kind in [
        ("POST", "/contacts/", "create"),
        ("PUT", "/contacts/{contactId}", "update"),
        ("POST", "/contacts/upsert", "upsert"),
    ]:
        example = examples.request_example("contacts.json", method, path)
        assert assert_body_same(kind, example)[0] == "ok", (method, path)


def test_realistic_contact_reads_the_same() -> None:
    outcome = assert_answer_same("contact", REALISTIC_CONTACT)
    assert outcome[1]["dateUpdated"] == "2024-06-06T12:24:17.497000Z"
    assert outcome[1]["createdBy"] == REALISTIC_CONTACT["createdBy"], "unknown fields kept"
    assert "businessId" not in outcome[1], "null dropped"
    for kind in ("get", "duplicate", "update"):
        assert assert_answer_same(kind, {"contact": REALISTIC_CONTACT, "traceId": "t"})[0] == "ok"


@pytest.mark.parametrize("raw", ADVERSARIAL_CONTACTS, ids=range(len(ADVERSARIAL_CONTACTS)))
def test_adversarial_contacts_read_the_same(raw: Any) -> None:
    assert_answer_same("contact", raw)
    assert_answer_same("get", {"contact": raw})
    assert_answer_same("duplicate", {"contact": raw})


@pytest.mark.parametrize(
    ("kind", "raw"),
    [("upsert", a) for a in UPSERT_ANSWERS]
    + [(k, a) for a in SUCCEEDED_ANSWERS for k in ("update", "delete")]
    + [("tags", a) for a in TAGS_ANSWERS]
    + [("search", a) for a in SEARCH_ANSWERS],
)
def test_adversarial_answers_read_the_same(kind: str, raw: Any) -> None:
    assert_answer_same(kind, raw)


def test_realistic_bodies_write_the_same() -> None:
    for kind in BODIES:
        assert assert_body_same(kind, REALISTIC_BODY)[0] == "ok"
    for kind in ("create", "upsert"):
        assert assert_body_same(kind, REALISTIC_BODY | CREATE_ONLY)[0] == "ok"
    assert assert_body_same("update", REALISTIC_BODY | CREATE_ONLY)[0] == "error", "update refuses them"
    written = bodies.contact_body(bodies.CONTACT_UPSERT, REALISTIC_BODY)
    assert written["customFields"][1] == {"key": "contact.score", "field_value": None}, "a null is sent"


@pytest.mark.parametrize("raw", ADVERSARIAL_BODIES, ids=range(len(ADVERSARIAL_BODIES)))
def test_adversarial_bodies_write_the_same(raw: Any) -> None:
    for kind in BODIES:
        assert_body_same(kind, raw)


def test_refused_body_names_fields_not_values() -> None:
    with pytest.raises(WireFormatError) as caught:
        bodies.contact_body(bodies.CONTACT_UPSERT, {"emailAddress": "ada@example.com", "phone": 15550100})
    assert {problem[0] for problem in caught.value.problems} == {("emailAddress",), ("phone",)}
    assert "ada@example.com" not in str(caught.value) and "15550100" not in str(caught.value)


# ---- generated inputs --------------------------------------------------------------------------

# Values GHL (or a broken GHL) might put in any field: right kinds, wrong kinds, GHL's spellings.
SCALARS: list[Any] = [
    None,
    "",
    " ",
    "x",
    "Ada",
    "true",
    "no",
    "1",
    "0",
    "2.5",
    "1717676657497",
    "1700000000",
    "2024-06-06T12:44:17.497Z",
    "2024-06-06 12:44:17",
    "2024-06-06",
    "2024-06-06T12:44:17+02:00",
    "-1",
    "inf",
    0,
    1,
    2,
    -3,
    1.0,
    2.5,
    1717676657497,
    True,
    False,
]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 2 and roll < 0.12:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 2 and roll < 0.22:
        keys = ["status", "message", "code", "id", "value", "key", "field_value", "url", "x"]
        return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return rng.choice(SCALARS)


def _keys(record: wire.WireRecord) -> list[str]:
    return [key for field in record.fields for key in field.inputs]


def random_record(rng: random.Random, record: wire.WireRecord, nested: dict[str, wire.WireRecord]) -> Any:
    if rng.random() < 0.03:
        return random_value(rng, 2)
    keys = _keys(record) + ["unknownField", "other_field"]
    raw: dict[str, Any] = {}
    for key in rng.sample(keys, rng.randint(0, min(len(keys), 8))):
        inner = nested.get(key)
        if inner is not None and rng.random() < 0.8:
            value = random_record(rng, inner, nested)
            raw[key] = [value, random_record(rng, inner, nested)] if rng.random() < 0.5 else value
        else:
            raw[key] = random_value(rng)
    return raw


NESTED = {
    "dndSettings": wire.DND_SETTINGS,
    "inboundDndSettings": bodies.INBOUND_DND_SETTINGS,
    "all": bodies.INBOUND_DND_SETTING,
    **dict.fromkeys(("Call", "Email", "SMS", "WhatsApp", "GMB", "FB", "call"), wire.DND_SETTING),
    "attributionSource": wire.ATTRIBUTION_SOURCE,
    "attributions": wire.ATTRIBUTION_SOURCE,
}


@pytest.mark.parametrize("seed", range(8))
def test_generated_contacts_read_the_same(seed: int) -> None:
    rng = random.Random(seed)
    nested = NESTED | {"customFields": wire.CUSTOM_FIELD_VALUE, "contact": wire.CONTACT}
    outcomes = {"ok": 0, "error": 0}
    for _ in range(300):
        outcomes[assert_answer_same("contact", random_record(rng, wire.CONTACT, nested))[0]] += 1
        answer = random_record(rng, wire.UPSERT_CONTACT_RESPONSE, nested)
        assert_answer_same("upsert", answer)
        assert_answer_same("update", random_record(rng, wire.UPDATE_CONTACT_RESPONSE, nested))
    assert outcomes["ok"] > 30 and outcomes["error"] > 30, outcomes


@pytest.mark.parametrize("seed", range(8))
def test_generated_bodies_write_the_same(seed: int) -> None:
    rng = random.Random(1000 + seed)
    nested = NESTED | {"customFields": bodies.CUSTOM_FIELD_INPUT, "custom_fields": bodies.CUSTOM_FIELD_INPUT}
    outcomes = {"ok": 0, "error": 0}
    for _ in range(300):
        raw = random_record(rng, bodies.CONTACT_UPSERT, nested)
        outcomes[assert_body_same("upsert", raw)[0]] += 1
        assert_body_same("create", raw)
        assert_body_same("update", raw)
    assert outcomes["ok"] > 30 and outcomes["error"] > 30, outcomes


# ---- the field lists agree ---------------------------------------------------------------------


def _model_fields(model: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """Each field's Python name and the keys pydantic reads it from (alias first)."""
    from pydantic import AliasChoices

    fields: dict[str, tuple[str, ...]] = {}
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        keys = (
            tuple(str(k) for k in alias.choices) if isinstance(alias, AliasChoices) else (info.alias or name,)
        )
        fields[name] = keys if name in keys else (*keys, name)
    return fields


@pytest.mark.parametrize(
    ("model", "record"),
    [
        (m.Contact, wire.CONTACT),
        (m.DndSetting, wire.DND_SETTING),
        (m.DndSettings, wire.DND_SETTINGS),
        (m.AttributionSource, wire.ATTRIBUTION_SOURCE),
        (m.CustomFieldValue, wire.CUSTOM_FIELD_VALUE),
        (m.ContactResponse, wire.CONTACT_RESPONSE),
        (m.UpsertContactResponse, wire.UPSERT_CONTACT_RESPONSE),
        (m.UpdateContactResponse, wire.UPDATE_CONTACT_RESPONSE),
        (m.SucceededResponse, wire.SUCCEEDED_RESPONSE),
        (m.TagsResponse, wire.TAGS_RESPONSE),
        (m.DuplicateContactResponse, wire.DUPLICATE_CONTACT_RESPONSE),
        (m.ContactSearchResponse, wire.CONTACT_SEARCH_RESPONSE),
        (m.ContactCreate, bodies.CONTACT_CREATE),
        (m.ContactUpdate, bodies.CONTACT_UPDATE),
        (m.ContactUpsert, bodies.CONTACT_UPSERT),
        (m.CustomFieldInput, bodies.CUSTOM_FIELD_INPUT),
        (m.InboundDndSetting, bodies.INBOUND_DND_SETTING),
        (m.InboundDndSettings, bodies.INBOUND_DND_SETTINGS),
    ],
)
def test_wire_fields_are_the_models_fields(model: type[BaseModel], record: wire.WireRecord) -> None:
    assert {field.name: field.inputs for field in record.fields} == _model_fields(model)
    assert [field.name for field in record.fields] == list(model.model_fields), "same order"
    assert record.extra_allowed == (model.model_config.get("extra") == "allow")
    required = {name for name, info in model.model_fields.items() if info.is_required()}
    assert {field.name for field in record.fields if field.required} == required
