"""A lead push that dies after linking its contact (before its tags and settle) leaves the pair with a
ledger base, so a reconcile decides each field against that base: a one-sided Rankr edit made after
the push wins, though GHL's record timestamp is newer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fakes import InMemoryLeadPushStore
from fakes.connections import FakeConnectionLookup
from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.flows.lead_push import Lead, LeadPushService, RankrLeadSource, SyncLeadMapper, SyncLeadRecords
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
from rankr_ghl.ghl.errors import GHLServerError
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import CLAIM_LINK_ORIGIN, IdMapping, lead_claim_identities
from rankr_ghl.sync.types import Entity


class PushDied(Exception):
    """The lead push's container ended (a crash, or the function's timeout) mid-push."""


class LeadPushGhl:
    """The reconcile world's GHL as lead push calls it; the push dies right after its tag write."""

    def __init__(self, world: World) -> None:
        self.ghl = world.ghl

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ghl, name)

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        self.ghl.add_tags(location_id, contact_id, tags)
        raise PushDied


class OneLocation:
    def location_for(self, lead: Lead) -> str:
        return LOCATION


def test_a_rankr_edit_after_a_push_that_died_after_its_link_survives_the_reconcile() -> None:
    world = World()
    lead = world.rankr.seed_contact(
        firstName="Ada", lastName="Lovelace", email="ada@example.com", tags=["hot"]
    )
    resolver = MappingResolver()
    ghl = LeadPushGhl(world)
    records = SyncLeadRecords(
        world.mappings,
        world.ledger,
        world.audit,
        resolver,
        claims=world.lead_claims,
        push_store=InMemoryLeadPushStore(world.mappings, world.ledger, world.lead_claims),
    )
    service = LeadPushService(
        ghl=ghl, records=records, mapper=SyncLeadMapper(resolver), locations=OneLocation(), idempotent=None
    )
    wire = {k: lead[k] for k in ("firstName", "lastName", "email", "tags")}

    event = {"leadId": lead["id"], "locationId": LOCATION, "rankrAccountId": ACCOUNT, **wire}
    [result] = service.push(event).results
    assert result["outcome"] == "failed"  # and its retries fail too: the lead waits in the failure queue

    [contact_id] = world.ghl.contacts_by_id()
    mapping = world.mappings.get_by_rankr(LOCATION, Entity.CONTACT, lead["id"])
    assert mapping is not None and mapping.ghl_id == contact_id  # linked; the settle never ran
    world.rankr.edit_contact(lead["id"], lastName="Byron")  # a one-sided Rankr edit
    world.ghl.edit_contact(contact_id, source="web")  # GHL's record is newer than the Rankr edit

    world.reconciler.run(ReconcileJob(LOCATION, Mode.FULL), account_id=ACCOUNT)

    assert world.rankr.contacts[lead["id"]]["lastName"] == "Byron"
    assert world.ghl.contacts_by_id()[contact_id]["lastName"] == "Byron"


class LeadPushGhlThatFinishes(LeadPushGhl):
    """The reconcile world's GHL as a later attempt of the push (its retry or replay) calls it."""

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        self.ghl.add_tags(location_id, contact_id, tags)
        return list(self.ghl.contacts_by_id()[contact_id]["tags"])


