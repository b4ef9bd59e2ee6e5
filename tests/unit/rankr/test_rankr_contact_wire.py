"""`contact_wire` reads and writes Rankr contacts exactly as the pydantic models it stands in for.

Every comparison runs the same input through both: `Contact` / `ContactPage` with
`model_dump(mode="json", by_alias=True)` against `contact_record` / `contact_page`, and
`ContactCreate` / `ContactUpdate` with `to_json(partial=...)` against `contact_write_body`. Either both
accept with equal results, or both refuse, naming the same fields.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError
from rankr_ghl.rankr.contact_models import Contact, ContactCreate, ContactPage, ContactUpdate
from rankr_ghl.rankr.contact_wire import (
    CONTACT_PAGE_FIELDS,
    CONTACT_RECORD_FIELDS,
    CONTACT_TEXT_LIMITS,
    CONTACT_WRITE_FIELDS,
    TAG_LIMIT,
    attribute_name,
    contact_page,
    contact_record,
    contact_write_body,
)
from rankr_ghl.rankr.timestamps import format_timestamp, parse_timestamp
from rankr_ghl.wire_values import WireFormatError
from rankr_ghl_tools.rankr_sandbox.store import RankrStore

TS = "2025-01-31T12:00:00.000Z"
Outcome = tuple[str, Any]


# ------------------------------------------------------------------ how an outcome is compared


def _field_location(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The field a problem is about: its name, and the tag index or custom field key inside it.
    (pydantic adds the union member or the list index of a custom field value; that detail differs.)"""
    if not loc:
        return ()
    return tuple(loc[:2]) if loc[0] in ("tags", "customFields", "custom_fields") else tuple(loc[:1])


def _problem_location(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    if loc and loc[0] == "items" and len(loc) > 2:
        return (*loc[:2], *_field_location(tuple(loc[2:])))
    return _field_location(loc)


def _refused(errors: list[dict[str, Any]]) -> Outcome:
    return "refused", {_problem_location(tuple(error["loc"])) for error in errors}


def by_model(read: Callable[[Any], Any], body: Any) -> Outcome:
    try:
        return "accepted", read(body)
    except ValidationError as exc:
        return _refused(exc.errors())  # type: ignore[arg-type]


def by_wire(read: Callable[[Any], Any], body: Any) -> Outcome:
    try:
        return "accepted", read(body)
    except WireFormatError as exc:
        return _refused(exc.errors())


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)


def model_record(body: Any) -> dict[str, Any]:
    return _dump(Contact.model_validate(body))


def model_page(body: Any) -> tuple[list[dict[str, Any]], str | None]:
    page = ContactPage.model_validate(body)
    return [_dump(item) for item in page.items], page.next_cursor


def wire_page(body: Any) -> tuple[list[dict[str, Any]], str | None]:
    page = contact_page(body)
    return page.items, page.next_cursor


def model_write(partial: bool) -> Callable[[Any], dict[str, Any]]:
    model = ContactUpdate if partial else ContactCreate
    return lambda body: model.model_validate(body).to_json(partial=partial)


def wire_write(partial: bool) -> Callable[[Any], dict[str, Any]]:
    return lambda body: contact_write_body(body, partial=partial)


def assert_same_record(body: Any) -> Outcome:
    expected = by_model(model_record, body)
    assert by_wire(contact_record, body) == expected
    return expected


def assert_same_page(body: Any) -> Outcome:
    expected = by_model(model_page, body)
    assert by_wire(wire_page, body) == expected
    return expected


def assert_same_write(body: Any) -> None:
    for partial in (False, True):
        assert by_wire(wire_write(partial), body) == by_model(model_write(partial), body), partial


# ------------------------------------------------------------------ the field sets cannot drift


def _aliases(model: type[BaseModel]) -> tuple[str | None, ...]:
    return tuple(field.alias for field in model.model_fields.values())


