"""The lead-push request: leads as Rankr sends them, validated one by one, and the batch envelope."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

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

from rankr_ghl.sync.ports import LEAD_TAG_PREFIX
from rankr_ghl.sync.tags import canonical_tag, same_tag

MAX_BATCH = 100
# Bytes of compact JSON (UTF-8). A lead carries at most one note and one task; 100 kB leaves room for
# both at GHL's sizes. A batch of 1 MB stays far below Lambda's 6 MB synchronous payload limit, and its
# GHL work fits the function's timeout.
MAX_LEAD_BYTES = 100_000
MAX_BATCH_BYTES = 1_000_000
DEFAULT_SOURCE = "Rankr"


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


_Blank = BeforeValidator(_blank_to_none)
# Optional strings: constraints apply to the string only; a blank string means absent.
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


# Rankr's CustomFieldValue (docs/rankr-api.yaml); one clear message instead of one per union member.
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
    # GHL requires a due date; a lead's follow-up task defaults to one day after the push.
    dueDate: datetime | None = None
    assignedTo: OptionalText = None

    @field_validator("dueDate")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Lead(BaseModel):
    """One lead as Rankr sends it. Field names follow Rankr's contact (docs/rankr-api.yaml)."""

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
    def _target(self) -> Lead:
        if self.locationId is None and self.rankrAccountId is None:
            raise ValueError("locationId or rankrAccountId is required")
        return self

    @property
    def has_identifier(self) -> bool:
        """GHL can only match a contact by e-mail or phone."""
        return bool(self.email or self.phone)

    @property
    def lead_tag(self) -> str:
        return lead_tag(self.leadId)

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


def lead_tag(lead_id: str) -> str:
    """The marker tag of a lead's contact, in the canonical case it is written and searched in."""
    return canonical_tag(f"{LEAD_TAG_PREFIX}{lead_id}")


class InvocationType(StrEnum):
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"


class LeadPushRequestError(ValueError):
    """The request as a whole is unusable (not per lead): nothing is processed."""

    code = "invalid_request"


class LeadPushIncomplete(RuntimeError):
    """An async invocation left retryable failures: raised so Lambda retries the event and, once
    its retries are spent, sends it to the on-failure destination (nothing is dropped silently)."""

    def __init__(self, failures: Sequence[Mapping[str, Any]]) -> None:
        self.failures = [dict(f) for f in failures]
        ids = ", ".join(str(f.get("leadId")) for f in failures[:20])
        more = f" (+{len(failures) - 20} more)" if len(failures) > 20 else ""
        super().__init__(f"{len(failures)} lead(s) failed retryably: {ids}{more}")


def request_invocation_type(event: Any) -> InvocationType:
    """How the caller says it invoked us (`invocationType` in the payload; default sync)."""
    if isinstance(event, Mapping) and event.get("invocationType") == InvocationType.EVENT.value:
        return InvocationType.EVENT
    return InvocationType.REQUEST_RESPONSE


@dataclass(frozen=True)
class ParsedRequest:
    """Raw leads (each validated separately later) plus request-level options."""

    leads: list[Any]
    invocation_type: InvocationType
    batch: bool
    # A request sent again later (a failure record's replay): its leads may be older than Rankr's.
    redelivery: bool = False


# `redelivery`: set by the connector's own replays (`dlq.replay`, `rankr-ghl dlq replay`), not by Rankr.
REDELIVERY_KEY = "redelivery"
_ENVELOPE_KEYS = {"invocationType", REDELIVERY_KEY}
_REQUEST_KEYS = {"leads", "locationId", "rankrAccountId", *_ENVELOPE_KEYS}


def parse_request(event: Any) -> ParsedRequest:
    """Split an invoke payload into leads. One lead object, or `{"leads": [...], ...}`.

    Request-level `locationId` / `rankrAccountId` apply to leads that name neither; a request-level
    `rankrAccountId` also applies to leads naming only a `locationId` (that location must be the account's).
    """
    if not isinstance(event, Mapping):
        raise LeadPushRequestError('the payload must be a JSON object: one lead, or {"leads": [...]}')
    invocation = event.get("invocationType", InvocationType.REQUEST_RESPONSE.value)
    try:
        invocation_type = InvocationType(invocation)
    except ValueError:
        raise LeadPushRequestError("invocationType must be 'RequestResponse' or 'Event'") from None
    redelivery = event.get(REDELIVERY_KEY, False)
    if not isinstance(redelivery, bool):
        raise LeadPushRequestError(f"{REDELIVERY_KEY} must be true or false")
    if "leads" not in event:
        lead = {k: v for k, v in event.items() if k not in _ENVELOPE_KEYS}
        return ParsedRequest([lead], invocation_type, batch=False, redelivery=redelivery)
    unknown = sorted(set(event) - _REQUEST_KEYS)
    if unknown:
        raise LeadPushRequestError(f"unknown request field(s): {', '.join(map(str, unknown))}")
    leads = event["leads"]
    if not isinstance(leads, list):
        raise LeadPushRequestError("leads must be an array of lead objects")
    if not leads:
        raise LeadPushRequestError("leads must not be empty")
    if len(leads) > MAX_BATCH:
        raise LeadPushRequestError(f"a batch holds at most {MAX_BATCH} leads; got {len(leads)}")
    size = json_bytes(event)
    if size > MAX_BATCH_BYTES:
        per_batch = max(1, len(leads) * MAX_BATCH_BYTES // size)
        raise LeadPushRequestError(
            f"the batch is {size} bytes; a batch holds at most {MAX_BATCH_BYTES} bytes: nothing was pushed, "
            f"split it into batches of about {per_batch} leads (or fewer) and send each"
        )
    defaults = {k: event[k] for k in ("locationId", "rankrAccountId") if event.get(k) is not None}
    merged: list[Any] = []
    for raw_lead in leads:
        lead = raw_lead
        if (
            isinstance(lead, Mapping)
            and defaults
            and not (lead.get("locationId") or lead.get("rankrAccountId"))
        ):
            lead = {**defaults, **lead}
        elif isinstance(lead, Mapping) and "rankrAccountId" in defaults and not lead.get("rankrAccountId"):
            # Tenant isolation: the request's account also binds leads naming only a locationId, so
            # a lead cannot reach a location of another account (checked by the location resolver).
            lead = {**lead, "rankrAccountId": defaults["rankrAccountId"]}
        merged.append(lead)
    return ParsedRequest(leads=merged, invocation_type=invocation_type, batch=True, redelivery=redelivery)


def json_bytes(value: Any) -> int:
    """The size of `value` as compact UTF-8 JSON (how the limits are measured)."""
    encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return len(encoded.encode("utf-8", "surrogatepass"))  # a lone surrogate is measured, not fatal


def lead_size_error(index: int, raw: Any) -> str | None:
    size = json_bytes(raw)
    if size <= MAX_LEAD_BYTES:
        return None
    return f"leads[{index}]: the lead is {size} bytes; a lead holds at most {MAX_LEAD_BYTES} bytes"


def describe_validation_error(error: ValidationError) -> str:
    """One line naming every bad field; values are never echoed (they may be PII)."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "lead"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