def test_a_contact_linked_on_a_lead_claim_keeps_the_leads_tags_until_its_push_finishes() -> None:
    """The async push claimed its lead, created the contact and failed before its tag write and link;
    the webhook worker linked the contact on the claim (no ledger yet). A reconcile before the push's
    retry must not judge the half-written pair by timestamps (GHL's contact is newer, tag-less): the
    lead's tags would be stripped in Rankr, and the retry's tags stripped again in GHL. After the push's
    replay and a last reconcile both sides hold the lead's tags."""
    world = World()
    lead = world.rankr.seed_contact(
        firstName="Ada", lastName="Lovelace", email="ada@example.com", tags=["hot"]
    )
    claimed_at = world.clock()
    world.lead_claims.claim(LOCATION, lead_claim_identities(email="ada@example.com"), lead["id"], 600)
    contact = world.ghl.seed_contact(
        firstName="Ada", lastName="Lovelace", email="ada@example.com", source="Rankr"
    )
    provisional = {
        "origin": CLAIM_LINK_ORIGIN,
        "matchedBy": "claim:email",
        "claimedAt": claimed_at.isoformat(),
    }
    world.mappings.put(
        IdMapping(
            LOCATION, Entity.CONTACT, contact["id"], lead["id"], account_id=ACCOUNT, attributes=provisional
        )
    )

    world.reconciler.run(ReconcileJob(LOCATION, Mode.FULL), account_id=ACCOUNT)

    assert world.rankr.contacts[lead["id"]]["tags"] == ["hot"]
    resolver = MappingResolver()
    records = SyncLeadRecords(world.mappings, world.ledger, world.audit, resolver, claims=world.lead_claims)
    service = LeadPushService(
        ghl=LeadPushGhlThatFinishes(world),
        records=records,
        mapper=SyncLeadMapper(resolver),
        locations=OneLocation(),
        idempotent=None,
    )
    wire = {k: lead[k] for k in ("firstName", "lastName", "email", "tags")}
    event = {"leadId": lead["id"], "locationId": LOCATION, "rankrAccountId": ACCOUNT, **wire}
    [result] = service.push(event, asynchronous=True).results  # the replay
    assert result["ghlContactId"] == contact["id"] and result["outcome"] != "failed"
    world.reconciler.run(ReconcileJob(LOCATION, Mode.FULL), account_id=ACCOUNT)

    assert world.ghl.contacts_by_id()[contact["id"]]["tags"] == ["hot"]
    assert world.rankr.contacts[lead["id"]]["tags"] == ["hot"]
    assert world.remaining_differences() == []


class LeadPushGhlTagWriteFails(LeadPushGhl):
    """GHL refuses the push's tag write (the contact is created and linked with its base)."""

    def add_tags(self, location_id: str, contact_id: str, tags: Sequence[str]) -> list[str]:
        raise GHLServerError("tag write refused", status=503)


def test_a_failed_tag_write_is_not_undone_by_reconcile_and_the_replay_restores_it_once() -> None:
    """The push created and linked the contact (children pending, the pair's ledger its link base)
    and its tag write failed every retry; its claims are gone. A Rankr edit lands, reconciles run, then
    the push is replayed: the edit survives on both sides (the replay is superseded), the lead's tags
    are never stripped in Rankr, and GHL gets them from the replay."""
    world = World()
    lead = world.rankr.seed_contact(
        firstName="Ada", lastName="Lovelace", email="ada@example.com", tags=["hot"]
    )
    resolver = MappingResolver()
    records = SyncLeadRecords(world.mappings, world.ledger, world.audit, resolver, claims=world.lead_claims)

    connections = FakeConnectionLookup()
    connections.add(LOCATION, account=ACCOUNT)

    def service(ghl: Any) -> LeadPushService:
        return LeadPushService(
            ghl=ghl,
            records=records,
            mapper=SyncLeadMapper(resolver),
            locations=OneLocation(),
            idempotent=None,
            source=RankrLeadSource(world.rankr, connections),
        )

    wire = {k: lead[k] for k in ("firstName", "lastName", "email", "tags")}
    event = {"leadId": lead["id"], "locationId": LOCATION, "rankrAccountId": ACCOUNT, **wire}
    [failed] = service(LeadPushGhlTagWriteFails(world)).push(event, asynchronous=True).results
    assert failed["outcome"] == "failed"
    [contact_id] = world.ghl.contacts_by_id()
    world.lead_claims.release(LOCATION, lead_claim_identities(email="ada@example.com"), lead["id"])
    world.rankr.edit_contact(lead["id"], lastName="Byron")
    world.ghl.edit_contact(contact_id, source="web")  # GHL's record is the newer one

    world.reconciler.run(ReconcileJob(LOCATION, Mode.FULL), account_id=ACCOUNT)

    assert world.rankr.contacts[lead["id"]]["tags"] == ["hot"]
    assert world.ghl.contacts_by_id()[contact_id]["lastName"] == "Byron"  # the one-sided edits are carried
    assert world.rankr.contacts[lead["id"]]["source"] == "web"
    [replayed] = service(LeadPushGhlThatFinishes(world)).push(event, asynchronous=True).results
    assert replayed == {"leadId": lead["id"], "ghlContactId": contact_id, "outcome": "superseded"}
    world.reconciler.run(ReconcileJob(LOCATION, Mode.FULL), account_id=ACCOUNT)

    assert (
        world.ghl.contacts_by_id()[contact_id]["tags"] == ["hot"]
        and world.ghl.contacts_by_id()[contact_id]["lastName"] == "Byron"
    )
    assert world.rankr.contacts[lead["id"]]["tags"] == ["hot"]
    assert world.rankr.contacts[lead["id"]]["lastName"] == "Byron"
    assert world.remaining_differences() == []
