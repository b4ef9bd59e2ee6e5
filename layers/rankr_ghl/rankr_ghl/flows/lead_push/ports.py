"""What lead push needs besides GHL (`rankr_ghl.ports.GhlRecords`): its stores, the field mapping and
the location a lead goes to. Adapters: `records.SyncLeadRecords`, `mapper.SyncLeadMapper`,
`locations.ConnectionLocationResolver`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from rankr_ghl.ports import ConnectionLookup as SingleConnectionLookup
from rankr_ghl.sync.ports import LEAD_PUSH_CHILDREN, LEAD_PUSH_CHILDREN_PENDING, LEAD_PUSH_ORIGIN

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection
    from rankr_ghl.flows.lead_push.lead import Lead
    from rankr_ghl.sync.types import Entity

# Mapping attributes lead push keeps on a lead's contact mapping (strings, as every mapping attribute):
APPLIED_HASH = "appliedHash"  # the payload hash last applied to GHL
APPLIED_SEQ = "appliedSeq"  # how many different payloads were applied before it (part of the idempotency key)
CHILDREN = LEAD_PUSH_CHILDREN  # "pending" until the creating push's tags, note and task are all written
CHILDREN_PENDING = LEAD_PUSH_CHILDREN_PENDING
CHILDREN_DONE = "done"
PUSH_OUTCOME = "pushOutcome"  # the outcome of the push that linked the lead (answered again by its retry)


def lead_link_attributes(attributes: Mapping[str, str] | None, matched_by: str) -> dict[str, str]:
    """What a lead's contact mapping holds once lead push links the pair."""
    return {**(attributes or {}), "matchedBy": matched_by, "origin": LEAD_PUSH_ORIGIN}


@dataclass(frozen=True)
class AppliedVersion:
    """A payload's hash and its place in the lead's sequence of different payloads applied."""

    payload_hash: str
    seq: int


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
    # The mapping's stored facts (applied payload, children); not part of the link's identity.
    attributes: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def applied_hash(self) -> str | None:
        return None if self.provisional else self.attributes.get(APPLIED_HASH)

    @property
    def applied_seq(self) -> int:
        raw = self.attributes.get(APPLIED_SEQ, "0")
        return int(raw) if raw.isdigit() else 0

    @property
    def children_pending(self) -> bool:
        return self.attributes.get(CHILDREN) == CHILDREN_PENDING


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

    def link(
        self,
        location_id: str,
        lead_id: str,
        contact_id: str,
        matched_by: str,
        *,
        attributes: Mapping[str, str] | None = None,
    ) -> Mapping[str, str]:
        """Conditional write (`attributes`: more facts on the mapping, e.g. `CHILDREN`); raises
        LinkConflict when the lead maps elsewhere or the contact is already linked to another Rankr
        record. Re-linking the same pair is a no-op, and confirms a
        provisional link; a provisional link of the lead to another contact is replaced. Returns the
        attributes the mapping holds afterwards."""
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
        link_attributes: Mapping[str, str] | None = None,
        attributes: Mapping[str, str] | None = None,
        link_base: bool = False,
    ) -> bool:
        """The usual end of a first push in one atomic write: the ledger as `record_write` writes
        it, the lead's claims on `release` dropped and, with `link_matched_by`, the `link` of a lead
        and contact both unmapped, or, with `attributes`, the whole attribute set of the lead's
        mapping to `contact_id`. False, with nothing written, when that does not apply: the caller
        then links, records, releases and updates the link step by step. `link_base`: the ledger
        written is the link's base (as `write_link_base`), not the push's settled state."""
        ...

    def write_link_base(
        self, location_id: str, lead: Lead, contact_id: str, ghl_state: Mapping[str, Any] | None
    ) -> None:
        """Before a step-by-step `link`: the pair's ledger base (as `record_write`, marked as a link
        base), so no crash leaves the link without one. Nothing is written when the lead or the
        contact is mapped to another record already (that link is refused, and its ledger is not
        ours to touch)."""
        ...

    def update_link(
        self, location_id: str, lead_id: str, contact_id: str, changes: Mapping[str, str]
    ) -> None:
        """Merge `changes` into the attributes of the lead's mapping to `contact_id`."""
        ...

    def link_child(
        self, location_id: str, lead: Lead, contact_id: str, entity: Entity, record: Mapping[str, Any]
    ) -> None:
        """Mapping and ledger of a note or task lead push created on the lead's contact, so that its
        webhook is an echo and never becomes a Rankr record."""
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

    def superseded_fields(self, location_id: str, lead: Lead, current: Mapping[str, Any]) -> list[str]:
        """Names (never values) of the fields the lead carries whose canonical value differs from
        `current`, the lead's Rankr contact as Rankr holds it now: empty when the payload is current."""
        ...


class LeadSource(Protocol):
    """The lead as Rankr holds it now (Rankr is the source of a lead: a push is sent from its record)."""

    def current(self, location_id: str, lead: Lead) -> Mapping[str, Any] | None:
        """The lead's Rankr contact record; None when Rankr holds no such contact (or the lead's
        account is not known). Raises LeadPushFailure (retryable) when Rankr cannot be read."""
        ...


class LocationResolver(Protocol):
    def location_for(self, lead: Lead) -> str:
        """The connected location to push to; raises LeadPushFailure when there is none."""
        ...


class ConnectionLookup(SingleConnectionLookup, Protocol):
    """A connection by id, and the connections of a Rankr account (GSI byRankrAccount)."""

    def list_by_rankr_account(self, rankr_account_id: str) -> Iterator[Connection]: ...