def test_the_wire_fields_are_the_models_fields_in_their_order() -> None:
    assert _aliases(Contact) == CONTACT_RECORD_FIELDS
    assert _aliases(ContactCreate) == _aliases(ContactUpdate) == CONTACT_WRITE_FIELDS
    assert _aliases(ContactPage) == CONTACT_PAGE_FIELDS
    for model in (Contact, ContactCreate, ContactPage):
        assert {attribute_name(field.alias or "") for field in model.model_fields.values()} == set(
            model.model_fields
        )


def test_the_length_limits_are_the_request_models_limits() -> None:
    limits = {
        field.alias: next(getattr(m, "max_length", None) for m in field.metadata if hasattr(m, "max_length"))
        for field in ContactCreate.model_fields.values()
        if field.metadata
    }
    assert limits == {**CONTACT_TEXT_LIMITS, "tags": TAG_LIMIT}
    assert "customFields" not in limits


# ------------------------------------------------------------------ realistic contacts


def contact(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "con_1",
        "firstName": "Ann",
        "lastName": None,
        "email": "ann@example.com",
        "phone": "+1 (555) 010-0000",
        "company": None,
        "source": "GHL",
        "tags": ["vip", "lead"],
        "customFields": {"score": 7, "rate": 2.5, "opt_in": True, "notes": "x", "langs": ["en", "pt"]},
        "createdAt": TS,
        "updatedAt": TS,
        "deletedAt": None,
    }
    body.update(over)
    return body


def sandbox_contacts() -> list[dict[str, Any]]:
    """What the Rankr sandbox answers for contacts created, edited and deleted in it."""
    store = RankrStore()
    bodies: list[dict[str, Any]] = [
        {},
        {"firstName": "Ann", "email": "ann@example.com", "tags": ["a", "b"]},
        {"firstName": "Émile", "lastName": "Zola", "phone": "+33 1 23 45 67 89", "company": "Les Éditions"},
        {"customFields": {"s": "1", "i": 2, "f": 2.5, "b": False, "l": ["x"], "big": 10**15}},
        {"source": "import", "tags": [], "customFields": {}},
    ]
    answers = [store.create("acc", "contact", body) for body in bodies]
    answers.append(store.update("acc", "contact", answers[1]["id"], {"lastName": "Lee", "email": None}))
    answers.append(
        store.update("acc", "contact", answers[3]["id"], {"customFields": {"i": None, "new": "v"}})
    )
    answers.append(store.soft_delete("acc", "contact", answers[2]["id"]))
    return answers


@pytest.mark.parametrize("body", sandbox_contacts(), ids=lambda b: b["id"][-6:] + str(len(b)))
def test_sandbox_contacts_read_the_same(body: dict[str, Any]) -> None:
    outcome, record = assert_same_record(body)
    assert outcome == "accepted"
    assert record == body  # Rankr's own answer is already in the normal form


def test_a_sandbox_page_reads_the_same() -> None:
    items = sandbox_contacts()
    outcome, (records, cursor) = assert_same_page({"items": items, "nextCursor": "opaque=="})
    assert outcome == "accepted" and records == items and cursor == "opaque=="
    assert assert_same_page({"items": [], "nextCursor": None}) == ("accepted", ([], None))


