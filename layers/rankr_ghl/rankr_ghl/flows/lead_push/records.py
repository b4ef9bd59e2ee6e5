"""`LeadRecords` over the sync core's stores: mappings, lead claims, ledger and audit log."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from rankr_ghl.flows.lead_push.lead import Lead
from rankr_ghl.flows.lead_push.ports import LeadLink, LinkConflict, lead_link_attributes
from rankr_ghl.flows.lead_push.results import Outcome
from rankr_ghl.observability import logger
from rankr_ghl.sync.audit_buffer import DEFAULT_FLUSH_AT, AuditBuffer
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import (
    CLAIM_LINK_ORIGIN,
    LEAD_CLAIM_TTL_S,
    LEAD_PUSH_ORIGIN,
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
)
from rankr_ghl.sync.types import Entity, Side

LINK_ATTEMPTS = 8


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


def lead_child_id(lead_id: str, entity: Entity) -> str:
    """The Rankr side of a note or task that came with a lead: Rankr keeps it on the lead itself."""
    return f"{lead_id}#lead-{entity.value}"


_AUDIT_ACTIONS = {
    Outcome.CREATED.value: AuditAction.CREATE,
    Outcome.UPDATED.value: AuditAction.UPDATE,
    Outcome.LINKED_EXISTING.value: AuditAction.LINK,
    Outcome.SUPERSEDED.value: AuditAction.SKIP,
    Outcome.FAILED.value: AuditAction.FAILURE,
}

_AUDIT_OUTCOMES = {Outcome.FAILED.value: AuditOutcome.FAILED, Outcome.SUPERSEDED.value: AuditOutcome.SKIPPED}


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
            return LeadLink(mapping.ghl_id, attributes=dict(mapping.attributes))
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
        link_attributes: Mapping[str, str] | None = None,
        attributes: Mapping[str, str] | None = None,
        link_base: bool = False,
    ) -> bool:
        if self._push_store is None:
            return False
        mapping = (
            self._lead_mapping(location_id, lead.leadId, contact_id, link_matched_by, link_attributes)
            if link_matched_by is not None
            else None
        )
        entries = self._ledger_entries(location_id, contact_id, lead, ghl_state)
        entries = [replace(entry, link_base=True) for entry in entries] if link_base else entries
        releasing = release if self._claims is not None else ()
        try:
            return self._push_store.settle_lead(
                location_id,
                lead.leadId,
                mapping=mapping,
                ledger=entries,
                release_identities=releasing,
                attributes_of=(
                    None
                    if attributes is None
                    else IdMapping(
                        location_id=location_id,
                        entity=Entity.CONTACT,
                        ghl_id=contact_id,
                        rankr_id=lead.leadId,
                        attributes=dict(attributes),
                    )
                ),
            )
        except Exception as exc:
            if not _transient_store_error(exc):
                raise
            # Perhaps written, perhaps not: the step-by-step path is idempotent either way.
            logger.warning("atomic lead settle failed; going step by step", extra={"leadId": lead.leadId})
            return False

    @staticmethod
    def _lead_mapping(
        location_id: str,
        lead_id: str,
        contact_id: str,
        matched_by: str,
        attributes: Mapping[str, str] | None = None,
    ) -> IdMapping:
        return IdMapping(
            location_id=location_id,
            entity=Entity.CONTACT,
            ghl_id=contact_id,
            rankr_id=lead_id,
            attributes=lead_link_attributes(attributes, matched_by),
        )

    def link(
        self,
        location_id: str,
        lead_id: str,
        contact_id: str,
        matched_by: str,
        *,
        attributes: Mapping[str, str] | None = None,
    ) -> Mapping[str, str]:
        wanted = self._lead_mapping(location_id, lead_id, contact_id, matched_by, attributes)
        for attempt in range(LINK_ATTEMPTS):
            try:
                stored = self._mappings.put(wanted)
                if stored.attributes.get("origin") == CLAIM_LINK_ORIGIN:
                    # The webhook worker linked this very pair on our claim: confirm it as ours.
                    confirmed = {**wanted.attributes, "linkedBy": CLAIM_LINK_ORIGIN}
                    self._mappings.update_attributes(
                        IdMapping(
                            location_id=location_id,
                            entity=Entity.CONTACT,
                            ghl_id=contact_id,
                            rankr_id=lead_id,
                            attributes=confirmed,
                        )
                    )
                    return confirmed
                return dict(stored.attributes)
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
        raise RuntimeError("unreachable: the last attempt returns or raises")

    def update_link(
        self, location_id: str, lead_id: str, contact_id: str, changes: Mapping[str, str]
    ) -> None:
        mapping = self._mappings.get_by_rankr(location_id, Entity.CONTACT, lead_id)
        if mapping is None or mapping.ghl_id != contact_id:
            return  # re-linked or unlinked meanwhile: the facts belonged to the old pair
        if all(mapping.attributes.get(k) == v for k, v in changes.items()):
            return
        self._mappings.update_attributes(replace(mapping, attributes={**mapping.attributes, **changes}))

    def link_child(
        self, location_id: str, lead: Lead, contact_id: str, entity: Entity, record: Mapping[str, Any]
    ) -> None:
        from rankr_ghl.sync.ledger_entries import ledger_entry  # only after a GHL write (cold start)

        child_id = str(record["id"])
        try:
            self._mappings.put(
                IdMapping(
                    location_id=location_id,
                    entity=entity,
                    ghl_id=child_id,
                    rankr_id=lead_child_id(lead.leadId, entity),
                    ghl_parent_id=contact_id,
                    rankr_parent_id=lead.leadId,
                    attributes={"origin": LEAD_PUSH_ORIGIN},
                )
            )
        except MappingConflict as conflict:
            if conflict.side is not Side.GHL or conflict.existing is None:
                raise
            # Mirrored into Rankr before this push could map it (its claim had expired): the GHL record
            # is linked, to a Rankr record of its own. It is written, so the lead's push is complete.
            logger.warning(
                "lead child already mapped to a Rankr record",
                extra={"leadId": lead.leadId, "entity": entity.value, "ghl_id": child_id},
            )
            return
        mapping = self._resolver.for_location(location_id, lead.rankrAccountId).for_entity(entity)
        self._ledger.put_many(
            [
                ledger_entry(
                    location_id,
                    entity,
                    Side.GHL,
                    child_id,
                    canonical=mapping.from_ghl(record),
                    mapping=mapping,
                    origin="write",
                    at=datetime.now(UTC),
                    correlation_id=self._correlation_id(),
                )
            ]
        )

    def record_write(
        self, location_id: str, contact_id: str, lead: Lead, ghl_state: Mapping[str, Any] | None
    ) -> None:
        entries = self._ledger_entries(location_id, contact_id, lead, ghl_state)
        self._ledger.put_many(entries)

    def write_link_base(
        self, location_id: str, lead: Lead, contact_id: str, ghl_state: Mapping[str, Any] | None
    ) -> None:
        by_ghl = self._mappings.get_by_ghl(location_id, Entity.CONTACT, contact_id)
        by_rankr = self._mappings.get_by_rankr(location_id, Entity.CONTACT, lead.leadId)
        if (by_ghl is not None and by_ghl.rankr_id != lead.leadId) or (
            by_rankr is not None
            and by_rankr.ghl_id != contact_id
            and by_rankr.attributes.get("origin") != CLAIM_LINK_ORIGIN
        ):
            return  # the link is refused; that pair's ledger is not this push's to write
        entries = self._ledger_entries(location_id, contact_id, lead, ghl_state)
        self._ledger.put_many([replace(entry, link_base=True) for entry in entries])

    def _ledger_entries(
        self, location_id: str, contact_id: str, lead: Lead, ghl_state: Mapping[str, Any] | None
    ) -> list[LedgerEntry]:
        from rankr_ghl.sync.ledger_entries import ledger_entry  # only after a GHL write (cold start)

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
                outcome=_AUDIT_OUTCOMES.get(outcome, AuditOutcome.SUCCESS),
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
