"""A lead push that dies after linking its contact (before its tags and settle) leaves the pair with a
ledger base, so a reconcile decides each field against that base: a one-sided Rankr edit made after
the push wins, though GHL's record timestamp is newer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fakes import InMemoryLeadPushStore
from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.flows.lead_push import Lead, LeadPushService, SyncLeadMapper, SyncLeadRecords
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
from rankr_ghl.sync.mapping_resolver import MappingResolver
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