CONTACTS: list[Any] = [
    contact(),
    contact(deletedAt="2025-02-01T08:30:00.250Z"),
    contact(brandNewField={"x": 1}, anotherOne=[1, 2]),  # unknown fields are dropped
    {"id": "c", "createdAt": TS, "updatedAt": TS},  # optional fields absent
    contact(first_name="snake", firstName="camel"),  # camelCase wins
    {"id": "c", "created_at": TS, "updated_at": "2025-01-31T13:00:00+01:00", "custom_fields": {"a": 1}},
    contact(deleted_at=TS, deletedAt=None),
    contact(createdAt=1738324800123, updatedAt="1738324800", deletedAt=1738324800.5),
    contact(createdAt="2025-01-31T12:00:00.999999-03:00", updatedAt="2025-01-31 12:00:00,5+0100"),
    contact(createdAt="2025-01-31T12:00:00.123456789Z", updatedAt="2025-01-31t12:00z"),
    contact(createdAt=datetime(2025, 1, 31, 12, 0, 0, 1500, tzinfo=timezone(timedelta(hours=-5)))),
    contact(
        customFields={"s": "1", "i": 2, "f": 2.0, "b": True, "z": False, "n": None, "l": [], "neg": -0.0}
    ),
    contact(customFields={"big": 10**30, "inf": math.inf, "tuple": ("a", "b")}),
    contact(tags=("a", "b"), firstName=b"bytes", customFields={b"key": b"value"}),
    # refused
    contact(createdAt="2025-01-31T12:00:00"),  # naive
    contact(createdAt="2025-01-31", updatedAt="20250131T120000Z"),
    contact(createdAt="2025-W05-5T12:00:00Z", updatedAt="2025-01-31T12Z", deletedAt="soon"),
    contact(createdAt=" 2025-01-31T12:00:00Z", updatedAt="2025-01-31T12:00:00+01", deletedAt=""),
    contact(createdAt=None, updatedAt=True, deletedAt=[TS]),
    contact(createdAt=datetime(2025, 1, 31, 12)),  # noqa: DTZ001 - naive on purpose
    {"firstName": "no id, no timestamps"},
    contact(id=5, firstName=1, lastName=True, email=["a@b.c"], phone={"n": 1}, company=1.5),
    contact(id=None, tags=None, customFields=None),
    contact(tags="vip", customFields=["a"]),
    contact(tags=["ok", 1, None, ["x"]]),
    contact(customFields={"list": [1, "a"], "dict": {"a": 1}, "ok": "x", 7: "int key", "set": {"a"}}),
    contact(firstName=b"\xff\xfe"),
    [contact()],
    "a contact",
    None,
]


@pytest.mark.parametrize("body", CONTACTS, ids=repr)
def test_contacts_read_the_same(body: Any) -> None:
    assert_same_record(body)


def test_the_examples_cover_both_outcomes() -> None:
    outcomes = [by_model(model_record, body)[0] for body in CONTACTS]
    assert outcomes.count("accepted") >= 10 and outcomes.count("refused") >= 10


def test_a_nan_custom_field_value_is_kept() -> None:
    # NaN never equals itself, so it is checked on its own.
    value = contact_record(contact(customFields={"nan": math.nan}))["customFields"]["nan"]
    assert math.isnan(value) and math.isnan(
        model_record(contact(customFields={"nan": math.nan}))["customFields"]["nan"]
    )


def test_a_str_enum_reads_as_its_plain_value() -> None:
    class Source(enum.StrEnum):
        GHL = "GHL"

    record = contact_record(contact(source=Source.GHL))
    assert record == model_record(contact(source=Source.GHL))
    assert type(record["source"]) is str


PAGES: list[Any] = [
    {"items": [contact(), contact(id="c2", deletedAt=TS)], "nextCursor": "abc"},
    {"items": [contact()]},
    {"items": [contact()], "next_cursor": "snake"},
    {"items": [contact(), {"id": 1}], "nextCursor": 3},
    {"items": [contact(createdAt="2025-01-31T12:00:00")], "nextCursor": None},
    {"items": None},
    {"nextCursor": "x"},
    {"items": "nope"},
    {"items": [None, "x"]},
    [],
]


@pytest.mark.parametrize("body", PAGES, ids=repr)
def test_pages_read_the_same(body: Any) -> None:
    assert_same_page(body)


# ------------------------------------------------------------------ request bodies

