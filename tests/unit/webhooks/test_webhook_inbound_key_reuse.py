"""A create that succeeded in Rankr, lost its mapping write (crash) and is retried after the GHL record
changed: the deterministic Idempotency-Key now comes with another body and Rankr answers 409
`idempotency-key-reused` naming the record it created. The worker must adopt that record (map it, then
update it to the current state), never create a twin, and never dead-letter the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from rankr_ghl.rankr.errors import RankrIdempotencyKeyReused, error_for_status
from rankr_ghl.sync.ports import AuditAction, IdMapping
from rankr_ghl.sync.types import Entity, Side
from test_webhook_inbound import ACCOUNT, LOC, World, ghl_contact, world  # noqa: F401 - `world` is a fixture


class Crash(Exception):
    """The Lambda died between Rankr's create and the mapping write."""


def crash_next_mapping_put(target: World, monkeypatch: pytest.MonkeyPatch) -> None:
    mappings = target.state.mappings
    real_put = mappings.put

    def put_once(mapping: IdMapping) -> Any:
        monkeypatch.setattr(mappings, "put", real_put)
        raise Crash("killed before the mapping write")

    monkeypatch.setattr(mappings, "put", put_once)


def crashed_create(target: World, monkeypatch: pytest.MonkeyPatch, event_type: str, **event: Any) -> None:
    crash_next_mapping_put(target, monkeypatch)
    with pytest.raises(Crash):
        target.event(event_type, **event)  # SQS will redeliver it


