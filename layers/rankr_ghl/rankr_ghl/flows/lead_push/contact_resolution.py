"""Which GHL contact a lead becomes, without ever asking GHL blindly to create twice.

- A lead with an e-mail or phone: one `POST /contacts/upsert` without tags (an upsert's tag list
  replaces a matched contact's tags). After an ambiguous failure (a timeout or 5xx that may have been
  applied) the duplicate lookup runs with the values the upsert sent, then a plain create; a duplicate
  refusal of any shape (400 with or without `meta`, 409, 422) falls back to the lookup.
- A lead without either: GHL cannot match it, so it carries a marker tag (`rankr-lead:<leadId>`),
  looked up before the create; after an ambiguous create the lookup is retried for longer than the
  search index lag before anything is created again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rankr_ghl.flows.lead_push.lead import Lead
from rankr_ghl.flows.lead_push.results import Outcome
from rankr_ghl.ghl.errors import GHLDuplicateContact, GHLError, GHLRateLimited
from rankr_ghl.observability import logger
from rankr_ghl.ports import GhlRecords
from rankr_ghl.sync.tags import canonical_tags

# A found contact added at most this long before our attempt began still counts as ours (clock skew).
CREATED_BY_US_SKEW = timedelta(seconds=30)
MAX_CREATE_ATTEMPTS = 3
# PUT /contacts/{id} (UpdateContactDto) has no companyName, gender or locationId: GHL answers 422.
NOT_UPDATABLE = frozenset({"companyName", "gender", "locationId", "tags"})


@dataclass(frozen=True)
class FoundContact:
    """A GHL contact record as lead push reads it."""

    id: str
    email: str | None = None
    phone: str | None = None
    date_added: datetime | None = None
    # The contact as GHL returned it (wire names): the ledger's view of what GHL now holds.
    raw: Mapping[str, Any] = field(default_factory=dict)


def found_contact(record: Mapping[str, Any]) -> FoundContact:
    contact_id = record.get("id")
    if not contact_id:
        raise GHLError("GHL returned a contact without an id")
    added = record.get("dateAdded")
    date_added: datetime | None = None
    if isinstance(added, datetime):
        date_added = added
    elif isinstance(added, str):
        try:
            date_added = datetime.fromisoformat(added.replace("Z", "+00:00"))
        except ValueError:
            date_added = None
    if date_added is not None and date_added.tzinfo is None:
        date_added = date_added.replace(tzinfo=UTC)
    return FoundContact(
        id=str(contact_id),
        email=record.get("email"),
        phone=record.get("phone"),
        date_added=date_added,
        raw=dict(record),
    )


def updatable(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in NOT_UPDATABLE}


def is_duplicate_refusal(exc: GHLError) -> bool:
    """GHL refusing a create because the contact exists, in any of the shapes seen or plausible."""
    if isinstance(exc, GHLDuplicateContact) or exc.status == 409:
        return True
    return exc.status in (400, 422) and "duplicat" in exc.message.lower()


def _warn_retrying(message: str, lead: Lead, exc: GHLError) -> None:
    """A failed write the resolver looks past: the lead and GHL's answer, never the contact's values."""
    logger.warning(message, extra={"leadId": lead.leadId, "status": exc.status, "traceId": exc.trace_id})


@dataclass(frozen=True)
class ResolutionSettings:
    # How long the marker-tag lookup is retried after an ambiguous create before creating again:
    # longer than GHL's search index lag ("updates may take a few seconds to appear").
    search_lag_wait_s: float = 12.0
    search_poll_s: float = 1.0


Resolved = tuple[FoundContact, Outcome, str]


class ContactResolver:
    def __init__(
        self,
        ghl: GhlRecords,
        *,
        settings: ResolutionSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ghl = ghl
        self._settings = settings or ResolutionSettings()
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic

    def update(self, location_id: str, contact_id: str, body: Mapping[str, Any]) -> FoundContact | None:
        record = self._ghl.update_contact(location_id, contact_id, updatable(body))
        return found_contact(record) if record else None

    def find_duplicate(self, location_id: str, lead: Lead, body: Mapping[str, Any]) -> FoundContact | None:
        """The lookup sends what the upsert sent (the mapping's normalised e-mail and phone)."""
        email = body.get("email") or lead.email
        phone = body.get("phone") or lead.phone
        record = self._ghl.find_duplicate_contact(location_id, email=email, phone=phone)
        return found_contact(record) if record else None

    def with_identifier(
        self, location_id: str, lead: Lead, body: dict[str, Any], *, pending_since: datetime | None = None
    ) -> Resolved:
        """`pending_since`: when the unfinished attempt behind a provisional link claimed the lead; a
        contact the upsert matches that was added since then is the one that attempt created."""
        started = self._clock()
        last_error: GHLError | None = None
        for attempt in range(MAX_CREATE_ATTEMPTS):
            if attempt:
                found = self.find_duplicate(location_id, lead, body)
                if found is not None:
                    return self._adopt(
                        location_id, body, found, started=started, matched_by=matched_field(lead, found)
                    )
                self._backoff(attempt, last_error)
            try:
                if attempt == 0:
                    upserted = self._ghl.upsert_contact_reporting_new(location_id, body)
                    contact, new = found_contact(upserted.record), upserted.new
                else:
                    # After a negative lookup: a plain create. Where duplicates are not allowed GHL
                    # itself refuses a duplicate, closing the lookup race.
                    contact, new = found_contact(self._ghl.create_contact(location_id, body)), True
            except GHLError as exc:
                if isinstance(exc, GHLDuplicateContact) and exc.contact_id:
                    updated = self.update(location_id, exc.contact_id, body)
                    return (
                        updated or FoundContact(id=exc.contact_id),
                        Outcome.LINKED_EXISTING,
                        f"duplicate:{exc.matching_field or '?'}",
                    )
                if not (exc.may_have_been_applied or exc.retryable or is_duplicate_refusal(exc)):
                    raise
                last_error = exc
                _warn_retrying(
                    "upsert/create failed ambiguously or as a duplicate; looking the contact up", lead, exc
                )
                continue
            if new:
                return contact, Outcome.CREATED, "created"
            matched = matched_field(lead, contact)
            added = contact.date_added
            if (
                pending_since is not None
                and added is not None
                and added >= pending_since - CREATED_BY_US_SKEW
            ):
                return contact, Outcome.CREATED, f"reresolved:{matched}"
            return contact, Outcome.LINKED_EXISTING, matched
        assert last_error is not None
        if is_duplicate_refusal(last_error):
            # GHL says the contact exists but the lookup cannot see it yet: a retry will.
            raise GHLError(
                f"GHL reports a duplicate the lookup does not find yet: {last_error.message}",
                status=last_error.status,
                trace_id=last_error.trace_id,
                retryable=True,
            ) from last_error
        raise last_error

    def without_identifier(self, location_id: str, lead: Lead, body: dict[str, Any]) -> Resolved:
        """Look the marker tag up first (an earlier attempt may have created the contact and died
        before the mapping write), then create with every tag in the body."""
        started = self._clock()
        create_body = {**body, "tags": canonical_tags([*lead.tags, lead.lead_tag])}
        last_error: GHLError | None = None
        for attempt in range(MAX_CREATE_ATTEMPTS):
            found = self._find_marker(location_id, lead, wait=attempt > 0)
            if found is not None:
                if attempt:  # only this lead's pushes put its marker tag on a contact
                    return found, Outcome.CREATED, "lead_tag"
                return self._adopt(
                    location_id, body, found, started=started, matched_by="lead_tag", created_by_lead=True
                )
            try:
                created = found_contact(self._ghl.create_contact(location_id, create_body))
            except GHLError as exc:
                if not (exc.may_have_been_applied or exc.retryable):
                    raise
                last_error = exc
                _warn_retrying(
                    "create failed ambiguously; re-resolving by lead tag before any retry", lead, exc
                )
                continue
            return created, Outcome.CREATED, "created"
        assert last_error is not None
        raise last_error

    def _find_marker(self, location_id: str, lead: Lead, *, wait: bool) -> FoundContact | None:
        """After an ambiguous create (`wait`), poll past the search index lag before answering None."""
        deadline = self._monotonic() + (self._settings.search_lag_wait_s if wait else 0.0)
        while True:
            record = self._ghl.find_contact_by_tag(location_id, lead.lead_tag)
            if record is not None:
                return found_contact(record)
            if self._monotonic() >= deadline:
                return None
            self._sleep(self._settings.search_poll_s)

    def _adopt(
        self,
        location_id: str,
        body: dict[str, Any],
        found: FoundContact,
        *,
        started: datetime,
        matched_by: str,
        created_by_lead: bool = False,
    ) -> Resolved:
        """A contact found after an ambiguous failure (or from an earlier attempt)."""
        ours = created_by_lead or (
            found.date_added is not None and found.date_added >= started - CREATED_BY_US_SKEW
        )
        if created_by_lead or not ours:
            # The fields may not be (all) there: an earlier payload, or someone else's contact.
            found = self.update(location_id, found.id, body) or found
        outcome = Outcome.CREATED if ours else Outcome.LINKED_EXISTING
        return found, outcome, f"reresolved:{matched_by}"

    def _backoff(self, attempt: int, error: GHLError | None) -> None:
        if isinstance(error, GHLRateLimited) and error.retry_after_s:
            self._sleep(min(error.retry_after_s, 10.0))
        else:
            self._sleep(min(0.2 * 2**attempt, 2.0))


def matched_field(lead: Lead, contact: FoundContact) -> str:
    if lead.email and contact.email and lead.email.strip().lower() == contact.email.strip().lower():
        return "email"
    if lead.phone and contact.phone and _digits(lead.phone)[-10:] == _digits(contact.phone)[-10:]:
        return "phone"
    return "email" if lead.email else "phone"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())