WRITES: list[Any] = [
    {},
    {"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com", "phone": "+15550100000"},
    {"company": "Acme", "source": "GHL", "tags": ["a", "b"], "customFields": {"score": 7}},
    {"firstName": None, "email": None, "tags": None, "customFields": None},  # PATCH clears, POST omits
    {"customFields": {"gone": None, "kept": "x", "n": 1.5, "b": False, "l": ["a"]}},
    {"first_name": "snake", "custom_fields": {"a": 1}},
    {"tags": ("a", "b")},
    {"firstName": "x" * 255, "email": "e" * 320, "phone": "1" * 50, "tags": ["t"] * 100},
    # refused
    {"firstName": "a", "nickname": "b"},
    {"firstName": "a", "first_name": "b"},  # both spellings: the attribute name is an unknown field
    {"first_name": "b", "tags": ["t"], "deletedAt": None, "id": "c_1"},
    {"firstName": "x" * 256, "email": "e" * 321, "phone": "1" * 51, "company": "c" * 256},
    {"lastName": "l" * 256, "source": "s" * 256},
    {"tags": ["t"] * 101},
    {"tags": [1, *["a"] * 101]},
    {"tags": ["ok", 1]},
    {"tags": "vip"},
    {"email": 3, "phone": True, "company": ["Acme"]},
    {"customFields": {"a": {"b": 1}, 3: "x"}},
    {"customFields": {"a": ["x", 2]}},
    {"customFields": "x"},
    {1: "x"},
    {"firstName": b"\xff"},
    ["firstName"],
]


@pytest.mark.parametrize("body", WRITES, ids=repr)
def test_request_bodies_are_checked_and_written_the_same(body: Any) -> None:
    assert_same_write(body)


def test_patch_sends_only_the_fields_given_and_none_clears() -> None:
    body = {"phone": None, "tags": [], "customFields": {"score": None}}
    assert contact_write_body(body, partial=True) == {
        "phone": None,
        "tags": [],
        "customFields": {"score": None},
    }
    assert contact_write_body(body, partial=False) == {"tags": [], "customFields": {"score": None}}
    assert contact_write_body({}, partial=True) == {}


def test_errors_name_the_field_and_never_show_its_value() -> None:
    secret = "ann.private@example.com"
    with pytest.raises(WireFormatError) as info:
        contact_write_body({"email": secret * 20, "nickname": secret}, partial=False)
    assert {error["loc"] for error in info.value.errors()} == {("email",), ("nickname",)}
    assert "ann.private" not in str(info.value)
    with pytest.raises(WireFormatError) as read:
        contact_record(contact(email=[secret], createdAt=secret))
    assert "ann.private" not in str(read.value) and "email" in str(read.value)


# ------------------------------------------------------------------ generated inputs

_TIMESTAMP_TEXTS = [
    TS,
    "2025-01-31T12:00:00Z",
    "2025-01-31T12:00Z",
    "2025-01-31T12:00:00.5+05:30",
    "2025-01-31 12:00:00-0800",
    "2025-01-31t12:00:00.123z",
    "2025-01-31T12:00:00,25Z",
    "2025-01-31T12:00:00",
    "2025-01-31",
    "2025-01-31T12Z",
    "20250131T120000Z",
    "2025-01-31T12:00:00+01",
    "2025-01-31T24:00:00Z",
    "2025-02-30T12:00:00Z",
    "1738324800",
    "1738324800123",
    "-1",
    "",
    "yesterday",
]
timestamps = st.one_of(
    st.sampled_from(_TIMESTAMP_TEXTS),
    st.integers(min_value=-(10**11), max_value=10**13),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=9, minutes=30))])),
    st.none(),
    st.booleans(),
)
texts = st.text(max_size=12) | st.text(min_size=250, max_size=330, alphabet="ab")
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts
custom_values = (
    json_scalars
    | st.lists(texts, max_size=3)
    | st.lists(json_scalars, max_size=3)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)
