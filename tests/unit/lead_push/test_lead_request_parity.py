"""`parse_lead` accepts, normalises and refuses exactly what the pydantic `Lead` model it replaced did.

The pydantic models below are the previous implementation, kept verbatim as the reference: every input
is parsed by both, and the dump (what the payload hash and the idempotency record hold), the given
fields and the per-lead problems (location and message) must agree.
"""

from __future__ import annotations

import copy
import random
import re
from datetime import UTC, datetime
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lead_push_world import LOCATION, World
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from rankr_ghl.flows.lead_push import LeadPushFailure
from rankr_ghl.flows.lead_push.lead import (
    DEFAULT_SOURCE,
    Lead,
    describe_validation_error,
    parse_lead,
)
from rankr_ghl.flows.lead_push.results import ErrorCode
from rankr_ghl.sync.ports import LEAD_TAG_PREFIX
from rankr_ghl.sync.tags import same_tag
from rankr_ghl.wire_values import WireFormatError

# -- the reference: the pydantic models as they were ------------------------------------------------


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


_Blank = BeforeValidator(_blank_to_none)
OptionalText = Annotated[Annotated[str, StringConstraints(max_length=255)] | None, _Blank]
OptionalEmail = Annotated[Annotated[str, StringConstraints(max_length=320)] | None, _Blank]
OptionalPhone = Annotated[Annotated[str, StringConstraints(max_length=50)] | None, _Blank]
OptionalLocationId = Annotated[
    Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None, _Blank
]
OptionalAccountId = Annotated[
    Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")] | None, _Blank
]


def _custom_field_value(value: Any) -> Any:
    ok = (
        value is None
        or isinstance(value, bool | int | float)
        or (isinstance(value, str) and len(value) <= 10_000)
        or (
            isinstance(value, list)
            and len(value) <= 100
            and all(isinstance(v, str) and len(v) <= 1000 for v in value)
        )
    )
    if not ok:
        raise ValueError("must be a string, number, boolean, list of strings or null")
    return value


CustomFieldValue = Annotated[Any, AfterValidator(_custom_field_value)]
_ID_RE = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_CHARS_RE = re.compile(r"^\+?[\d\s().-]+$")


