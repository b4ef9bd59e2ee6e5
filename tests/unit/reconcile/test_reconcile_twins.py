"""No twins from reconcile: the mapping and the lead claims are read again at the moment of a create,
and a create that still loses the mapping race deletes its own record and audits why."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
from rankr_ghl.sync.ports import AuditAction, IdMapping
from rankr_ghl.sync.types import Entity


def run(world: World, mode: Mode = Mode.FULL) -> Any:
    return world.reconciler.run(ReconcileJob(LOCATION, mode), account_id=ACCOUNT)


def live(records: dict[str, dict[str, Any]]) -> set[str]:
    return {rid for rid, record in records.items() if not record.get("deletedAt")}


class LeadPushWinsTheRace:
    """Rankr, with a lead push mapping the GHL contact to its lead between reconcile's create and
    reconcile's mapping write."""

    def __init__(self, world: World, ghl_id: str, lead_id: str) -> None:
        self.inner, self.world, self.ghl_id, self.lead_id = world.rankr, world, ghl_id, lead_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create(self, account_id: str, entity: Entity, body: Any, parent_id: Any, key: str) -> Any:
        created = self.inner.create(account_id, entity, body, parent_id, key)
        self.world.mappings.put(IdMapping(LOCATION, Entity.CONTACT, self.ghl_id, self.lead_id))
        return created


def test_a_create_that_loses_the_mapping_race_deletes_its_own_twin() -> None:
    world = World()
    contact = world.ghl.seed_contact(firstName="Lee", lastName="Pushed")
    lead = world.rankr.seed_contact(firstName="Lee", lastName="Pushed-lead")
    reconciler = world.make_reconciler(rankr=LeadPushWinsTheRace(world, contact["id"], lead["id"]))

    report = reconciler.run(ReconcileJob(LOCATION, Mode.FULL), account_id=ACCOUNT).report

    assert live(world.rankr.contacts) == {lead["id"]}  # the twin reconcile created is deleted again
    mapping = world.mappings.get_by_ghl(LOCATION, Entity.CONTACT, contact["id"])
    assert mapping is not None and mapping.rankr_id == lead["id"]
    (twin,) = [entry for entry in world.audit.entries if entry.reason == "twin"]
    assert twin.action is AuditAction.DELETE and twin.fields == ("evidence:mapping_conflict",)
    assert report.repaired["contact.twin"] == 1 and not report.failures


def test_a_contact_a_lead_push_is_linking_gets_no_rankr_twin_in_either_mode() -> None:
    world = World()
    world.clock.now += timedelta(hours=1)
    run(world)  # the location's first, full run: the incremental window starts now
    for mode, email in ((Mode.INCREMENTAL, "lead1@example.com"), (Mode.FULL, "lead2@example.com")):
        world.ghl.seed_contact(firstName="Lead", email=email)
        world.lead_claims.claim(LOCATION, [f"email:{email}"], f"lead-{mode.value}", ttl_s=300)
        run(world, mode)
    assert world.rankr.contacts == {}
    skips = [entry for entry in world.audit.entries if entry.action is AuditAction.SKIP]
    assert {entry.fields for entry in skips} == {("pending_lead_push",)}
    assert {entry.ghl_id for entry in skips} == set(world.ghl.contacts_by_id())


def test_a_contact_mapped_after_the_pass_listed_it_is_not_created_again() -> None:
    world = World()
    contact = world.ghl.seed_contact(firstName="Web", lastName="Hook")
    mirrored = world.rankr.seed_contact(firstName="Web", lastName="Hook", email="other@example.com")

    class WorkerMapsFirst:
        """GHL, with the webhook worker mapping the contact right after the search returned it."""

        def __getattr__(self, name: str) -> Any:
            return getattr(world.ghl, name)

        def search_contacts(self, *args: Any, **kwargs: Any) -> Any:
            page = world.ghl.search_contacts(*args, **kwargs)
            if world.mappings.get_by_ghl(LOCATION, Entity.CONTACT, contact["id"]) is None:
                world.mappings.put(IdMapping(LOCATION, Entity.CONTACT, contact["id"], mirrored["id"]))
            return page

    world.make_reconciler(ghl=WorkerMapsFirst()).run(ReconcileJob(LOCATION, Mode.FULL), account_id=ACCOUNT)

    assert live(world.rankr.contacts) == {mirrored["id"]}
    assert world.rankr.count("create", Entity.CONTACT) == 0