field_values: dict[str, st.SearchStrategy[Any]] = {
    **{name: st.none() | texts | json_scalars for name in CONTACT_TEXT_LIMITS},
    "id": texts | st.integers() | st.none(),
    "tags": st.none()
    | st.lists(texts, max_size=4)
    | st.lists(json_scalars, max_size=3)
    | texts
    | st.lists(st.just("t"), min_size=99, max_size=102),
    "customFields": st.none()
    | st.dictionaries(st.text(max_size=6), custom_values, max_size=4)
    | st.lists(texts, max_size=2),
    "createdAt": timestamps,
    "updatedAt": timestamps,
    "deletedAt": timestamps,
    "nextCursor": st.none() | texts | st.integers(),
}


@st.composite
def records_of(draw: st.DrawFn, fields: tuple[str, ...]) -> dict[Any, Any]:
    """Some of `fields`, each under its wire name, its attribute name or both; unknown keys too."""
    record: dict[Any, Any] = {}
    for name in fields:
        spelling = draw(st.sampled_from(["wire", "wire", "wire", "absent", "attribute", "both"]))
        if spelling in ("wire", "both"):
            record[name] = draw(field_values[name])
        if spelling in ("attribute", "both"):
            record[attribute_name(name)] = draw(field_values[name])
    extras = draw(
        st.dictionaries(st.sampled_from(["nickname", "city", "x_1", "Email"]), json_scalars, max_size=2)
    )
    return {**record, **extras}


# Generated inputs fail most checks at once: that is the point, not a health problem.
generated = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


@generated
@given(records_of(CONTACT_RECORD_FIELDS))
def test_generated_contacts_read_the_same(body: dict[Any, Any]) -> None:
    assert_same_record(body)


def test_a_timestamp_that_does_not_exist_in_utc_is_refused_by_both_readers() -> None:
    """Found by the generated test: 0001-01-01T00:00+09:30 is 0000-12-31 in UTC, before datetime's
    first year. The model accepted it (and would have failed to write it back), the wire refused it."""
    body = {
        "id": "c1",
        "createdAt": "2025-01-31T12:00:00.000Z",
        "updatedAt": "2025-01-31T12:00:00.000Z",
        "deletedAt": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=9, minutes=30))),
    }
    outcome, problems = assert_same_record(body)
    assert outcome == "refused" and ("deletedAt",) in problems


@generated
@given(st.lists(records_of(CONTACT_RECORD_FIELDS), max_size=3), field_values["nextCursor"])
def test_generated_pages_read_the_same(items: list[Any], cursor: Any) -> None:
    assert_same_page({"items": items, "nextCursor": cursor})


@generated
@given(records_of(CONTACT_WRITE_FIELDS))
def test_generated_request_bodies_are_checked_and_written_the_same(body: dict[Any, Any]) -> None:
    assert_same_write(body)


# ------------------------------------------------------------------ timestamps

_aware = TypeAdapter(AwareDatetime)


@generated
@given(timestamps | st.text(alphabet="0123456789-:.,+TZtz ", max_size=30))
def test_timestamps_read_as_pydantic_reads_them(value: Any) -> None:
    try:
        expected: datetime | None = _aware.validate_python(value)
    except ValidationError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            parse_timestamp(value)
    else:
        parsed = parse_timestamp(value)
        assert parsed == expected and format_timestamp(parsed) == format_timestamp(expected)


def test_timestamps_go_out_in_rankrs_format() -> None:
    assert format_timestamp(datetime(2025, 1, 31, 9, 0, 0, 5999, tzinfo=timezone(timedelta(hours=-3)))) == (
        "2025-01-31T12:00:00.005Z"
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2025, 1, 31))  # noqa: DTZ001
    assert isinstance(parse_timestamp(TS), datetime)


def test_a_mapping_that_is_not_a_dict_is_read_too() -> None:
    class Frozen(Mapping[str, Any]):
        def __init__(self, data: dict[str, Any]) -> None:
            self._data = data

        def __getitem__(self, key: str) -> Any:
            return self._data[key]

        def __iter__(self) -> Any:
            return iter(self._data)

        def __len__(self) -> int:
            return len(self._data)

    assert_same_record(Frozen(contact()))
    assert_same_write(Frozen({"email": "a@b.c", "custom_fields": {"x": 1}}))
