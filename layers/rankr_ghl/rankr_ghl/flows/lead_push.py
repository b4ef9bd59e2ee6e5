"""Lead push: Rankr leads become GHL contacts, exactly once, linked, every time.

Per lead (see docs/lead-push.md):
1. an existing mapping -> update the mapped contact (PUT, tags added with POST .../tags);
2. otherwise one `POST /contacts/upsert` without tags (an upsert's tag list would replace the tags of
   a matched contact); its `new` flag says created vs matched, and tags follow with POST .../tags;
   a lead with neither email nor phone cannot be matched by GHL: it is looked up by its lead-id tag
   (`rankr-lead:<leadId>`) first, then created with all its tags in the create body;
3. a 400 duplicate links to `meta.contactId`, then updates;
4. a 422/5xx/timeout that may have reached GHL is re-resolved (duplicate search, or the lead-id tag)
   before any retry; GHL is never asked blindly to create again.

Idempotency has two layers: Powertools Idempotency keyed on leadId + payload hash (a replay of the
same payload returns the stored result without calling GHL; a changed payload runs again and takes
the mapping path) and the mapping store's conditional write (one lead, one contact).

Before its GHL write a lead claims its identities (e-mail, phone, or lead tag; short TTL) so that the
webhook worker, meeting the new contact unmapped, links it to the lead instead of creating a Rankr twin.
Such a worker link is provisional: lead push resolves again, links the same pair (or replaces it with the
contact it resolved) and confirms it, then releases its claims.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Protocol

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

from rankr_ghl.connections.errors import ConnectionsError
from rankr_ghl.connections.status import ConnectionStatus
from rankr_ghl.ghl.errors import (
    GHLDuplicateContact,
    GHLError,
    GHLForbidden,
    GHLNotFound,
    GHLRateLimited,
    GHLUnauthorized,
)
from rankr_ghl.observability import logger, redact_text
from rankr_ghl.sync.audit_buffer import DEFAULT_FLUSH_AT, AuditBuffer
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import (
    CLAIM_LINK_ORIGIN,
    LEAD_PUSH_ORIGIN,
    LEAD_TAG_PREFIX,
    AuditAction,
    AuditEntry,
    AuditOutcome,
    AuditSink,
    IdMapping,
    LeadClaimStore,
    LeadPushStore,
    LedgerEntry,
    LedgerStore,
    MappingConflict,
    MappingStore,
    lead_claim_identities,
)
from rankr_ghl.sync.types import Entity, Side

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection
    from rankr_ghl.ghl.client import GHLClient
    from rankr_ghl.ghl.models import Contact
    from rankr_ghl.sync.mapping import FieldMapping

MAX_BATCH = 100
DEFAULT_SOURCE = "Rankr"
# A found contact added at most this long before our attempt began still counts as ours (clock skew).
CREATED_BY_US_SKEW = timedelta(seconds=30)
MAX_CREATE_ATTEMPTS = 3


# ---------------------------------------------------------------------------------------------
# Input


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
            if tag and tag not in cleaned:
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
    return f"{LEAD_TAG_PREFIX}{lead_id}"


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


_REQUEST_KEYS = {"leads", "locationId", "rankrAccountId", "invocationType"}


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
    if "leads" not in event:
        lead = {k: v for k, v in event.items() if k != "invocationType"}
        return ParsedRequest(leads=[lead], invocation_type=invocation_type, batch=False)
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
    return ParsedRequest(leads=merged, invocation_type=invocation_type, batch=True)


def describe_validation_error(error: ValidationError) -> str:
    """One line naming every bad field; values are never echoed (they may be PII)."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "lead"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------
# Output


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    LINKED_EXISTING = "linked_existing"
    FAILED = "failed"


class ErrorCode(StrEnum):
    INVALID_LEAD = "invalid_lead"
    UNKNOWN_ACCOUNT = "unknown_account"
    LOCATION_NOT_CONNECTED = "location_not_connected"
    CONNECTION_UNAVAILABLE = "connection_unavailable"
    GHL_REJECTED = "ghl_rejected"
    GHL_UNAVAILABLE = "ghl_unavailable"
    GHL_RATE_LIMITED = "ghl_rate_limited"
    GHL_UNAUTHORIZED = "ghl_unauthorized"
    CONTACT_DELETED_IN_GHL = "contact_deleted_in_ghl"
    CONTACT_LINKED_ELSEWHERE = "contact_linked_elsewhere"
    IN_PROGRESS = "in_progress"
    NOT_PROCESSED = "not_processed"
    INTERNAL = "internal_error"


