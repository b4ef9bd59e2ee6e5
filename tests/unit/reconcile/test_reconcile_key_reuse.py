"""Reconcile creates a Rankr record, crashes before its mapping write, and the GHL record changes before
the redelivered job: the create key (location + GHL id) comes back with another body, Rankr answers 409
`idempotency-key-reused` naming the record the key created, and reconcile adopts it (map, then sync as a
pair) instead of failing forever or creating a twin."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
from rankr_ghl.sync.ports import AuditAction, IdMapping
from rankr_ghl.sync.types import Entity


def crash_next_mapping_put(world: World, monkeypatch: pytest.MonkeyPatch, entity: Entity) -> None:
    real_put = world.mappings.put

    def put(mapping: IdMapping) -> Any:
        if mapping.entity is entity:
            monkeypatch.setattr(world.mappings, "put", real_put)
            raise RuntimeError("injected crash before the mapping write")
        return real_put(mapping)

    monkeypatch.setattr(world.mappings, "put", put)


def run(world: World, mode: Mode = Mode.FULL) -> Any:
    return world.reconciler.run(ReconcileJob(LOCATION, mode), account_id=ACCOUNT)


def live(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records.values() if not r.get("deletedAt")]


@pytest.mark.parametrize(
    ("seed", "change"),
    [
        ({"firstName": "Nomail", "lastName": "Person"}, {"firstName": "Renamed"}),  # nothing to match by
        ({"firstName": "Mail", "email": "old@example.com"}, {"email": "new@example.com"}),  # match lost
    ],
)
def test_contact_created_then_crashed_then_changed_is_adopted_not_twinned(
    monkeypatch: pytest.MonkeyPatch, seed: dict[str, Any], change: dict[str, Any]
) -> None:
    world = World()
    ghl = world.ghl.seed_contact(**seed)
    crash_next_mapping_put(world, monkeypatch, Entity.CONTACT)
    with pytest.raises(RuntimeError, match="injected crash"):
        run(world)
    (orphan,) = live(world.rankr.contacts)
    world.ghl.edit_contact(ghl["id"], **change)

    outcome = run(world)

    assert outcome.report.complete and not outcome.report.failures
    assert outcome.report.repaired["contact.missing_in_rankr"] == 1
    (contact,) = live(world.rankr.contacts)  # no twin in Rankr ...
    assert contact["id"] == orphan["id"] and all(contact[k] == v for k, v in change.items())
    assert len(world.ghl.contacts_by_id()) == 1  # ... nor in GHL (the orphan was not seen as Rankr-only)
    mapping = world.mappings.get_by_ghl(LOCATION, Entity.CONTACT, ghl["id"])
    assert mapping is not None and mapping.rankr_id == orphan["id"]
    assert mapping.attributes["matchedBy"] == "idempotency_key"
    actions = Counter(e.action for e in world.audit.entries if e.rankr_id == orphan["id"])
    assert actions[AuditAction.LINK] == 1 and actions[AuditAction.UPDATE] == 1
    assert world.remaining_differences() == []
    assert not run(world).report.differences  # converged: the next run finds nothing


def test_adopted_contact_deleted_in_rankr_meanwhile_follows_the_delete_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World()
    ghl = world.ghl.seed_contact(firstName="Gone", lastName="Soon")
    crash_next_mapping_put(world, monkeypatch, Entity.CONTACT)
    with pytest.raises(RuntimeError, match="injected crash"):
        run(world)
    (orphan,) = live(world.rankr.contacts)
    world.rankr.delete(ACCOUNT, Entity.CONTACT, orphan["id"], None)
    world.ghl.edit_contact(ghl["id"], firstName="Changed")

    outcome = run(world)

    assert outcome.report.complete and not outcome.report.failures
    assert live(world.rankr.contacts) == []  # neither revived nor re-created
    mapping = world.mappings.get_by_ghl(LOCATION, Entity.CONTACT, ghl["id"])
    assert mapping is not None and mapping.rankr_id == orphan["id"]
    assert outcome.report.differences["contact.deleted_in_rankr"] == 1
    assert world.remaining_differences() == []


def test_task_created_then_crashed_then_changed_is_adopted_under_its_contact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World()
    ghl_contact, rankr_contact = world.mirrored_pair(1)
    task = world.ghl.seed_task(ghl_contact, title="Call back", dueDate="2025-05-01T00:00:00.000Z")
    crash_next_mapping_put(world, monkeypatch, Entity.TASK)
    with pytest.raises(RuntimeError, match="injected crash"):
        run(world)
    (orphan,) = live(world.rankr.tasks)
    world.ghl.tasks[task["id"]]["title"] = "Call back tomorrow"

    outcome = run(world)

    assert outcome.report.complete and not outcome.report.failures
    (adopted,) = live(world.rankr.tasks)
    assert adopted["id"] == orphan["id"] and adopted["title"] == "Call back tomorrow"
    assert adopted["contactId"] == rankr_contact
    mapping = world.mappings.get_by_ghl(LOCATION, Entity.TASK, task["id"])
    assert mapping is not None and mapping.rankr_id == orphan["id"]
    assert (mapping.ghl_parent_id, mapping.rankr_parent_id) == (ghl_contact, rankr_contact)
    assert world.remaining_differences() == []


def test_note_created_then_crashed_then_changed_is_adopted(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    ghl_contact, rankr_contact = world.mirrored_pair(1)
    world.clock.now = world.clock.now.replace(minute=30)  # the seeding lies before the overlap window
    run(world)
    world.ghl.edit_contact(ghl_contact, firstName="Inc")  # a changed contact: its notes are compared
    note = world.ghl.seed_note(ghl_contact, body="Called, left a message")
    crash_next_mapping_put(world, monkeypatch, Entity.NOTE)
    with pytest.raises(RuntimeError, match="injected crash"):
        run(world, Mode.INCREMENTAL)
    (orphan,) = live(world.rankr.notes)
    world.ghl.notes[note["id"]]["body"] = "Called, they call back Monday"

    outcome = run(world, Mode.INCREMENTAL)  # the redelivered job resumes the crashed run

    assert outcome.report.complete and not outcome.report.failures
    (adopted,) = live(world.rankr.notes)
    assert adopted["id"] == orphan["id"] and adopted["body"] == "Called, they call back Monday"
    mapping = world.mappings.get_by_ghl(LOCATION, Entity.NOTE, note["id"])
    assert mapping is not None and mapping.rankr_id == orphan["id"]
    assert mapping.rankr_parent_id == rankr_contact


@pytest.mark.parametrize("same_body", [True, False], ids=["replayed", "adopted_from_409"])
def test_a_contact_the_webhook_worker_created_then_crashed_on_is_not_twinned(same_body: bool) -> None:
    """The worker's create key is reconcile's (`ghl_mirror_key`): Rankr replays the worker's record,
    or names it in its 409 when the bodies differ, and reconcile maps that record."""
    from rankr_ghl.rankr.keys import ghl_mirror_key

    world = World()
    ghl = world.ghl.seed_contact(firstName="Nomail", lastName="Person")
    # What the worker wrote before it died (no mapping, no ledger): the same body reconcile would send,
    # or an older state of the contact.
    worker_body = {"firstName": "Nomail", "lastName": "Person", "source": "GoHighLevel"}
    if not same_body:
        worker_body["firstName"] = "Older"
    key = ghl_mirror_key(Entity.CONTACT.value, LOCATION, ghl["id"])
    orphan = world.rankr.create(ACCOUNT, Entity.CONTACT, worker_body, None, key)

    outcome = run(world)

    assert outcome.report.complete and not outcome.report.failures
    (contact,) = live(world.rankr.contacts)
    assert contact["id"] == orphan["id"] and contact["firstName"] == "Nomail"
    ghl_contact = world.ghl.contacts_by_id()[ghl["id"]]
    assert ghl_contact["firstName"] == "Nomail"  # GHL's state wins, not the orphan's
    mapping = world.mappings.get_by_ghl(LOCATION, Entity.CONTACT, ghl["id"])
    assert mapping is not None and mapping.rankr_id == orphan["id"]
    assert world.remaining_differences() == []