def test_creating_in_ghl_never_replaces_the_tags_of_a_contact_the_upsert_matched() -> None:
    world = World()
    existing = world.ghl.seed_contact(firstName="Ann", email="ann@example.com", tags=["customer"])
    world.ghl.search_hidden.add(existing["id"])  # not in the search index yet: the full pass misses it
    world.clock.now += timedelta(hours=1)
    run(world)
    world.ghl.search_hidden.clear()
    world.rankr.seed_contact(firstName="Ann", email="ann@example.com", tags=["vip"])

    run(world, Mode.INCREMENTAL)  # the new Rankr contact is created in GHL: the upsert matches Ann

    assert sorted(world.ghl.contacts_by_id()[existing["id"]]["tags"]) == ["customer", "vip"]
    assert len(world.ghl.contacts_by_id()) == 1


def test_a_lead_push_in_flight_keeps_its_own_note_and_task_from_becoming_rankr_records() -> None:
    """Lead push claims the lead's note (body) and task (title) on its contact before writing them and
    maps them to the lead afterwards; a reconcile that lists them in between leaves them alone, while a
    note nobody claims is mirrored as usual."""
    from rankr_ghl.sync.ports import lead_child_claim_identity

    world = World()
    ghl_id, rankr_id = world.mirrored_pair(1)
    world.ghl.seed_note(ghl_id, body="Met at the fair")
    world.ghl.seed_note(ghl_id, body="A person's own note")
    world.ghl.seed_task(ghl_id, title="Call back", body="b")
    claims = [
        lead_child_claim_identity(Entity.NOTE, ghl_id, "Met at the fair"),
        lead_child_claim_identity(Entity.TASK, ghl_id, "Call back"),
    ]
    world.lead_claims.claim(LOCATION, [c for c in claims if c], "lead-1", ttl_s=300)

    run(world)
    run(world, Mode.NOTES)

    assert [n["body"] for n in world.rankr.notes.values()] == ["A person's own note"]
    assert world.rankr.tasks == {}


class ClaimsSeenAtTheWrite:
    """GHL, recording the live lead claims on the e-mail at the moment reconcile upserts."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.claims_at_upsert: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.world.ghl, name)

    def upsert_contact(self, location_id: str, body: Any) -> Any:
        claims = self.world.lead_claims.find(LOCATION, [f"email:{body['email']}"])
        self.claims_at_upsert.append([claim.lead_id for claim in claims])
        return self.world.ghl.upsert_contact(location_id, body)


def test_a_contact_reconcile_creates_in_ghl_is_claimed_for_its_rankr_record_while_it_is_written() -> None:
    """GHL's create webhook can reach the worker before this run maps the contact (or after an upsert
    GHL applied but answered with an error): the claim makes the worker link the contact to the Rankr
    record instead of mirroring it into a Rankr twin. Once mapped, the claim is released."""
    world = World()
    world.clock.now += timedelta(hours=1)
    run(world)
    person = world.rankr.seed_contact(firstName="Rae", email="rae@example.com")
    ghl = ClaimsSeenAtTheWrite(world)

    world.make_reconciler(ghl=ghl).run(ReconcileJob(LOCATION, Mode.INCREMENTAL), account_id=ACCOUNT)

    assert ghl.claims_at_upsert == [[person["id"]]]
    (contact_id,) = world.ghl.contacts_by_id()
    mapping = world.mappings.get_by_rankr(LOCATION, Entity.CONTACT, person["id"])
    assert mapping is not None and mapping.ghl_id == contact_id
    assert world.lead_claims.find(LOCATION, ["email:rae@example.com"]) == []


def test_a_rankr_contact_whose_e_mail_another_lead_push_claims_is_not_created_in_ghl_by_reconcile() -> None:
    world = World()
    world.clock.now += timedelta(hours=1)
    run(world)
    person = world.rankr.seed_contact(firstName="Rae", email="rae@example.com")
    world.lead_claims.claim(LOCATION, ["email:rae@example.com"], "another-lead", ttl_s=300)

    run(world, Mode.INCREMENTAL)

    assert world.ghl.contacts_by_id() == {}
    skips = [entry for entry in world.audit.entries if entry.action is AuditAction.SKIP]
    assert [(entry.rankr_id, entry.fields) for entry in skips] == [(person["id"], ("pending_lead_push",))]