class LeadPushFailure(Exception):
    """A lead could not be pushed. Raised inside the idempotent section so nothing is cached."""

    def __init__(self, code: ErrorCode, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = redact_text(message)
        self.retryable = retryable

    def as_error(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, "retryable": self.retryable}


def failed_result(lead_id: str | None, failure: LeadPushFailure) -> dict[str, Any]:
    return {"leadId": lead_id, "outcome": Outcome.FAILED.value, "error": failure.as_error()}


def success_result(lead_id: str, contact_id: str, outcome: Outcome) -> dict[str, Any]:
    return {"leadId": lead_id, "ghlContactId": contact_id, "outcome": outcome.value}


# ---------------------------------------------------------------------------------------------
# Ports (narrow views of the GHL client, the stores and the field mapping; adapters in wiring)


@dataclass(frozen=True)
class FoundContact:
    """A GHL contact as lead push needs it."""

    id: str
    email: str | None = None
    phone: str | None = None
    tags: tuple[str, ...] = ()
    date_added: datetime | None = None
    # The contact as GHL returned it (wire names): the ledger's view of what GHL now holds.
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UpsertOutcome:
    contact: FoundContact
    new: bool


class LeadGHL(Protocol):
    """The GHL calls lead push makes (all scoped to one location's token and rate budget)."""

    def upsert_contact(self, location_id: str, body: Mapping[str, Any]) -> UpsertOutcome: ...

    def create_contact(self, location_id: str, body: Mapping[str, Any]) -> FoundContact:
        """POST /contacts/; raises GHLDuplicateContact where the location disallows duplicates."""
        ...

    def update_contact(
        self, location_id: str, contact_id: str, body: Mapping[str, Any]
    ) -> FoundContact | None:
        """PUT without tags; the contact as GHL returned it (None when the response lacks it)."""
        ...

    def find_duplicate(
        self, location_id: str, *, email: str | None, phone: str | None
    ) -> FoundContact | None: ...

    def find_by_tag(self, location_id: str, tag: str) -> FoundContact | None: ...

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        """POST .../tags (a union, never a replace); returns the contact's tags afterwards."""
        ...

    def create_note(self, location_id: str, contact_id: str, body: str, title: str | None) -> None: ...

    def create_task(self, location_id: str, contact_id: str, task: LeadTask, due: datetime) -> None: ...


class LinkConflict(Exception):
    """The mapping store refused the link: the lead or the contact is mapped to something else."""

    def __init__(self, existing_contact_id: str | None, message: str) -> None:
        super().__init__(message)
        self.existing_contact_id = existing_contact_id


@dataclass(frozen=True)
class LeadLink:
    """The GHL contact a lead is mapped to."""

    contact_id: str
    # Linked by the webhook worker on this lead's claim and never confirmed by lead push: the attempt
    # that claimed it died (or is still running) between its GHL write and its mapping write.
    provisional: bool = False
    claimed_at: datetime | None = None


class LeadRecords(Protocol):
    """Mapping, lead claims, ledger and audit as lead push uses them."""

    def mapped_contact(self, location_id: str, lead_id: str) -> LeadLink | None: ...

    def claim_unless_mapped(
        self, location_id: str, lead_id: str, identities: Sequence[str]
    ) -> LeadLink | None:
        """`mapped_contact`, and `claim` when that is None (in one write where the store can): a link
        returned means nothing was claimed."""
        ...

    def claim(self, location_id: str, lead_id: str, identities: Sequence[str]) -> None:
        """Before the GHL write: the lead's identities, so the webhook worker links rather than twins."""
        ...

    def release_claims(self, location_id: str, lead_id: str, identities: Sequence[str]) -> None:
        """After the mapping and ledger writes (the claims' TTL covers a crash)."""
        ...

    def link(self, location_id: str, lead_id: str, contact_id: str, matched_by: str) -> None:
        """Conditional write; raises LinkConflict when the lead maps elsewhere or the contact is
        already linked to another Rankr record. Re-linking the same pair is a no-op, and confirms a
        provisional link; a provisional link of the lead to another contact is replaced."""
        ...

    def settle(
        self,
        location_id: str,
        lead: Lead,
        contact_id: str,
        ghl_state: Mapping[str, Any] | None,
        *,
        release: Sequence[str],
        link_matched_by: str | None = None,
    ) -> bool:
        """The usual end of a first push in one atomic write: the ledger as `record_write` writes
        it, the lead's claims on `release` dropped and, with `link_matched_by`, the `link` of a lead
        and contact both unmapped. False, with nothing written, when that does not apply: the caller
        then links, records and releases step by step."""
        ...

    def record_write(
        self, location_id: str, contact_id: str, lead: Lead, ghl_state: Mapping[str, Any] | None
    ) -> None:
        """Ledger: the contact as GHL holds it after our writes (None: only the lead is known), so
        the ContactCreate/Update webhook that comes back is recognised as an echo."""
        ...

    def audit(
        self,
        location_id: str,
        lead_id: str,
        contact_id: str | None,
        outcome: str,
        *,
        fields: Sequence[str] = (),
        matched_by: str | None = None,
        error: str | None = None,
    ) -> None:
        """May be buffered until `flush`."""
        ...

    def flush(self) -> None:
        """Write what was buffered (the batch's audit entries); called when a batch ends."""
        ...


class LeadMapper(Protocol):
    def to_ghl(self, location_id: str, lead: Lead) -> dict[str, Any]:
        """GHL contact body (wire names, no tags, no locationId) for the lead's fields."""
        ...


class LocationResolver(Protocol):
    def location_for(self, lead: Lead) -> str:
        """The connected location to push to; raises LeadPushFailure when there is none."""
        ...


# ---------------------------------------------------------------------------------------------
# The service


def payload_hash(location_id: str, lead: Lead) -> str:
    canonical = json.dumps(
        {"locationId": location_id, **lead.model_dump(mode="json", exclude={"locationId", "rankrAccountId"})},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


IdempotentRunner = Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Callable[..., dict[str, Any]]]
"""Wraps the per-lead function (keyword `lead_payload`) with Powertools' idempotent_function."""


@dataclass
class PushSettings:
    workers: int = 8
    # Start no new lead when less than this much time is left (a lead's worst case incl. client retries).
    deadline_margin_ms: int = 20_000
    # How long a lead waits for a concurrent invocation of the same payload to finish.
    in_progress_wait_s: float = 15.0


@dataclass
class _LeadWork:
    index: int
    raw: Any
    lead: Lead | None = None
    result: dict[str, Any] | None = None
    lead_id: str | None = None


@dataclass
class BatchResult:
    results: list[dict[str, Any]]
    batch: bool
    invocation_type: InvocationType
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def retryable_failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["outcome"] == Outcome.FAILED and r["error"]["retryable"]]


