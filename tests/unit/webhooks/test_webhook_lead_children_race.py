"""A lead's own note and task race the webhook worker: they stay the lead's, and the lead completes.

Lead push writes the lead's note and task in GHL and then maps them to the lead. When GHL applies such
a write but answers with an error (a 422 or a timeout after the write), the push fails retryably with
the note or task written and unmapped, and its NoteCreate / TaskCreate reaches the worker before the
retry. Before the lead's children were claimed, the worker mirrored that task into Rankr as a record of
its own, and every retry of the lead then failed on the mapping (the task was mapped elsewhere): the
lead's push never completed (`children_lost`, and a Rankr twin, in the chaos bench).

Both flows run for real over one set of in-memory stores (the `race` fixture of the lead-claim tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from rankr_ghl.flows.inbound import InboundResult
from rankr_ghl.ghl.errors import GHLUnprocessable
from rankr_ghl.sync.ports import IdMapping
from rankr_ghl.sync.types import Entity
from test_webhook_lead_claims import LOCATION, Race, new_lead, race  # noqa: F401  (the fixture)

# ruff: noqa: F811  (the tests take the imported `race` fixture as their parameter)

CHILDREN = {"note": {"body": "Met at the fair"}, "task": {"title": "Call back", "body": "soon"}}


def applied_then_refused(race: Race, operation: str) -> None:
    """GHL writes the next `operation` (create_note / create_task) and answers 422 anyway."""
    original = getattr(race.ghl, operation)

    def write_then_refuse(location_id: str, contact_id: str, body: Mapping[str, Any]) -> Any:
        setattr(race.ghl, operation, original)  # once
        original(location_id, contact_id, body)
        raise GHLUnprocessable("Unprocessable Entity", status=422, may_have_been_applied=True)

    setattr(race.ghl, operation, write_then_refuse)


def child_event(race: Race, event_type: str, record_id: str, contact_id: str) -> InboundResult:
    message = {
        "v": 1,
        "eventType": event_type,
        "locationId": LOCATION,
        "correlationId": f"corr-{event_type}",
        "event": {"type": event_type, "locationId": LOCATION, "id": record_id, "contactId": contact_id},
    }
    return race.worker.process(message)


def rankr_children(race: Race) -> list[Any]:
    return [w for w in race.rankr.writes if w[1] in (Entity.NOTE, Entity.TASK)]


@pytest.mark.parametrize(
    ("operation", "event_type", "entity"),
    [("create_task", "TaskCreate", Entity.TASK), ("create_note", "NoteCreate", Entity.NOTE)],
)
def test_a_lead_child_written_by_a_failed_attempt_is_not_mirrored_and_the_retry_maps_it(
    race: Race, operation: str, event_type: str, entity: Entity
) -> None:
    lead = new_lead(race, **CHILDREN)
    applied_then_refused(race, operation)
    first = race.push(lead)
    assert first["outcome"] == "failed" and first["error"]["retryable"] is True
    contact_id = race.newest_contact()
    [record_id] = race.ghl.tasks if entity is Entity.TASK else race.ghl.notes

    result = child_event(race, event_type, record_id, contact_id)

    assert result.reason == "pending_lead_push"
    assert rankr_children(race) == []
    retry = race.push(lead)
    assert retry["outcome"] == "created"
    mapping = race.state.mappings.get_by_ghl(LOCATION, entity, record_id)
    assert mapping is not None and mapping.rankr_id == f"L1#lead-{entity.value}"
    assert len(race.ghl.tasks) == 1 and len(race.ghl.notes) == 1  # adopted, never written twice
    assert child_event(race, event_type, record_id, contact_id).reason != "created"
    assert rankr_children(race) == []


def test_a_users_own_note_on_the_leads_contact_is_mirrored_as_usual(race: Race) -> None:
    lead = new_lead(race, **CHILDREN)
    applied_then_refused(race, "create_task")
    race.push(lead)
    contact_id = race.newest_contact()
    note = race.ghl.create_note(LOCATION, contact_id, {"body": "a note a person wrote"})

    assert child_event(race, "NoteCreate", note["id"], contact_id).reason == "created"


def test_a_lead_child_mirrored_before_its_claim_does_not_block_the_lead_for_good(race: Race) -> None:
    """A claim that expired (an abandoned push retried much later): the retry completes the lead."""
    lead = new_lead(race, **CHILDREN)
    applied_then_refused(race, "create_task")
    race.push(lead)
    contact_id = race.newest_contact()
    [task_id] = race.ghl.tasks
    mirrored = IdMapping(
        LOCATION, Entity.TASK, task_id, "rankr-task-1", ghl_parent_id=contact_id, rankr_parent_id="L1"
    )
    race.state.mappings.put(mirrored)

    retry = race.push(lead)

    assert retry["outcome"] == "created"
    assert len(race.ghl.tasks) == 1 and len(race.ghl.notes) == 1


def test_a_lead_whose_contact_reconcile_made_first_still_gets_its_note_and_task_once(race: Race) -> None:
    """Full reconcile creates an unmapped Rankr contact in GHL; that contact is a lead pushed moments
    later. Before, the push took the mapping path and never wrote the lead's note and task."""
    lead = new_lead(race, **CHILDREN)
    contact = race.ghl.create_contact(LOCATION, {"firstName": "Ada", "email": "l1@example.com"})
    race.state.mappings.put(
        IdMapping(LOCATION, Entity.CONTACT, contact["id"], "L1", attributes={"origin": "reconcile"})
    )

    assert race.push(lead)["outcome"] == "updated"
    assert race.push({**lead, "firstName": "Augusta"})["outcome"] == "updated"

    assert [n["body"] for n in race.ghl.notes.values()] == ["Met at the fair"]
    assert [t["title"] for t in race.ghl.tasks.values()] == ["Call back"]
    for entity in (Entity.NOTE, Entity.TASK):
        assert race.state.mappings.get_by_rankr(LOCATION, entity, f"L1#lead-{entity.value}") is not None


def test_a_retry_that_finds_the_contact_an_earlier_attempt_created_still_writes_the_note_and_task(
    race: Race,
) -> None:
    """The earlier invocation's upsert was applied and then it died (a crash or a timeout before the
    mapping write); nothing linked the contact meanwhile. The retry's upsert matches it (`new: false`),
    so the push answers `linked_existing`. Before, it then skipped the lead's note and task for good."""
    lead = new_lead(race, **CHILDREN)
    race.ghl.create_contact(LOCATION, {"firstName": "Ada", "email": "l1@example.com"})

    result = race.push(lead)

    assert result["outcome"] == "linked_existing"
    assert [n["body"] for n in race.ghl.notes.values()] == ["Met at the fair"]
    assert [t["title"] for t in race.ghl.tasks.values()] == ["Call back"]
    assert race.push({**lead, "firstName": "Augusta"})["outcome"] == "updated"
    assert len(race.ghl.notes) == 1 and len(race.ghl.tasks) == 1
