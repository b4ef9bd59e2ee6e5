"""One lead's write: the mapped contact updated, or a contact resolved, linked and settled, with the
lead's tags, first note and first task."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rankr_ghl.flows.lead_push.contact_resolution import ContactResolver
from rankr_ghl.flows.lead_push.lead import Lead
from rankr_ghl.flows.lead_push.ports import (
    APPLIED_HASH,
    APPLIED_SEQ,
    CHILDREN,
    CHILDREN_DONE,
    CHILDREN_PENDING,
    PUSH_OUTCOME,
    AppliedVersion,
    LeadLink,
    LeadMapper,
    LeadRecords,
    LinkConflict,
    lead_link_attributes,
)
from rankr_ghl.flows.lead_push.results import ErrorCode, LeadPushFailure, Outcome, success_result
from rankr_ghl.ghl.errors import GHLNotFound
from rankr_ghl.observability import logger
from rankr_ghl.ports import GhlRecords
from rankr_ghl.sync.ports import (
    LEAD_PUSH_ORIGIN,
    LEAD_TAG_PREFIX,
    lead_child_claim_identity,
    lead_claim_identities,
)
from rankr_ghl.sync.tags import canonical_tags
from rankr_ghl.sync.types import Entity


class LeadWriter:
    def __init__(
        self,
        *,
        ghl: GhlRecords,
        records: LeadRecords,
        mapper: LeadMapper,
        resolver: ContactResolver,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ghl = ghl
        self._records = records
        self._mapper = mapper
        self._resolver = resolver
        self._clock = clock

    def write(
        self,
        location_id: str,
        lead: Lead,
        applied: AppliedVersion,
        *,
        current: Callable[[], Mapping[str, Any] | None] | None = None,
    ) -> dict[str, Any]:
        """`applied`: the payload's hash and sequence, kept on the mapping once GHL holds it.
        `current`: reads the lead as Rankr holds it now; given for a delivery that may be late, so a
        mapped lead's payload never overwrites a newer state (see `_superseded`)."""
        body = self._mapper.to_ghl(location_id, lead)
        identities = claim_identities(lead, body)
        mapped = self._records.claim_unless_mapped(location_id, lead.leadId, identities)
        if mapped is not None and not mapped.provisional:
            record = current() if current is not None else None
            if record is not None:
                stale = (
                    ["deletedAt"]
                    if record.get("deletedAt")
                    else self._mapper.superseded_fields(location_id, lead, record)
                )
                if stale:
                    return self._superseded(location_id, lead, mapped, record, stale)
            return self._update_mapped(location_id, lead, mapped, body, applied)
        if mapped is not None:
            # Linked by the webhook worker on the claim of an attempt that never finished: resolve as a
            # first push (it finds that contact again and the link below confirms the pair).
            self._records.claim(location_id, lead.leadId, identities)
        pending_since = mapped.claimed_at if mapped is not None else None
        if lead.has_identifier:
            contact, outcome, matched_by = self._resolver.with_identifier(
                location_id, lead, body, pending_since=pending_since
            )
            needs_tags = bool(lead.tags)
        else:
            contact, outcome, matched_by = self._resolver.without_identifier(location_id, lead, body)
            # A contact this lead created carries its tags from the create body already.
            needs_tags = matched_by != "created" and bool(lead.tags)
        children = needs_tags or (lead.note or lead.task) is not None
        attributes = {
            APPLIED_HASH: applied.payload_hash,
            APPLIED_SEQ: str(applied.seq),
            CHILDREN: CHILDREN_PENDING if children else CHILDREN_DONE,
            PUSH_OUTCOME: outcome.value,
        }
        state = dict(contact.raw) if contact.raw else None
        done = {CHILDREN: CHILDREN_DONE}
        if needs_tags:
            # Linked before the tag write, so a failed tag, note or task write leaves a mapped contact
            # to retry on; linked with its ledger base (the contact as GHL holds it now), so a push
            # that dies before its settle leaves a pair decided field by field against that base,
            # never by timestamps alone. The claims stay until the settle: until then the webhook
            # worker must not mirror GHL's tag-less state onto the lead. The settle that ends the push
            # writes the ledger with the tags and marks its children done, in the same write.
            stored = self._link_with_base(
                location_id, lead, contact.id, matched_by=matched_by, attributes=attributes, state=state
            )
            tags = self._ghl.add_tags(location_id, contact.id, canonical_tags(lead.tags))
            if state is not None:
                state["tags"] = tags
            # A contact that existed before this lead may hold an equal note or task already.
            self._note_and_task(location_id, lead, contact.id, first_attempt=outcome is Outcome.CREATED)
            self._settle(
                location_id,
                lead,
                contact.id,
                state,
                identities,
                attributes=(stored, done) if stored else None,
            )
            if stored is None:  # the pair was linked by someone else: its attributes are not known here
                self._records.update_link(location_id, lead.leadId, contact.id, done)
        else:
            self._settle(location_id, lead, contact.id, state, identities, link=(matched_by, attributes))
            if children:
                self._note_and_task(location_id, lead, contact.id, first_attempt=outcome is Outcome.CREATED)
                self._records.update_link(location_id, lead.leadId, contact.id, done)
        self.safe_audit(
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
        self, location_id: str, lead: Lead, link: LeadLink, body: dict[str, Any], applied: AppliedVersion
    ) -> dict[str, Any]:
        contact_id = link.contact_id
        try:
            updated = self._resolver.update(location_id, contact_id, body)
        except GHLNotFound:
            raise contact_deleted(contact_id) from None
        state = dict(updated.raw) if updated is not None and updated.raw else None
        if lead.tags:
            tags = self._ghl.add_tags(location_id, contact_id, canonical_tags(lead.tags))
            if state is not None:
                state["tags"] = tags
        self._records.record_write(location_id, contact_id, lead, state)
        outcome = Outcome.UPDATED
        if link.children_pending:
            # An earlier attempt created or linked the contact and failed before its tags, note or task
            # were all written: this attempt finishes that push, and answers as it would have.
            outcome = Outcome(link.attributes.get(PUSH_OUTCOME, Outcome.CREATED.value))
            self._note_and_task(location_id, lead, contact_id, first_attempt=False)
        elif CHILDREN not in link.attributes and link.attributes.get("origin") != LEAD_PUSH_ORIGIN:
            # The lead's first push, but its contact was made from it before (reconcile created the
            # Rankr contact in GHL, or linked it): this push still brings the lead's note and task.
            self._note_and_task(location_id, lead, contact_id, first_attempt=False)
        changes = {APPLIED_HASH: applied.payload_hash, APPLIED_SEQ: str(applied.seq), CHILDREN: CHILDREN_DONE}
        self._records.update_link(location_id, lead.leadId, contact_id, changes)
        self.safe_audit(
            location_id, lead.leadId, contact_id, outcome.value, fields=sorted(body), matched_by="mapping"
        )
        return success_result(lead.leadId, contact_id, outcome)

    def _superseded(
        self,
        location_id: str,
        lead: Lead,
        link: LeadLink,
        record: Mapping[str, Any],
        stale: Sequence[str],
    ) -> dict[str, Any]:
        """A payload that is not the lead as Rankr holds it now: an older push delivered late (Lambda's
        retries, a replayed failure record) after the lead changed in Rankr, and the sync (reconcile,
        webhooks) may have carried the newer state to GHL already. Rankr is the lead's source, so its
        record, not the payload's send time, decides, and no clock is compared. The contact's fields are
        not written, and the mapping's applied payload is not moved (the sync owns the pair from here).
        What the lead's first push still owes is written, each child once: the lead's tags as Rankr
        holds them now (never a tag Rankr dropped since), its note and its task. A lead deleted in
        Rankr gets nothing: its delete flows through the sync."""
        contact_id = link.contact_id
        owed = link.children_pending or (
            CHILDREN not in link.attributes and link.attributes.get("origin") != LEAD_PUSH_ORIGIN
        )
        if owed and not record.get("deletedAt"):
            # Lead markers are the connector's own (written with the contact), never Rankr's tags.
            held = [str(tag) for tag in record.get("tags") or []]
            tags = [tag for tag in held if not tag.lower().startswith(LEAD_TAG_PREFIX)]
            try:
                if tags:
                    self._ghl.add_tags(location_id, contact_id, canonical_tags(tags))
                self._note_and_task(location_id, lead, contact_id, first_attempt=False)
            except GHLNotFound:
                raise contact_deleted(contact_id) from None
            self._records.update_link(location_id, lead.leadId, contact_id, {CHILDREN: CHILDREN_DONE})
        self.safe_audit(
            location_id,
            lead.leadId,
            contact_id,
            Outcome.SUPERSEDED.value,
            fields=sorted(stale),
            matched_by="mapping",
        )
        logger.info(
            "lead push superseded: the lead changed in Rankr since this payload was sent",
            extra={"leadId": lead.leadId, "locationId": location_id, "fields": sorted(stale)},
        )
        return success_result(lead.leadId, contact_id, Outcome.SUPERSEDED)

    def _link(
        self,
        location_id: str,
        lead: Lead,
        contact_id: str,
        matched_by: str,
        attributes: Mapping[str, str] | None = None,
    ) -> Mapping[str, str] | None:
        """The attributes the mapping holds now; None when the pair was linked already (not read)."""
        try:
            return self._records.link(location_id, lead.leadId, contact_id, matched_by, attributes=attributes)
        except LinkConflict as conflict:
            if conflict.existing_contact_id == contact_id:
                return None
            raise LeadPushFailure(
                ErrorCode.CONTACT_LINKED_ELSEWHERE,
                f"GHL contact {contact_id} (matched by {matched_by}) cannot be linked to lead {lead.leadId}: "
                f"{conflict}",
                retryable=False,
            ) from conflict

    def _link_with_base(
        self,
        location_id: str,
        lead: Lead,
        contact_id: str,
        *,
        matched_by: str,
        attributes: Mapping[str, str],
        state: Mapping[str, Any] | None,
    ) -> Mapping[str, str] | None:
        """`_link` and the pair's ledger base in one store write (no claim released); when the store
        cannot (a side is mapped already, contention), the base first and then the link."""
        if self._records.settle(
            location_id,
            lead,
            contact_id,
            state,
            release=(),
            link_matched_by=matched_by,
            link_attributes=attributes,
            link_base=True,
        ):
            return lead_link_attributes(attributes, matched_by)
        self._records.write_link_base(location_id, lead, contact_id, state)
        return self._link(location_id, lead, contact_id, matched_by, attributes)

    def _settle(
        self,
        location_id: str,
        lead: Lead,
        contact_id: str,
        state: Mapping[str, Any] | None,
        identities: Sequence[str],
        *,
        link: tuple[str, Mapping[str, str]] | None = None,
        attributes: tuple[Mapping[str, str], Mapping[str, str]] | None = None,
    ) -> None:
        """Ledger, claims released and (with `link`: matched by, attributes) the link, or (with
        `attributes`: what the lead's mapping holds, the changes) the mapping's attributes updated:
        one store write in the usual case, since store round trips, not GHL's, bound a batch's pace
        when the rate budget is large."""
        matched_by, link_attributes = link if link is not None else (None, None)
        stored, changes = attributes if attributes is not None else (None, None)
        if self._records.settle(
            location_id,
            lead,
            contact_id,
            state,
            release=identities,
            link_matched_by=matched_by,
            link_attributes=link_attributes,
            attributes={**stored, **changes} if stored is not None and changes is not None else None,
        ):
            return
        if matched_by is not None:
            # The base first: no crash between the two writes leaves a link without a ledger.
            self._records.write_link_base(location_id, lead, contact_id, state)
            self._link(location_id, lead, contact_id, matched_by, link_attributes)
        self._records.record_write(location_id, contact_id, lead, state)
        self._release_claims(location_id, lead.leadId, identities)
        if changes is not None:
            self._records.update_link(location_id, lead.leadId, contact_id, changes)

    def _release_claims(self, location_id: str, lead_id: str, identities: Sequence[str]) -> None:
        try:
            self._records.release_claims(location_id, lead_id, identities)
        except Exception:  # best effort: the mapping exists now, and the claims expire on their own
            logger.warning("lead claims not released; they expire", extra={"leadId": lead_id}, exc_info=True)

    def _note_and_task(self, location_id: str, lead: Lead, contact_id: str, *, first_attempt: bool) -> None:
        """The note and task a lead's first push brings (whether it created its contact or linked an
        existing one: a retry after an ambiguous create cannot always tell), each written once: a later
        attempt adopts the one an earlier attempt wrote (same body / same title) before creating."""
        # Claimed before GHL holds them: their NoteCreate / TaskCreate may reach the webhook worker (or
        # a reconcile may list them) before the mapping below is written, or after a failed attempt
        # that wrote them in GHL and never mapped them; neither may make them Rankr records.
        claims = [
            identity
            for identity in (
                lead_child_claim_identity(Entity.NOTE, contact_id, lead.note.body if lead.note else None),
                lead_child_claim_identity(Entity.TASK, contact_id, lead.task.title if lead.task else None),
            )
            if identity is not None
        ]
        self._records.claim(location_id, lead.leadId, claims)
        if lead.note is not None:
            note_wire = {"body": lead.note.body, "title": lead.note.title}
            note = self._child(
                first_attempt,
                lambda: self._ghl.list_notes(location_id, contact_id),
                "body",
                lead.note.body,
                lambda: self._ghl.create_note(location_id, contact_id, _without_none(note_wire)),
            )
            self._records.link_child(location_id, lead, contact_id, Entity.NOTE, note)
        if lead.task is not None:
            lead_task = lead.task

            def create_task() -> Mapping[str, Any]:
                due = lead_task.dueDate or self._clock() + timedelta(days=1)
                task_wire: dict[str, Any] = {
                    "title": lead_task.title,
                    "body": lead_task.body,
                    "dueDate": due.isoformat(),
                    "completed": False,
                    "assignedTo": lead_task.assignedTo,
                }
                return self._ghl.create_task(location_id, contact_id, _without_none(task_wire))

            task = self._child(
                first_attempt,
                lambda: self._ghl.list_tasks(location_id, contact_id),
                "title",
                lead_task.title,
                create_task,
            )
            self._records.link_child(location_id, lead, contact_id, Entity.TASK, task)
        self._release_claims(location_id, lead.leadId, claims)

    @staticmethod
    def _child(
        first_attempt: bool,
        list_existing: Callable[[], Sequence[Mapping[str, Any]]],
        key: str,
        value: str,
        create: Callable[[], Mapping[str, Any]],
    ) -> Mapping[str, Any]:
        """The note or task a retried push created already (the one whose `key` is `value`), else a
        new one; a first attempt has created none, so it lists nothing."""
        if not first_attempt:
            found = next((r for r in list_existing() if r.get(key) == value and r.get("id")), None)
            if found is not None:
                return found
        return create()

    def safe_audit(
        self, location_id: str, lead_id: str, contact_id: str | None, outcome: str, **kw: Any
    ) -> None:
        try:
            self._records.audit(location_id, lead_id, contact_id, outcome, **kw)
        except Exception:  # the audit log must never fail a push that GHL already applied
            logger.exception("audit write failed", extra={"leadId": lead_id})


def _without_none(wire: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wire.items() if v is not None}


def contact_deleted(contact_id: str) -> LeadPushFailure:
    return LeadPushFailure(
        ErrorCode.CONTACT_DELETED_IN_GHL,
        f"the mapped GHL contact {contact_id} was deleted in GHL; it is not re-created",
        retryable=False,
    )


def claim_identities(lead: Lead, body: Mapping[str, Any]) -> list[str]:
    """What the lead's GHL contact will be matched by: e-mail and phone as sent to GHL, or the lead tag."""
    if not lead.has_identifier:
        return lead_claim_identities(tags=[lead.lead_tag])
    return lead_claim_identities(email=body.get("email") or lead.email, phone=body.get("phone") or lead.phone)
