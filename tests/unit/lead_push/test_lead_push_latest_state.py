"""Lead push applies the latest state, always, whatever GHL's unverified behaviour:

- a push whose payload differs from the last one applied is applied, a return to an older one
  included; only a push equal to the last applied one replays;
- a lead's tags, first note and first task are part of its completion: a retry finishes exactly what
  is missing, never writes a child twice, and answers as the first attempt would have;
- the note and task lead push creates are mapped, with a ledger entry, so their webhooks are echoes;
- an ambiguous create resolves without a duplicate under search lag;
- the duplicate lookup sends what the upsert sent; a duplicate refusal of any shape is resolved by a
  lookup; tags are written in one case and found whatever case GHL stores and matches them in.
"""

from __future__ import annotations

from typing import Any

import pytest
from fakes import InMemoryLedgerAudit, InMemoryMirrorReads, InMemoryTombstoneStore
from fakes.connections import FakeConnectionLookup
from fakes.rankr import FakeRankrRecords
from lead_push_world import LOCATION, World
from rankr_ghl.flows.inbound import InboundProcessor
from rankr_ghl.flows.lead_push import lead_tag
from rankr_ghl.sync.types import Entity, Side


def lead(lead_id: str = "L1", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "leadId": lead_id,
        "locationId": LOCATION,
        "firstName": "Ada",
        "email": f"{lead_id.lower()}@example.com",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def only(world: World, event: dict[str, Any]) -> dict[str, Any]:
    [result] = world.service.push(event).results
    return result


def ops(world: World) -> list[str]:
    return [op for op, _ in world.ghl.calls]


# --- the latest payload wins


@pytest.fixture
def reverted(world: World) -> World:
    for first_name in ("Ada", "Augusta", "Ada"):
        result = only(world, lead(firstName=first_name))
        assert result["outcome"] in ("created", "updated")
    return world


def test_pushing_a_then_b_then_a_leaves_a_in_ghl(reverted: World) -> None:
    [contact] = reverted.ghl.contacts()
    assert contact["firstName"] == "Ada"
    assert ops(reverted).count("update") == 2


def test_only_a_push_equal_to_the_last_applied_one_replays(reverted: World) -> None:
    calls = len(reverted.ghl.calls)
    assert only(reverted, lead(firstName="Ada"))["outcome"] == "updated"  # A's stored answer, replayed
    assert len(reverted.ghl.calls) == calls
    assert only(reverted, lead(firstName="Augusta"))["outcome"] == "updated"  # B again: applied
    assert reverted.ghl.contacts()[0]["firstName"] == "Augusta"
    assert only(reverted, lead(firstName="Ada"))["outcome"] == "updated"
    assert reverted.ghl.contacts()[0]["firstName"] == "Ada"


# --- children complete the lead

WITH_CHILDREN = {"tags": ["Hot"], "note": {"body": "Met at the fair"}, "task": {"title": "Call back"}}


@pytest.mark.parametrize("failing", ["add_tags", "create_note", "create_task"])
def test_a_retry_after_a_child_write_failed_finishes_exactly_what_is_missing(
    world: World, failing: str
) -> None:
    world.ghl.faults.append((failing, "500"))
    first = only(world, lead(**WITH_CHILDREN))
    assert first["outcome"] == "failed" and first["error"]["retryable"] is True
    retry = only(world, lead(**WITH_CHILDREN))
    assert retry["outcome"] == "created"  # the push that created the contact, finished
    [contact] = world.ghl.contacts()
    assert contact["tags"] == ["hot"]
    assert contact["notes"] == ["Met at the fair"]
    assert [title for title, _ in contact["tasks"]] == ["Call back"]
    calls = len(world.ghl.calls)
    assert only(world, lead(**WITH_CHILDREN)) == retry  # complete now: replays
    assert len(world.ghl.calls) == calls


def test_a_later_changed_push_writes_no_second_note_or_task(world: World) -> None:
    only(world, lead(**WITH_CHILDREN))
    assert only(world, lead(firstName="Augusta", **WITH_CHILDREN))["outcome"] == "updated"
    [contact] = world.ghl.contacts()
    assert contact["notes"] == ["Met at the fair"] and len(contact["tasks"]) == 1


# --- the lead's note and task are echoes


def test_the_note_and_task_lead_push_creates_are_mapped_with_a_ledger_entry(world: World) -> None:
    result = only(world, lead(**WITH_CHILDREN))
    [note_id] = world.ghl.notes
    [task_id] = world.ghl.tasks
    for entity, ghl_id in ((Entity.NOTE, note_id), (Entity.TASK, task_id)):
        mapping = world.records.mappings.get_by_ghl(LOCATION, entity, ghl_id)
        assert mapping is not None and mapping.ghl_parent_id == result["ghlContactId"]
        assert mapping.rankr_parent_id == "L1"
        assert world.records.ledger.get(LOCATION, entity, Side.GHL, ghl_id) is not None


def test_the_webhooks_of_the_leads_note_and_task_create_no_rankr_records(world: World) -> None:
    result = only(world, lead(**WITH_CHILDREN))
    rankr = FakeRankrRecords()
    rankr.seed(Entity.CONTACT, {"id": "L1", "firstName": "Ada", "email": "l1@example.com"})

    connections = FakeConnectionLookup()
    connections.add(LOCATION, account="acct-1")

    tombstones = InMemoryTombstoneStore()
    worker = InboundProcessor(
        ghl=world.ghl,
        rankr=rankr,
        connections=connections,
        lifecycle=None,  # type: ignore[arg-type]
        mappings=world.records.mappings,
        ledger=world.records.ledger,
        tombstones=tombstones,
        audit=world.records.audit_log,
        mapping_resolver=world.resolver,
        mirror_reads=InMemoryMirrorReads(world.records.mappings, world.records.ledger, tombstones),
        ledger_audit=InMemoryLedgerAudit(world.records.ledger, world.records.audit_log),
    )
    contact_id = result["ghlContactId"]
    [note_id] = world.ghl.notes
    [task_id] = world.ghl.tasks
    for event_type, ghl_id in (("NoteCreate", note_id), ("TaskCreate", task_id)):
        event = {"type": event_type, "locationId": LOCATION, "id": ghl_id, "contactId": contact_id}
        worker.process(
            {"v": 1, "eventType": event_type, "locationId": LOCATION, "correlationId": "c", "event": event}
        )
    assert [w for w in rankr.writes if w[1] in (Entity.NOTE, Entity.TASK)] == []


# --- ambiguous creates under search lag


def test_an_ambiguous_create_is_found_by_its_marker_tag_once_the_search_index_catches_up(
    world: World,
) -> None:
    world.ghl.faults.append(("create", "timeout_created"))
    world.ghl.tag_search_lag = 4  # the created contact shows in tag searches only after 4 more lookups
    result = only(world, lead(email=None, phone=None))
    assert result["outcome"] == "created"
    assert len(world.ghl.contacts()) == 1
    assert ops(world).count("create") == 1
    assert sum(world.timer.slept) < 12.0  # bounded by the configured search-lag wait


# --- GHL variants


def test_the_duplicate_lookup_sends_the_values_the_upsert_sent(world: World) -> None:
    world.ghl.duplicate_lookup_match = "exact"
    world.ghl.faults.append(("upsert", "timeout_created"))
    result = only(world, lead(email="L1@Example.COM", phone="(415) 555-0100"))
    assert result["outcome"] == "created"
    assert len(world.ghl.contacts()) == 1
    upsert = next(body for op, body in world.ghl.bodies if op == "upsert")
    lookup = next(body for op, body in world.ghl.bodies if op == "find_duplicate")
    assert lookup == {"email": upsert["email"], "phone": upsert["phone"]}
    assert lookup == {"email": "l1@example.com", "phone": "+14155550100"}


@pytest.mark.parametrize("shape", ["meta", "no_meta", "409", "422"])
def test_a_duplicate_refusal_of_any_shape_links_the_existing_contact(world: World, shape: str) -> None:
    world.ghl.duplicate_error = shape
    existing = world.ghl.seed(email="l1@example.com", firstName="Old")
    world.ghl.faults.append(("upsert", "500"))
    world.ghl.lookup_lag = 1  # the lookup misses once, so the retry is a create GHL refuses
    result = only(world, lead())
    assert result == {"leadId": "L1", "ghlContactId": existing, "outcome": "linked_existing"}
    assert len(world.ghl.contacts()) == 1
    assert world.ghl.contacts()[0]["firstName"] == "Ada"


def test_a_duplicate_refusal_the_lookup_never_confirms_is_retryable(world: World) -> None:
    world.ghl.duplicate_error = "409"
    world.ghl.seed(email="l1@example.com")
    world.ghl.faults.append(("upsert", "500"))
    world.ghl.lookup_lag = 10
    result = only(world, lead())
    assert result["outcome"] == "failed" and result["error"]["retryable"] is True


@pytest.mark.parametrize("store", ["lower", "preserve"])
@pytest.mark.parametrize("match", ["insensitive", "sensitive"])
def test_tags_are_written_in_one_case_and_the_marker_is_found_again(
    world: World, store: str, match: str
) -> None:
    world.ghl.tags_store, world.ghl.tags_match = store, match
    world.ghl.faults.append(("create", "timeout_created"))
    result = only(world, lead("Lead-A1", email=None, phone=None, tags=["Hot", "hot", "VIP"]))
    assert result["outcome"] == "created"
    [contact] = world.ghl.contacts()
    assert contact["tags"] == ["hot", "vip", lead_tag("Lead-A1")]
    assert lead_tag("Lead-A1") == "rankr-lead:lead-a1"