def test_retry_after_crash_with_changed_contact_adopts_and_updates_it(
    world: World,  # noqa: F811 - the imported fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world.ghl.put(LOC, ghl_contact())
    crashed_create(world, monkeypatch, "ContactCreate", id="c1")
    (orphan,) = world.rankr.live(Entity.CONTACT)
    assert world.state.mappings.get_by_ghl(LOC, Entity.CONTACT, "c1") is None
    world.ghl.put(LOC, ghl_contact(firstName="Augusta", tags=["vip", "poet"]))

    result = world.event("ContactUpdate", id="c1")

    assert (result.outcome, result.reason, result.rankr_id) == ("written", "updated", orphan["id"])
    (contact,) = world.rankr.live(Entity.CONTACT)  # no twin
    assert contact["id"] == orphan["id"]
    assert contact["firstName"] == "Augusta" and sorted(contact["tags"]) == ["poet", "vip"]
    assert [w[0] for w in world.rankr.writes] == ["create", "update"]
    mapping = world.state.mappings.get_by_ghl(LOC, Entity.CONTACT, "c1")
    assert mapping is not None and (mapping.rankr_id, mapping.account_id) == (orphan["id"], ACCOUNT)
    assert world.state.ledger.get(LOC, Entity.CONTACT, Side.RANKR, orphan["id"]) is not None
    (entry,) = world.audit.by_action(AuditAction.UPDATE)
    assert entry.rankr_id == orphan["id"] and set(entry.fields) == {"first_name", "tags"}  # what changed
    # The ledger now knows the adopted record: the next delivery of the same state writes nothing.
    assert world.event("ContactUpdate", id="c1").outcome == "in_sync"
    assert len(world.rankr.writes) == 2


def test_retry_after_crash_with_unchanged_contact_replays_the_create(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world.ghl.put(LOC, ghl_contact())
    crashed_create(world, monkeypatch, "ContactCreate", id="c1")
    result = world.event("ContactCreate", id="c1")
    assert (result.outcome, result.reason) == ("written", "created")
    (contact,) = world.rankr.live(Entity.CONTACT)
    assert result.rankr_id == contact["id"] and [w[0] for w in world.rankr.writes] == ["create"]


@pytest.mark.parametrize(
    ("entity", "event_type", "update_type", "record", "changed"),
    [
        (
            Entity.TASK,
            "TaskCreate",
            "TaskComplete",
            {"title": "Call", "completed": False},
            {"completed": True},
        ),
        (Entity.NOTE, "NoteCreate", "NoteUpdate", {"body": "first"}, {"body": "second"}),
    ],
)
def test_task_and_note_retries_adopt_the_record_under_the_same_contact(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    entity: Entity,
    event_type: str,
    update_type: str,
    record: dict[str, Any],
    changed: dict[str, Any],
) -> None:
    store = world.ghl.tasks if entity is Entity.TASK else world.ghl.notes
    world.ghl.put(LOC, ghl_contact())
    world.event("ContactCreate", id="c1")
    (contact,) = world.rankr.live(Entity.CONTACT)
    store["x1"] = {"id": "x1", "contactId": "c1", **record}
    crashed_create(world, monkeypatch, event_type, id="x1", contactId="c1")
    store["x1"].update(changed)

    result = world.event(update_type, id="x1", contactId="c1")

    (child,) = world.rankr.live(entity)
    assert (result.outcome, result.rankr_id) == ("written", child["id"])
    assert child["contactId"] == contact["id"] and all(child[k] == v for k, v in changed.items())
    mapping = world.state.mappings.get_by_ghl(LOC, entity, "x1")
    assert mapping is not None and mapping.rankr_id == child["id"]
    assert (mapping.rankr_parent_id, mapping.ghl_parent_id) == (contact["id"], "c1")
    assert [w[0] for w in world.rankr.writes if w[1] is entity] == ["create", "update"]


def test_adopted_record_deleted_in_rankr_is_mapped_but_not_resurrected(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world.ghl.put(LOC, ghl_contact())
    crashed_create(world, monkeypatch, "ContactCreate", id="c1")
    (orphan,) = world.rankr.live(Entity.CONTACT)
    world.rankr.delete(ACCOUNT, Entity.CONTACT, orphan["id"], None)  # someone deleted it in Rankr
    world.ghl.put(LOC, ghl_contact(firstName="Augusta"))

    result = world.event("ContactUpdate", id="c1")

    assert (result.outcome, result.reason, result.rankr_id) == ("skipped", "rankr_deleted", orphan["id"])
    assert world.rankr.live(Entity.CONTACT) == []  # neither revived nor re-created
    assert [w[0] for w in world.rankr.writes] == ["create", "delete"]
    mapping = world.state.mappings.get_by_ghl(LOC, Entity.CONTACT, "c1")
    assert mapping is not None and mapping.rankr_id == orphan["id"]


def test_adoption_that_loses_the_link_race_deletes_the_adopted_twin(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world.ghl.put(LOC, ghl_contact())
    crashed_create(world, monkeypatch, "ContactCreate", id="c1")
    (orphan,) = world.rankr.live(Entity.CONTACT)
    lead = world.rankr.create(ACCOUNT, Entity.CONTACT, {"firstName": "Ada"}, None, "lead-key")
    world.ghl.put(LOC, ghl_contact(firstName="Augusta"))
    mappings = world.state.mappings
    real_get = mappings.get_by_ghl
    reads: list[str] = []

    def stale_first_read(location_id: str, entity: Entity, ghl_id: str) -> Any:
        reads.append(ghl_id)
        if len(reads) == 1:  # the worker read before lead push linked c1 to its lead ...
            mappings.put(IdMapping(LOC, Entity.CONTACT, "c1", lead["id"]))
            return None
        return real_get(location_id, entity, ghl_id)

    monkeypatch.setattr(mappings, "get_by_ghl", stale_first_read)
    result = world.event("ContactUpdate", id="c1")

    assert (result.outcome, result.reason, result.rankr_id) == ("skipped", "mapping_conflict", orphan["id"])
    assert [r["id"] for r in world.rankr.live(Entity.CONTACT)] == [lead["id"]]
    assert real_get(LOC, Entity.CONTACT, "c1").rankr_id == lead["id"]


class RankrWithoutResourceId:
    """A Rankr whose 409 does not name the record (the problem member is optional to parse)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def create(
        self, account_id: str, entity: Entity, body: Mapping[str, Any], parent_id: str | None, key: str
    ) -> dict[str, Any]:
        problem = {"type": "https://rankr.example/problems/idempotency-key-reused", "title": "Conflict"}
        raise error_for_status(409, problem, method="POST")


def test_key_reused_without_resource_id_is_not_swallowed(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(world.processor, "_rankr", RankrWithoutResourceId(world.rankr))
    world.ghl.put(LOC, ghl_contact())
    with pytest.raises(RankrIdempotencyKeyReused) as raised:
        world.event("ContactCreate", id="c1")
    assert raised.value.resource_id is None
    assert world.state.mappings.get_by_ghl(LOC, Entity.CONTACT, "c1") is None