class LeadPushService:
    """Pushes leads; one instance per container (ports are thread-safe)."""

    def __init__(
        self,
        *,
        ghl: LeadGHL,
        records: LeadRecords,
        mapper: LeadMapper,
        locations: LocationResolver,
        idempotent: IdempotentRunner | None,
        in_progress_errors: tuple[type[BaseException], ...] = (),
        settings: PushSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ghl = ghl
        self._records = records
        self._mapper = mapper
        self._locations = locations
        self._in_progress_errors = in_progress_errors
        self._settings = settings or PushSettings()
        self._clock = clock
        self._sleep = sleep
        self._push_idempotent = idempotent(self._push_payload) if idempotent else self._push_payload

    # -- batch ---------------------------------------------------------------------------------

    def push(self, event: Any, remaining_ms: Callable[[], int] | None = None) -> BatchResult:
        """Process an invoke payload. Raises LeadPushRequestError for a whole-request error."""
        request = parse_request(event)
        work = [_LeadWork(index=i, raw=raw) for i, raw in enumerate(request.leads)]
        for item in work:
            self._validate(item)
        pending = [w for w in work if w.result is None]
        deadline_guard = _DeadlineGuard(remaining_ms, self._settings.deadline_margin_ms)
        try:
            self._run_all(pending, deadline_guard)
        finally:
            self._flush_records()
        results = [w.result for w in work if w.result is not None]
        counts: dict[str, int] = {o.value: 0 for o in Outcome}
        for r in results:
            counts[r["outcome"]] += 1
        return BatchResult(
            results=results, batch=request.batch, invocation_type=request.invocation_type, counts=counts
        )

    def _run_all(self, pending: list[_LeadWork], guard: _DeadlineGuard) -> None:
        if not pending:
            return
        workers = max(1, min(self._settings.workers, len(pending)))
        if workers == 1:
            for item in pending:
                item.result = self._run_one(item, guard)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lead-push") as pool:
            for item, result in zip(
                pending, pool.map(lambda w: self._run_one(w, guard), pending), strict=True
            ):
                item.result = result

    def _validate(self, item: _LeadWork) -> None:
        raw = item.raw
        item.lead_id = (
            raw.get("leadId") if isinstance(raw, Mapping) and isinstance(raw.get("leadId"), str) else None
        )
        if not isinstance(raw, Mapping):
            not_object = LeadPushFailure(
                ErrorCode.INVALID_LEAD, f"leads[{item.index}]: must be an object", retryable=False
            )
            item.result = failed_result(None, not_object)
            return
        try:
            item.lead = Lead.model_validate(raw)
        except ValidationError as exc:
            message = f"leads[{item.index}]: {describe_validation_error(exc)}"
            item.result = failed_result(
                item.lead_id, LeadPushFailure(ErrorCode.INVALID_LEAD, message, retryable=False)
            )
            # The leadId failed validation too, perhaps: scrub it like free text before logging.
            logged_id = redact_text(item.lead_id) if item.lead_id else None
            logger.info("lead rejected", extra={"leadId": logged_id, "reason": message})

    def _run_one(self, item: _LeadWork, guard: _DeadlineGuard) -> dict[str, Any]:
        lead = item.lead
        assert lead is not None
        if not guard.has_time():
            not_started = LeadPushFailure(
                ErrorCode.NOT_PROCESSED, "not started: the invocation ran out of time; retry", retryable=True
            )
            return failed_result(lead.leadId, not_started)
        try:
            return self.push_lead(lead, guard)
        except LeadPushFailure as failure:
            return failed_result(lead.leadId, failure)
        except Exception as exc:
            logger.exception("lead push failed unexpectedly", extra={"leadId": lead.leadId})
            internal = LeadPushFailure(
                ErrorCode.INTERNAL, f"internal error: {type(exc).__name__}", retryable=True
            )
            return failed_result(lead.leadId, internal)

    # -- one lead ------------------------------------------------------------------------------

    def push_lead(self, lead: Lead, guard: _DeadlineGuard | None = None) -> dict[str, Any]:
        """Push one validated lead (idempotent); raises LeadPushFailure."""
        location_id = self._locations.location_for(lead)
        payload = {
            "leadId": lead.leadId,
            "locationId": location_id,
            "payloadHash": payload_hash(location_id, lead),
            "lead": lead.model_dump(mode="json", exclude={"rankrAccountId"}) | {"locationId": location_id},
        }
        waited = 0.0
        delay = 0.1
        while True:
            try:
                return self._push_idempotent(lead_payload=payload)
            except self._in_progress_errors:
                out_of_time = guard is not None and not guard.has_time()
                if waited >= self._settings.in_progress_wait_s or out_of_time:
                    raise LeadPushFailure(
                        ErrorCode.IN_PROGRESS,
                        "another invocation is pushing this lead right now; retry shortly",
                        retryable=True,
                    ) from None
                self._sleep(delay)
                waited += delay
                delay = min(delay * 2, 1.0)

    def _push_payload(self, lead_payload: dict[str, Any]) -> dict[str, Any]:
        lead = Lead.model_validate(lead_payload["lead"])
        location_id: str = lead_payload["locationId"]
        try:
            return self._resolve_and_write(location_id, lead)
        except LeadPushFailure as failure:
            self._safe_audit(location_id, lead.leadId, None, "failed", error=failure.code.value)
            raise
        except GHLError as exc:
            mapped_failure = _failure_from_ghl(exc)
            self._safe_audit(location_id, lead.leadId, None, "failed", error=mapped_failure.code.value)
            raise mapped_failure from exc
        except ConnectionsError as exc:  # the token vault: no token, needs re-auth, paused, ...
            connection_failure = LeadPushFailure(
                ErrorCode.CONNECTION_UNAVAILABLE,
                f"the GHL connection of location {location_id} is not usable: {exc.message}",
                retryable=exc.retryable,
            )
            self._safe_audit(location_id, lead.leadId, None, "failed", error=connection_failure.code.value)
            raise connection_failure from exc

    def _resolve_and_write(self, location_id: str, lead: Lead) -> dict[str, Any]:
        body = self._mapper.to_ghl(location_id, lead)
        identities = claim_identities(lead, body)
        mapped = self._records.claim_unless_mapped(location_id, lead.leadId, identities)
        if mapped is not None and not mapped.provisional:
            return self._update_mapped(location_id, lead, mapped.contact_id, body)
        if mapped is not None:
            # Linked by the webhook worker on the claim of an attempt that never finished: resolve as a
            # first push (it finds that contact again and the link below confirms the pair).
            self._records.claim(location_id, lead.leadId, identities)
        pending_since = mapped.claimed_at if mapped is not None else None
        if lead.has_identifier:
            contact, outcome, matched_by = self._upsert_with_identifier(
                location_id, lead, body, pending_since=pending_since
            )
            needs_tags = bool(lead.tags)
        else:
            contact, outcome, matched_by = self._create_without_identifier(location_id, lead, body)
            # A contact this lead created carries its tags from the create body already.
            needs_tags = matched_by != "created" and bool(lead.tags)
        state = dict(contact.raw) if contact.raw else None
        if needs_tags:
            # Linked before the tag write, so a failed tag write leaves a mapped contact to retry on.
            # The claims stay until the ledger is written: until then the webhook worker must not
            # mirror GHL's tag-less state onto the lead.
            self._link(location_id, lead, contact.id, matched_by)
            tags = self._ghl.add_tags(location_id, contact.id, lead.tags)
            if state is not None:
                state["tags"] = tags
            self._settle(location_id, lead, contact.id, state, identities)
        else:
            self._settle(location_id, lead, contact.id, state, identities, link_matched_by=matched_by)
        if outcome is Outcome.CREATED:
            self._first_note_and_task(location_id, lead, contact.id)
        self._safe_audit(
            location_id, lead.leadId, contact.id, outcome.value, fields=sorted(body), matched_by=matched_by
        )
        logger.info(
            "lead pushed",
            extra={
                "leadId": lead.leadId,
                "locationId": location_id,
                "outcome": outcome.value,
                "matchedBy": matched_by,
            },
        )
        return success_result(lead.leadId, contact.id, outcome)

    def _update_mapped(
        self, location_id: str, lead: Lead, contact_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            updated = self._ghl.update_contact(location_id, contact_id, body)
        except GHLNotFound:
            raise LeadPushFailure(
                ErrorCode.CONTACT_DELETED_IN_GHL,
                f"the mapped GHL contact {contact_id} was deleted in GHL; it is not re-created",
                retryable=False,
            ) from None
        state = dict(updated.raw) if updated is not None and updated.raw else None
        if lead.tags:
            tags = self._ghl.add_tags(location_id, contact_id, lead.tags)
            if state is not None:
                state["tags"] = tags
        self._records.record_write(location_id, contact_id, lead, state)
        self._safe_audit(
            location_id,
            lead.leadId,
            contact_id,
            Outcome.UPDATED.value,
            fields=sorted(body),
            matched_by="mapping",
        )
        return success_result(lead.leadId, contact_id, Outcome.UPDATED)

    def _upsert_with_identifier(
        self, location_id: str, lead: Lead, body: dict[str, Any], *, pending_since: datetime | None = None
    ) -> tuple[FoundContact, Outcome, str]:
        """`pending_since`: when the unfinished attempt behind a provisional link claimed the lead; a
        contact the upsert matches that was added since then is the one that attempt created."""
        started = self._clock()
        last_error: GHLError | None = None
        for attempt in range(MAX_CREATE_ATTEMPTS):
            if attempt:
                found = self._ghl.find_duplicate(location_id, email=lead.email, phone=lead.phone)
                if found is not None:
                    return self._adopt_found(
                        location_id,
                        lead,
                        body,
                        found,
                        started=started,
                        matched_by=_matched_field(lead, found),
                    )
                self._backoff(attempt, last_error)
            try:
                if attempt == 0:
                    upserted = self._ghl.upsert_contact(location_id, body)
                else:
                    # After a negative lookup: a plain create. Where duplicates are not allowed GHL
                    # itself refuses a duplicate (400 with meta.contactId), closing the lookup race.
                    upserted = UpsertOutcome(contact=self._ghl.create_contact(location_id, body), new=True)
            except GHLDuplicateContact as dup:
                if not dup.contact_id:
                    raise
                updated = self._ghl.update_contact(location_id, dup.contact_id, body)
                return (
                    updated or FoundContact(id=dup.contact_id),
                    Outcome.LINKED_EXISTING,
                    f"duplicate:{dup.matching_field or '?'}",
                )
            except GHLError as exc:
                if not (exc.may_have_been_applied or exc.retryable):
                    raise
                last_error = exc
                logger.warning(
                    "upsert/create failed ambiguously; re-resolving before any retry",
                    extra={"leadId": lead.leadId, "status": exc.status, "traceId": exc.trace_id},
                )
                continue
            if upserted.new:
                return upserted.contact, Outcome.CREATED, "created"
            matched = _matched_field(lead, upserted.contact)
            added = upserted.contact.date_added
            if (
                pending_since is not None
                and added is not None
                and added >= pending_since - CREATED_BY_US_SKEW
            ):
                return upserted.contact, Outcome.CREATED, f"reresolved:{matched}"
            return upserted.contact, Outcome.LINKED_EXISTING, matched
        assert last_error is not None
        raise last_error

    def _create_without_identifier(
        self, location_id: str, lead: Lead, body: dict[str, Any]
    ) -> tuple[FoundContact, Outcome, str]:
        """GHL cannot match these: look the lead-id tag up first (an earlier attempt may have created
        the contact and died before the mapping write), then create with every tag in the body."""
        started = self._clock()
        create_body = {**body, "tags": [*lead.tags, lead.lead_tag]}
        last_error: GHLError | None = None
        for attempt in range(MAX_CREATE_ATTEMPTS):
            found = self._ghl.find_by_tag(location_id, lead.lead_tag)
            if found is not None:
                # Only this lead's pushes put its lead-id tag on a contact.
                if attempt:
                    return found, Outcome.CREATED, "lead_tag"
                return self._adopt_found(
                    location_id,
                    lead,
                    body,
                    found,
                    started=started,
                    matched_by="lead_tag",
                    created_by_lead=True,
                )
            if attempt:
                self._backoff(attempt, last_error)
            try:
                created = self._ghl.create_contact(location_id, create_body)
            except GHLError as exc:
                if not (exc.may_have_been_applied or exc.retryable):
                    raise
                last_error = exc
                logger.warning(
                    "create failed ambiguously; re-resolving by lead tag before any retry",
                    extra={"leadId": lead.leadId, "status": exc.status, "traceId": exc.trace_id},
                )
                continue
            return created, Outcome.CREATED, "created"
        assert last_error is not None
        raise last_error

    def _adopt_found(
        self,
        location_id: str,
        lead: Lead,
        body: dict[str, Any],
        found: FoundContact,
        *,
        started: datetime,
        matched_by: str,
        created_by_lead: bool = False,
    ) -> tuple[FoundContact, Outcome, str]:
        """A contact found after an ambiguous failure (or from an earlier attempt)."""
        ours = created_by_lead or (
            found.date_added is not None and found.date_added >= started - CREATED_BY_US_SKEW
        )
        if created_by_lead or not ours:
            # The fields may not be (all) there: an earlier payload, or someone else's contact.
            found = self._ghl.update_contact(location_id, found.id, body) or found
        outcome = Outcome.CREATED if ours else Outcome.LINKED_EXISTING
        return found, outcome, f"reresolved:{matched_by}"

    def _link(self, location_id: str, lead: Lead, contact_id: str, matched_by: str) -> None:
        try:
            self._records.link(location_id, lead.leadId, contact_id, matched_by)
        except LinkConflict as conflict:
            if conflict.existing_contact_id == contact_id:
                return
            raise LeadPushFailure(
                ErrorCode.CONTACT_LINKED_ELSEWHERE,
                f"GHL contact {contact_id} (matched by {matched_by}) cannot be linked to lead {lead.leadId}: "
                f"{conflict}",
                retryable=False,
            ) from conflict

    def _settle(
        self,
        location_id: str,
        lead: Lead,
        contact_id: str,
        state: Mapping[str, Any] | None,
        identities: Sequence[str],
        *,
        link_matched_by: str | None = None,
    ) -> None:
        """Ledger, claims released and (with `link_matched_by`) the link: one store write in the usual
        case, since store round trips, not GHL's, bound a batch's pace when the rate budget is large."""
        if self._records.settle(
            location_id, lead, contact_id, state, release=identities, link_matched_by=link_matched_by
        ):
            return
        if link_matched_by is not None:
            self._link(location_id, lead, contact_id, link_matched_by)
        self._records.record_write(location_id, contact_id, lead, state)
        self._release_claims(location_id, lead.leadId, identities)

    def _release_claims(self, location_id: str, lead_id: str, identities: Sequence[str]) -> None:
        try:
            self._records.release_claims(location_id, lead_id, identities)
        except Exception:  # best effort: the mapping exists now, and the claims expire on their own
            logger.warning("lead claims not released; they expire", extra={"leadId": lead_id}, exc_info=True)

    def _first_note_and_task(self, location_id: str, lead: Lead, contact_id: str) -> None:
        if lead.note is not None:
            self._ghl.create_note(location_id, contact_id, lead.note.body, lead.note.title)
        if lead.task is not None:
            due = lead.task.dueDate or self._clock() + timedelta(days=1)
            self._ghl.create_task(location_id, contact_id, lead.task, due)

    def _backoff(self, attempt: int, error: GHLError | None) -> None:
        if isinstance(error, GHLRateLimited) and error.retry_after_s:
            self._sleep(min(error.retry_after_s, 10.0))
        else:
            self._sleep(min(0.2 * 2**attempt, 2.0))

    def _flush_records(self) -> None:
        try:
            self._records.flush()
        except Exception:  # the audit log must never fail a push that GHL already applied
            logger.exception("audit flush failed")

    def _safe_audit(
        self, location_id: str, lead_id: str, contact_id: str | None, outcome: str, **kw: Any
    ) -> None:
        try:
            self._records.audit(location_id, lead_id, contact_id, outcome, **kw)
        except Exception:  # the audit log must never fail a push that GHL already applied
            logger.exception("audit write failed", extra={"leadId": lead_id})


def claim_identities(lead: Lead, body: Mapping[str, Any]) -> list[str]:
    """What the lead's GHL contact will be matched by: e-mail and phone as sent to GHL, or the lead tag."""
    if not lead.has_identifier:
        return lead_claim_identities(tags=[lead.lead_tag])
    return lead_claim_identities(email=body.get("email") or lead.email, phone=body.get("phone") or lead.phone)


def _matched_field(lead: Lead, contact: FoundContact) -> str:
    if lead.email and contact.email and lead.email.strip().lower() == contact.email.strip().lower():
        return "email"
    if lead.phone and contact.phone and _digits(lead.phone)[-10:] == _digits(contact.phone)[-10:]:
        return "phone"
    return "email" if lead.email else "phone"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _failure_from_ghl(exc: GHLError) -> LeadPushFailure:
    if isinstance(exc, GHLRateLimited):
        return LeadPushFailure(
            ErrorCode.GHL_RATE_LIMITED, f"GHL rate limit: {exc.message}", retryable=exc.retryable
        )
    if isinstance(exc, GHLUnauthorized | GHLForbidden):
        return LeadPushFailure(
            ErrorCode.GHL_UNAUTHORIZED, f"GHL refused the location's token: {exc}", retryable=False
        )
    if exc.retryable or exc.may_have_been_applied:
        return LeadPushFailure(
            ErrorCode.GHL_UNAVAILABLE, f"GHL did not complete the request: {exc}", retryable=True
        )
    return LeadPushFailure(ErrorCode.GHL_REJECTED, f"GHL rejected the lead: {exc}", retryable=False)


class _DeadlineGuard:
    def __init__(self, remaining_ms: Callable[[], int] | None, margin_ms: int) -> None:
        self._remaining_ms = remaining_ms
        self._margin_ms = margin_ms
        self._lock = threading.Lock()

    def has_time(self) -> bool:
        if self._remaining_ms is None:
            return True
        with self._lock:
            return self._remaining_ms() > self._margin_ms


__all__ = [
    "MAX_BATCH",
    "BatchResult",
    "ErrorCode",
    "FoundContact",
    "InvocationType",
    "Lead",
    "LeadGHL",
    "LeadLink",
    "LeadMapper",
    "LeadPushFailure",
    "LeadPushRequestError",
    "LeadPushService",
    "LeadRecords",
    "LinkConflict",
    "LocationResolver",
    "Outcome",
    "PushSettings",
    "UpsertOutcome",
    "claim_identities",
    "lead_tag",
    "parse_request",
    "payload_hash",
]


# ---------------------------------------------------------------------------------------------
# Adapter: the real GHL client as LeadGHL


def _found(contact: Contact) -> FoundContact:
    """A `rankr_ghl.ghl.models.Contact` as lead push sees it."""
    if not contact.id:
        raise GHLError("GHL returned a contact without an id")
    return FoundContact(
        id=contact.id,
        email=contact.email,
        phone=contact.phone,
        tags=tuple(contact.tags or ()),
        date_added=contact.date_added,
        raw=contact.to_api(),
    )


# PUT /contacts/{id} (UpdateContactDto) has no companyName, gender or locationId: GHL answers 422.
_NOT_UPDATABLE = frozenset({"companyName", "gender", "locationId"})


class GHLLeadGateway:
    """LeadGHL over `rankr_ghl.ghl.client.GHLClient` (rate budget and token per location)."""

    def __init__(self, client: Callable[[], GHLClient]) -> None:
        """`client`: called on the first GHL call (the client is built lazily by the root)."""
        self._client_source = client

    @property
    def _client(self) -> GHLClient:
        return self._client_source()

    def upsert_contact(self, location_id: str, body: Mapping[str, Any]) -> UpsertOutcome:
        from rankr_ghl.ghl.models import ContactUpsert  # GHL models load with the first GHL call

        result = self._client.upsert_contact(location_id, ContactUpsert.model_validate(dict(body)))
        return UpsertOutcome(contact=_found(result.contact), new=bool(result.new))

    def create_contact(self, location_id: str, body: Mapping[str, Any]) -> FoundContact:
        from rankr_ghl.ghl.models import ContactCreate

        return _found(self._client.create_contact(location_id, ContactCreate.model_validate(dict(body))))

    def update_contact(
        self, location_id: str, contact_id: str, body: Mapping[str, Any]
    ) -> FoundContact | None:
        from rankr_ghl.ghl.models import ContactUpdate

        changes = {k: v for k, v in body.items() if k not in _NOT_UPDATABLE and k != "tags"}
        result = self._client.update_contact(location_id, contact_id, ContactUpdate.model_validate(changes))
        return _found(result.contact) if result.contact is not None and result.contact.id else None

    def find_duplicate(
        self, location_id: str, *, email: str | None, phone: str | None
    ) -> FoundContact | None:
        contact = self._client.find_duplicate_contact(location_id, email=email, phone=phone)
        return _found(contact) if contact is not None else None

    def find_by_tag(self, location_id: str, tag: str) -> FoundContact | None:
        page = self._client.search_contacts_page(
            location_id,
            page_limit=2,
            page=1,
            filters=[{"field": "tags", "operator": "eq", "value": tag.lower()}],
            sort=[{"field": "dateAdded", "direction": "asc"}],
        )
        # GHL stores tags lower-cased; the oldest carrier of the lead tag is the lead's contact.
        return _found(page.contacts[0]) if page.contacts else None

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        return self._client.add_tags(location_id, contact_id, list(tags))

    def create_note(self, location_id: str, contact_id: str, body: str, title: str | None) -> None:
        from rankr_ghl.ghl.models import NoteCreate

        self._client.create_note(location_id, contact_id, NoteCreate(body=body, title=title))

    def create_task(self, location_id: str, contact_id: str, task: LeadTask, due: datetime) -> None:
        from rankr_ghl.ghl.models import TaskCreate

        body = TaskCreate(
            title=task.title, body=task.body, due_date=due, completed=False, assigned_to=task.assignedTo
        )
        self._client.create_task(location_id, contact_id, body)


# ---------------------------------------------------------------------------------------------
# Powertools Idempotency (one persistence layer and config per container)

IDEMPOTENCY_EXPIRES_AFTER_S = 24 * 3600


@dataclass(frozen=True)
class LeadIdempotency:
    """`runner` wraps the per-lead function; the handler registers the Lambda context on `config`
    so that an invocation that dies mid-lead frees its INPROGRESS record when Lambda would have
    timed out."""

    runner: IdempotentRunner
    config: Any  # aws_lambda_powertools IdempotencyConfig
    in_progress_errors: tuple[type[BaseException], ...]


def powertools_idempotency(
    persistence_store: Any, expires_after_seconds: int = IDEMPOTENCY_EXPIRES_AFTER_S
) -> LeadIdempotency:
    """Key: location + leadId + payload hash, so the same payload replays its stored result and a
    changed payload runs again (and takes the mapping path). Payload validation on the lead body
    guards the key against hash collisions. Only successes are stored: failures raise, and
    Powertools deletes the INPROGRESS record, so a retry really retries."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    config = IdempotencyConfig(
        event_key_jmespath="[locationId, leadId, payloadHash]",
        payload_validation_jmespath="lead",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=expires_after_seconds,
    )

    def runner(function: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        wrapped: Callable[..., dict[str, Any]] = idempotent_function(
            function,
            data_keyword_argument="lead_payload",
            persistence_store=persistence_store,
            config=config,
            key_prefix="lead-push",
        )
        return wrapped

    return LeadIdempotency(
        runner=runner, config=config, in_progress_errors=(IdempotencyAlreadyInProgressError,)
    )


def dynamodb_idempotency(table_name: str, client: Any = None) -> LeadIdempotency:
    """`client`: a boto3 DynamoDB client to share; without one Powertools builds its own on a new boto3
    Session, which re-reads botocore's data files (~80 ms of cold start)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return powertools_idempotency(DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client))


# ---------------------------------------------------------------------------------------------
# Adapters: the sync core's field mapping, ID mappings, ledger and audit log


def _unknown_custom_fields(mapping: FieldMapping, lead: Lead) -> list[str]:
    known = {
        spec.rankr for spec in mapping.document.contact.custom_fields if spec.direction.allows(Side.RANKR)
    }
    return sorted(set(lead.customFields) - known)


class SyncLeadMapper:
    """Lead fields -> GHL body through the location's field mapping (custom fields by Rankr name)."""

    def __init__(self, resolver: MappingResolver) -> None:
        self._resolver = resolver

    def to_ghl(self, location_id: str, lead: Lead) -> dict[str, Any]:
        mapping = self._resolver.for_location(location_id, lead.rankrAccountId)
        unknown = _unknown_custom_fields(mapping, lead)
        if unknown:
            raise LeadPushFailure(
                ErrorCode.INVALID_LEAD,
                f"customFields: {', '.join(unknown)} not in the field mapping of location {location_id}",
                retryable=False,
            )
        contact = mapping.contact
        write = contact.to_ghl(contact.from_rankr(lead.rankr_record()), mode="create")
        body = {k: v for k, v in write.body.items() if k not in ("tags", "customFields")}
        # Only the custom fields the lead carries (null clears one): an absent one is left alone.
        given = {
            ref
            for spec in mapping.document.contact.custom_fields
            if spec.rankr in lead.customFields
            for ref in (spec.ghl_id, spec.ghl_key)
            if ref
        }
        custom = [
            item
            for item in write.body.get("customFields") or []
            if item.get("id") in given or item.get("key") in given
        ]
        if custom:
            body["customFields"] = custom
        return body


LINK_ATTEMPTS = 8
# How long a lead's claims hold: well past a push's worst case and GHL's webhook delay, short enough
# that an abandoned claim soon stops steering the webhook worker.
LEAD_CLAIM_TTL_S = 600


def _transient_store_error(exc: Exception) -> bool:
    """DynamoDB 5xx / throttling / transaction conflicts (botocore ClientError, read duck-typed)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return False
    code = str((response.get("Error") or {}).get("Code", ""))
    status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode", 0) or 0)
    return status >= 500 or code in {
        "InternalServerError",
        "ServiceUnavailable",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "TransactionConflictException",
        "RequestLimitExceeded",
    }


_AUDIT_ACTIONS = {
    Outcome.CREATED.value: AuditAction.CREATE,
    Outcome.UPDATED.value: AuditAction.UPDATE,
    Outcome.LINKED_EXISTING.value: AuditAction.LINK,
    Outcome.FAILED.value: AuditAction.FAILURE,
}


class SyncLeadRecords:
    """LeadRecords over the sync core's MappingStore, LedgerStore and AuditSink."""

    def __init__(
        self,
        mappings: MappingStore,
        ledger: LedgerStore,
        audit_sink: AuditSink,
        resolver: MappingResolver,
        *,
        correlation_id: Callable[[], str | None] = lambda: None,
        claims: LeadClaimStore | None = None,
        claim_ttl_s: int = LEAD_CLAIM_TTL_S,
        audit_flush_at: int = DEFAULT_FLUSH_AT,
        push_store: LeadPushStore | None = None,
    ) -> None:
        """`claims`: the lead claims the webhook
        worker reads (None: claiming is off). `audit_flush_at`: audit entries are written in
        batches of this many, and at every `flush` (1: each at once). `push_store`: the usual
        outcome (link, ledger, claims released) in one atomic write (None: always step by step)."""
        self._push_store = push_store
        self._claims = claims
        self._claim_ttl_s = claim_ttl_s
        self._mappings = mappings
        self._ledger = ledger
        self._audit = AuditBuffer(audit_sink, flush_at=audit_flush_at)
        self._resolver = resolver
        self._correlation_id = correlation_id

    def mapped_contact(self, location_id: str, lead_id: str) -> LeadLink | None:
        mapping = self._mappings.get_by_rankr(location_id, Entity.CONTACT, lead_id)
        return self._link_of(mapping) if mapping is not None else None

    def claim_unless_mapped(
        self, location_id: str, lead_id: str, identities: Sequence[str]
    ) -> LeadLink | None:
        if self._push_store is not None and self._claims is not None and identities:
            result = self._push_store.claim_unless_mapped(location_id, lead_id, identities, self._claim_ttl_s)
            if result.claimed:
                return None
            if result.mapping is not None:
                return self._link_of(result.mapping)
        mapped = self.mapped_contact(location_id, lead_id)
        if mapped is None:
            self.claim(location_id, lead_id, identities)
        return mapped

    @staticmethod
    def _link_of(mapping: IdMapping) -> LeadLink:
        if mapping.attributes.get("origin") != CLAIM_LINK_ORIGIN:
            return LeadLink(mapping.ghl_id)
        claimed = mapping.attributes.get("claimedAt")
        try:
            claimed_at = datetime.fromisoformat(claimed) if claimed else None
        except ValueError:
            claimed_at = None
        return LeadLink(mapping.ghl_id, provisional=True, claimed_at=claimed_at)

    def claim(self, location_id: str, lead_id: str, identities: Sequence[str]) -> None:
        if self._claims is None or not identities:
            return
        self._claims.claim(location_id, identities, lead_id, self._claim_ttl_s)

    def release_claims(self, location_id: str, lead_id: str, identities: Sequence[str]) -> None:
        if self._claims is None or not identities:
            return
        self._claims.release(location_id, identities, lead_id)

    def settle(
        self,
        location_id: str,
        lead: Lead,
        contact_id: str,
        ghl_state: Mapping[str, Any] | None,
        *,
        release: Sequence[str],
        link_matched_by: str | None = None,
    ) -> bool:
        if self._push_store is None:
            return False
        mapping = (
            self._lead_mapping(location_id, lead.leadId, contact_id, link_matched_by)
            if link_matched_by is not None
            else None
        )
        entries = self._ledger_entries(location_id, contact_id, lead, ghl_state)
        releasing = release if self._claims is not None else ()
        try:
            return self._push_store.settle_lead(
                location_id, lead.leadId, mapping=mapping, ledger=entries, release_identities=releasing
            )
        except Exception as exc:
            if not _transient_store_error(exc):
                raise
            # Perhaps written, perhaps not: the step-by-step path is idempotent either way.
            logger.warning("atomic lead settle failed; going step by step", extra={"leadId": lead.leadId})
            return False

    @staticmethod
    def _lead_mapping(location_id: str, lead_id: str, contact_id: str, matched_by: str) -> IdMapping:
        return IdMapping(
            location_id=location_id,
            entity=Entity.CONTACT,
            ghl_id=contact_id,
            rankr_id=lead_id,
            attributes={"matchedBy": matched_by, "origin": LEAD_PUSH_ORIGIN},
        )

    def link(self, location_id: str, lead_id: str, contact_id: str, matched_by: str) -> None:
        wanted = self._lead_mapping(location_id, lead_id, contact_id, matched_by)
        for attempt in range(LINK_ATTEMPTS):
            try:
                stored = self._mappings.put(wanted)
                if stored.attributes.get("origin") == CLAIM_LINK_ORIGIN:
                    # The webhook worker linked this very pair on our claim: confirm it as ours.
                    self._mappings.update_attributes(
                        IdMapping(
                            location_id=location_id,
                            entity=Entity.CONTACT,
                            ghl_id=contact_id,
                            rankr_id=lead_id,
                            attributes={**wanted.attributes, "linkedBy": CLAIM_LINK_ORIGIN},
                        )
                    )
                return
            except MappingConflict as conflict:
                existing = conflict.existing
                if (
                    conflict.side is Side.RANKR
                    and existing is not None
                    and existing.attributes.get("origin") == CLAIM_LINK_ORIGIN
                    and attempt < LINK_ATTEMPTS - 1
                ):
                    # The worker provisionally linked the lead to another contact that carries its e-mail
                    # or phone (duplicates allowed); the contact resolved here is the lead's own.
                    logger.info(
                        "replacing a provisional link of the lead",
                        extra={"leadId": lead_id, "ghl_id": existing.ghl_id},
                    )
                    self._mappings.delete(existing)
                    continue
                lead_maps_to = (
                    existing.ghl_id if conflict.side is Side.RANKR and existing is not None else None
                )
                raise LinkConflict(lead_maps_to, str(conflict)) from conflict
            except Exception as exc:
                # The contact exists in GHL now: a transient store error must not strand it unlinked.
                # Re-putting the same pair is idempotent.
                if attempt == LINK_ATTEMPTS - 1 or not _transient_store_error(exc):
                    raise
                logger.warning(
                    "mapping write failed; retrying", extra={"leadId": lead_id, "attempt": attempt + 1}
                )
                time.sleep(random.uniform(0.02, 0.05 * 2 ** min(attempt, 4)))  # full jitter

    def record_write(
        self, location_id: str, contact_id: str, lead: Lead, ghl_state: Mapping[str, Any] | None
    ) -> None:
        entries = self._ledger_entries(location_id, contact_id, lead, ghl_state)
        self._ledger.put_many(entries)

    def _ledger_entries(
        self, location_id: str, contact_id: str, lead: Lead, ghl_state: Mapping[str, Any] | None
    ) -> list[LedgerEntry]:
        from rankr_ghl.sync.echo import ledger_entry  # only after a GHL write (cold start)

        contact = self._resolver.for_location(location_id, lead.rankrAccountId).contact
        rankr_canonical = contact.from_rankr(lead.rankr_record())
        if ghl_state is None:
            # Only the lead is known: GHL holds what a create of it would have written.
            ghl_state = contact.to_ghl(rankr_canonical, mode="create").body
        at = datetime.now(UTC)
        correlation = self._correlation_id()
        return [
            ledger_entry(
                location_id,
                Entity.CONTACT,
                Side.GHL,
                contact_id,
                canonical=contact.from_ghl(ghl_state),
                mapping=contact,
                origin="write",
                at=at,
                correlation_id=correlation,
            ),
            ledger_entry(
                location_id,
                Entity.CONTACT,
                Side.RANKR,
                lead.leadId,
                canonical=dict(rankr_canonical),
                mapping=contact,
                origin="observed",
                at=at,
                correlation_id=correlation,
            ),
        ]

    def flush(self) -> None:
        self._audit.flush()

    def audit(
        self,
        location_id: str,
        lead_id: str,
        contact_id: str | None,
        outcome: str,
        *,
        fields: Sequence[str] = (),
        matched_by: str | None = None,
        error: str | None = None,
    ) -> None:
        self._audit.record(
            AuditEntry(
                location_id=location_id,
                entity=Entity.CONTACT,
                action=_AUDIT_ACTIONS[outcome],
                outcome=AuditOutcome.FAILED if outcome == Outcome.FAILED.value else AuditOutcome.SUCCESS,
                direction="rankr_to_ghl",
                ghl_id=contact_id,
                rankr_id=lead_id,
                fields=tuple(fields),
                reason=matched_by,
                error=error,
                correlation_id=self._correlation_id(),
                flow="lead_push",
            )
        )


# ---------------------------------------------------------------------------------------------
# Adapter: the connections table as LocationResolver


class ConnectionLookup(Protocol):
    def get(self, connection_id: str) -> Connection | None: ...

    def list_by_rankr_account(self, rankr_account_id: str) -> Iterator[Connection]: ...


class ConnectionLocationResolver:
    """Finds the connected location of a lead: its `locationId`, or the one location linked to its
    `rankrAccountId` (GSI byRankrAccount). Both given: the location must belong to that account.
    Lookups are cached briefly per container (a batch names the same location 100 times)."""

    def __init__(
        self, store: ConnectionLookup, ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: tuple[str, str], load: Callable[[], Any]) -> Any:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self._ttl_s:
                return hit[1]
        value = load()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def location_for(self, lead: Lead) -> str:
        if lead.rankrAccountId is not None:
            account = lead.rankrAccountId
            connections: list[Connection] = self._cached(
                ("account", account),
                lambda: [
                    c
                    for c in self._store.list_by_rankr_account(account)
                    if c.location_id and not c.is_company
                ],
            )
            if not connections:
                raise LeadPushFailure(
                    ErrorCode.UNKNOWN_ACCOUNT,
                    f"no GHL location is connected to Rankr account {account}",
                    retryable=False,
                )
            if lead.locationId is not None:
                chosen = [c for c in connections if c.location_id == lead.locationId]
                if not chosen:
                    raise LeadPushFailure(
                        ErrorCode.LOCATION_NOT_CONNECTED,
                        f"location {lead.locationId} is not connected to Rankr account {account}",
                        retryable=False,
                    )
            else:
                chosen = [c for c in connections if c.status is not ConnectionStatus.UNINSTALLED]
                if len(chosen) > 1:
                    raise LeadPushFailure(
                        ErrorCode.INVALID_LEAD,
                        f"Rankr account {account} is connected to {len(chosen)} locations; give locationId",
                        retryable=False,
                    )
                chosen = chosen or connections
            return _usable_location(chosen[0])
        assert lead.locationId is not None
        location_id = lead.locationId
        connection: Connection | None = self._cached(
            ("location", location_id), lambda: self._store.get(location_id)
        )
        if connection is None or connection.is_company:
            raise LeadPushFailure(
                ErrorCode.LOCATION_NOT_CONNECTED, f"location {location_id} is not connected", retryable=False
            )
        return _usable_location(connection)


def _usable_location(connection: Connection) -> str:
    location_id = connection.location_id or connection.connection_id
    if connection.status is ConnectionStatus.UNINSTALLED:
        raise LeadPushFailure(
            ErrorCode.LOCATION_NOT_CONNECTED,
            f"the app was uninstalled from location {location_id}",
            retryable=False,
        )
    if connection.status is ConnectionStatus.NEEDS_REAUTH:
        raise LeadPushFailure(
            ErrorCode.CONNECTION_UNAVAILABLE,
            f"the connection of location {location_id} needs to be re-authorised (install the app again)",
            retryable=False,
        )
    if connection.status is ConnectionStatus.PAUSED:
        raise LeadPushFailure(
            ErrorCode.CONNECTION_UNAVAILABLE,
            f"the connection of location {location_id} is paused",
            retryable=True,
        )
    return location_id