class LeadNote(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    body: str = Field(min_length=1, max_length=50_000)
    title: OptionalText = None


class LeadTask(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=500)
    body: str | None = Field(default=None, max_length=50_000)
    dueDate: datetime | None = None
    assignedTo: OptionalText = None

    @field_validator("dueDate")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class RefLead(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    leadId: str = Field(pattern=_ID_RE)
    locationId: OptionalLocationId = None
    rankrAccountId: OptionalAccountId = None
    firstName: OptionalText = None
    lastName: OptionalText = None
    name: OptionalText = None
    email: OptionalEmail = None
    phone: OptionalPhone = None
    company: OptionalText = None
    source: str = Field(default=DEFAULT_SOURCE, min_length=1, max_length=255)
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=100
    )
    customFields: dict[Annotated[str, Field(min_length=1, max_length=100)], CustomFieldValue] = Field(
        default_factory=dict, max_length=200
    )
    note: LeadNote | None = None
    task: LeadTask | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL_RE.match(value):
            raise ValueError("not a valid e-mail address")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = sum(ch.isdigit() for ch in value)
        if not _PHONE_CHARS_RE.match(value) or not 7 <= digits <= 15:
            raise ValueError("not a valid phone number (7 to 15 digits, optional leading +)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        cleaned: list[str] = []
        for raw_tag in value:
            tag = raw_tag.strip()
            if tag.lower().startswith(LEAD_TAG_PREFIX):
                raise ValueError(f"tags starting with {LEAD_TAG_PREFIX!r} are reserved")
            if tag and not any(same_tag(tag, kept) for kept in cleaned):
                cleaned.append(tag)
        return cleaned

    @model_validator(mode="after")
    def _target(self) -> RefLead:
        if self.locationId is None and self.rankrAccountId is None:
            raise ValueError("locationId or rankrAccountId is required")
        return self


# -- the comparison ----------------------------------------------------------------------------------

# pydantic words a bad date by what its own date parser stumbled on ("invalid character in year",
# "input is too short", ...); the new parser says the value is not a date, at the same location.
_DATE_DETAIL = re.compile(r"^Input should be a valid datetime.*$")


def _problems(errors: list[dict[str, Any]]) -> list[tuple[tuple[Any, ...], str]]:
    return [(tuple(e["loc"]), _DATE_DETAIL.sub("Input should be a valid datetime", e["msg"])) for e in errors]


def assert_same(raw: Any) -> None:
    try:
        expected = RefLead.model_validate(copy.deepcopy(raw))
    except ValidationError as refused:
        with pytest.raises(WireFormatError) as ours:
            parse_lead(copy.deepcopy(raw))
        assert _problems(ours.value.errors()) == _problems(refused.errors(include_input=False)), raw
        return
    lead = parse_lead(copy.deepcopy(raw))
    assert lead.as_json() == expected.model_dump(mode="json"), raw
    assert lead.given_fields == expected.model_fields_set, raw
    assert lead.rankr_record() == _rankr_record(expected)
    excluded = frozenset({"locationId", "rankrAccountId"})
    assert lead.as_json(exclude=excluded) == expected.model_dump(mode="json", exclude=set(excluded))
    # What the idempotency record holds reads back as the same lead.
    stored = {k: v for k, v in lead.as_json().items() if k in lead.given_fields | {"leadId"}}
    assert parse_lead(stored).as_json() == lead.as_json()


def _rankr_record(ref: RefLead) -> dict[str, Any]:
    first, last = ref.firstName, ref.lastName
    if ref.name and not (first or last):
        first, _, rest = ref.name.partition(" ")
        last = rest.strip() or None
    return {
        "id": ref.leadId,
        "firstName": first,
        "lastName": last,
        "email": ref.email,
        "phone": ref.phone,
        "company": ref.company,
        "source": ref.source,
        "tags": list(ref.tags),
        "customFields": dict(ref.customFields),
    }


BASE: dict[str, Any] = {"leadId": "rankr-lead-1", "locationId": "loc_1"}
FULL: dict[str, Any] = {
    "leadId": "L-1.a:b@c",
    "rankrAccountId": "acct-42",
    "firstName": "  Ada ",
    "lastName": "Lovelace",
    "name": "Ada Lovelace",
    "email": " ada@example.com ",
    "phone": "+1 (415) 555-0100",
    "company": "Analytical Engines",
    "source": " Web form ",
    "tags": ["Hot", " hot ", "VIP", "vip"],
    "customFields": {"budget": 1200, " rooms ": "3", "ok": True, "ratio": 0.5, "none": None, "list": ["a"]},
    "note": {"body": " Met at the fair ", "title": " "},
    "task": {"title": "Call back", "body": None, "dueDate": "2026-01-02T03:04:05", "assignedTo": "u1"},
}

VALID = [
    BASE,
    FULL,
    {**BASE, "locationId": None, "rankrAccountId": "acct"},
    {**BASE, "locationId": "  ", "rankrAccountId": "acct"},
    {**BASE, "firstName": "", "lastName": None, "name": "Grace Brewster Hopper"},
    {**BASE, "name": "Cher"},
    {**BASE, "email": "ÄDA@exämple.de", "firstName": "Zoë", "lastName": "Øster 李"},
    {**BASE, "tags": []},
    {**BASE, "tags": [f"t{i}" for i in range(100)]},
    {**BASE, "customFields": {f"f{i}": i for i in range(200)}},
    {**BASE, "customFields": {"x": "y" * 10_000, "l": ["z" * 1000] * 100}},
    {**BASE, "customFields": {"inf": float("inf"), "nan": float("nan"), "big": 10**30}},
    {**BASE, "note": None, "task": None},
    {**BASE, "note": {"body": "b"}},
    {**BASE, "task": {"title": "t", "dueDate": "2026-01-02T03:04:05Z"}},
    {**BASE, "task": {"title": "t", "dueDate": "2026-01-02T03:04:05.123+02:00"}},
    {**BASE, "task": {"title": "t", "dueDate": "2026-01-02"}},
    {**BASE, "task": {"title": "t", "dueDate": "2026-01-02 03:04:05"}},
    {**BASE, "task": {"title": "t", "dueDate": 1767225600}},
    {**BASE, "task": {"title": "t", "dueDate": 1767225600123}},
    {**BASE, "task": {"title": "t", "dueDate": 1767225600.5}},
    {**BASE, "task": {"title": "t", "dueDate": "1767225600"}},
    {**BASE, "task": {"title": "t", "dueDate": None, "body": " text "}},
    {**BASE, "source": "Rankr"},
    {**BASE, "phone": "4155550100"},
    {**BASE, "phone": "+44 20 7946 0958"},
    {**BASE, "leadId": " padded-id\t"},
    {**BASE, "locationId": "\u3000loc\u2003"},
    {**BASE, "email": "a@b.co", "phone": None},
]

INVALID: list[dict[Any, Any]] = [
    {},
    {"leadId": "x"},
    {**BASE, "leadId": None},
    {**BASE, "leadId": 42},
    {**BASE, "leadId": ""},
    {**BASE, "leadId": "-starts-with-dash"},
    {**BASE, "leadId": "a" * 129},
    {**BASE, "leadId": "has space"},
    {**BASE, "leadId": "ünïcode"},
    {**BASE, "locationId": "bad location"},
    {**BASE, "locationId": "x" * 65},
    {**BASE, "locationId": 7},
    {**BASE, "rankrAccountId": "bad account"},
    {**BASE, "locationId": None},
    {**BASE, "locationId": "", "rankrAccountId": "  "},
    {**BASE, "firstName": "x" * 256},
    {**BASE, "firstName": 1},
    {**BASE, "lastName": ["x"]},
    {**BASE, "name": {"first": "x"}},
    {**BASE, "company": True},
    {**BASE, "email": "not-an-email"},
    {**BASE, "email": "a@b"},
    {**BASE, "email": "a b@c.de"},
    {**BASE, "email": "a@" + "b" * 320 + ".de"},
    {**BASE, "email": 5},
    {**BASE, "phone": "12"},
    {**BASE, "phone": "call me"},
    {**BASE, "phone": "+1 415 555 0100 0000 00"},
    {**BASE, "phone": "1" * 51},
    {**BASE, "phone": 4155550100},
    {**BASE, "source": None},
    {**BASE, "source": "   "},
    {**BASE, "source": "s" * 256},
    {**BASE, "tags": "hot"},
    {**BASE, "tags": None},
    {**BASE, "tags": ["x" * 101]},
    {**BASE, "tags": ["ok", 3, None, "x" * 101]},
    {**BASE, "tags": [" "]},
    {**BASE, "tags": [f"t{i}" for i in range(101)]},
    {**BASE, "tags": [f"t{i}" for i in range(100)] + [5]},
    {**BASE, "tags": [f"{LEAD_TAG_PREFIX}other"]},
    {**BASE, "tags": ["ok", f"  {LEAD_TAG_PREFIX.upper()}x"]},
    {**BASE, "customFields": []},
    {**BASE, "customFields": None},
    {**BASE, "customFields": {"budget": {"nested": 1}}},
    {**BASE, "customFields": {"": 1}},
    {**BASE, "customFields": {"  ": 1, "k" * 101: [1]}},
    {**BASE, "customFields": {"a": "x" * 10_001}},
    {**BASE, "customFields": {"a": ["x"] * 101}},
    {**BASE, "customFields": {"a": ["x" * 1001]}},
    {**BASE, "customFields": {"a": [1]}},
    {**BASE, "customFields": {f"f{i}": i for i in range(201)}},
    {**BASE, "customFields": {**{f"f{i}": i for i in range(201)}, "bad": {}}},
    {**BASE, "note": "a note"},
    {**BASE, "note": {}},
    {**BASE, "note": {"body": "  "}},
    {**BASE, "note": {"body": "b" * 50_001}},
    {**BASE, "note": {"body": "b", "title": "t" * 256, "extra": 1}},
    {**BASE, "task": []},
    {**BASE, "task": {"body": "no title"}},
    {**BASE, "task": {"title": "t" * 501}},
    {**BASE, "task": {"title": "t", "body": "b" * 50_001}},
    {**BASE, "task": {"title": "t", "body": 5}},
    {**BASE, "task": {"title": "t", "dueDate": "tomorrow"}},
    {**BASE, "task": {"title": "t", "dueDate": True}},
    {**BASE, "task": {"title": "t", "dueDate": [2026]}},
    {**BASE, "task": {"title": "t", "assignedTo": 5, "surprise": 1}},
    {**BASE, "surprise": True},
    {**BASE, 5: "a key that is not a string"},
    {**BASE, "surprise": True, "another": None, "email": "bad"},
    {**BASE, "locationId": None, "email": "bad"},
    {**BASE, "locationId": None, "surprise": 1},
    {
        "leadId": "",
        "locationId": "bad loc",
        "email": "x",
        "phone": "1",
        "tags": ["x" * 101],
        "customFields": {"a": {}},
        "note": {},
        "task": {},
        "zzz": 1,
    },
]


@pytest.mark.parametrize("raw", VALID)
def test_valid_leads_read_the_same(raw: dict[str, Any]) -> None:
    parse_lead(copy.deepcopy(raw))
    assert_same(raw)


@pytest.mark.parametrize("raw", INVALID)
def test_invalid_leads_are_refused_with_the_same_problems(raw: dict[Any, Any]) -> None:
    with pytest.raises(WireFormatError):
        parse_lead(copy.deepcopy(raw))
    assert_same(raw)


def test_the_per_lead_message_names_every_field_and_never_a_value() -> None:
    raw = {**BASE, "email": "secret@nowhere", "phone": "555", "surprise": "x"}
    with pytest.raises(WireFormatError) as refused:
        parse_lead(raw)
    message = describe_validation_error(refused.value)
    assert message == (
        "email: Value error, not a valid e-mail address; "
        "phone: Value error, not a valid phone number (7 to 15 digits, optional leading +); "
        "surprise: Extra inputs are not permitted"
    )
    assert "secret" not in message and "555" not in message


def test_a_lead_without_a_target_is_named_as_the_lead() -> None:
    with pytest.raises(WireFormatError) as refused:
        parse_lead({"leadId": "a"})
    assert describe_validation_error(refused.value) == (
        "lead: Value error, locationId or rankrAccountId is required"
    )


def test_a_naive_due_date_is_utc_and_the_default_task_has_none() -> None:
    lead = parse_lead({**BASE, "task": {"title": "t", "dueDate": "2026-01-02T03:04:05"}})
    assert lead.task is not None and lead.task.dueDate == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (
        parse_lead({**BASE, "task": {"title": "t"}}).task == parse_lead({**BASE, "task": {"title": "t"}}).task
    )


def test_mutations_of_a_full_lead_read_the_same() -> None:
    """Every field of a full lead replaced in turn by values of every kind."""
    replacements: list[Any] = [
        None,
        "",
        "  ",
        "x",
        " x ",
        0,
        1,
        2.5,
        True,
        [],
        ["a"],
        {},
        {"a": 1},
        "a" * 300,
        "\x1c",
        "\u00a0",
    ]
    for key in list(FULL) + ["unknown"]:
        for value in replacements:
            assert_same({**FULL, key: value})
        if key in FULL:
            assert_same({k: v for k, v in FULL.items() if k != key})
    for child in ("note", "task"):
        for key in ["title", "body", "dueDate", "assignedTo", "unknown"]:
            for value in replacements:
                assert_same({**FULL, child: {**FULL[child], key: value}})


def test_a_hundred_random_batches_read_the_same() -> None:
    rng = random.Random(20261207)
    pool: list[dict[str, Any]] = VALID + INVALID
    for _ in range(100):
        left, right = rng.choice(pool), rng.choice(pool)
        assert_same({**left, **{k: v for k, v in right.items() if rng.random() < 0.5}})


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_keys = st.sampled_from([*FULL, "unknown"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _json | st.sampled_from(list(FULL.values())), max_size=8))
def test_arbitrary_json_reads_the_same(raw: dict[str, Any]) -> None:
    assert_same(raw)


def test_the_lead_has_the_reference_fields_in_order() -> None:
    assert list(Lead("x").as_json()) == list(RefLead.model_fields)


def test_a_batch_of_every_kind_of_lead_answers_each_as_before(world: World) -> None:
    """Through the service: each refused lead's answer is the one the pydantic model's problems gave."""
    # The valid leads, each its own contact, every one pushed.
    accepted = [
        {**raw, "leadId": f"ok-{i}", "locationId": LOCATION, "rankrAccountId": None}
        | {"email": f"ok{i}@example.com", "phone": None, "customFields": {}}
        for i, raw in enumerate(VALID)
    ]
    leads = [*accepted, *INVALID][:100]
    result = world.service.push({"leads": leads})
    assert len(result.results) == len(leads)
    for index, (raw, answer) in enumerate(zip(leads, result.results, strict=True)):
        if index < len(accepted):
            assert answer["outcome"] != "failed", answer
            continue
        with pytest.raises(ValidationError) as expected:
            RefLead.model_validate(copy.deepcopy(raw))
        problems = "; ".join(
            f"{'.'.join(str(p) for p in loc) or 'lead'}: {msg}"
            for loc, msg in _problems(expected.value.errors(include_input=False))
        )
        before = LeadPushFailure(ErrorCode.INVALID_LEAD, f"leads[{index}]: {problems}", retryable=False)
        message = re.sub(r"(Input should be a valid datetime)[^;]*", r"\1", answer["error"]["message"])
        assert {**answer["error"], "message": message} == before.as_error()


@pytest.mark.parametrize(
    "due",
    [
        "2026-01-02T03:04:05.1234567Z",
        "2026-01-02T03:04:05,5Z",
        "2026-01-02T03:04:05+0200",
        "2026-01-02T03:04:05+02",
        "2026-01-02T03:04:05-05:30",
        "2026-01-02t03:04:05z",
        "2026-01-02T03:04",
        "2026-01-02T03",
        "2026-01-02T24:00:00",
        "2026-02-30",
        "2026-1-2",
        "20260102T030405",
        " 2026-01-02",
        "",
        "-1",
        "1.5",
        "0",
        "99999999999999999",
        "2026-01-02Z",
        "2026-01-02T03:04:05.9999999Z",
        "2026-01-02T03:04:05.123456789123Z",
        "2026-01-02T03:04:05Z+",
        "2026-01-02 03:04:05 ",
        "2026-01-02T03:04:05.Z",
        "2026-01-02T03:04:05+24:00",
        "2026-01-02T03:04:05+23:59",
        "2026-01-02T03:04:60",
        "-1.5",
        "-0",
        "+5",
        "1e3",
        "253402300799",
        "253402300800000",
        "１２３",
        -1,
        1e20,
        0.0,
        253402300800,
        -62135596801,
        float("nan"),
        float("inf"),
        10**400,
    ],
)
def test_due_date_spellings_read_the_same(due: Any) -> None:
    assert_same({**BASE, "task": {"title": "t", "dueDate": due}})
