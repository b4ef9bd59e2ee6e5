"""InboundProcessor on in-memory stores and small fakes of GHL and Rankr (wire-format dicts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import InMemoryAuditLog, InMemoryLedgerAudit, InMemorySyncState
from fakes.connections import FakeConnectionLookup
from fakes.ghl import FakeGhlRecords
from fakes.rankr import FakeRankrRecords
from rankr_ghl.connections.models import ConnectionStatus
from rankr_ghl.flows.inbound import InboundProcessor
from rankr_ghl.ghl.errors import GHLServerError
from rankr_ghl.sync.ledger_entries import ledger_entry
from rankr_ghl.sync.mapping import default_mapping
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import AuditAction, IdMapping
from rankr_ghl.sync.types import Entity, Side

LOC = "loc00000000000000001"
ACCOUNT = "acct-1"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeLifecycle:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str | None]] = []

    def handle_install(self, *, location_id: str | None, company_id: str | None, **_: Any) -> list[Any]:
        self.calls.append(("install", location_id, company_id))
        return []

    def handle_uninstall(self, *, location_id: str | None, company_id: str | None, **_: Any) -> list[str]:
        self.calls.append(("uninstall", location_id, company_id))
        return []


@dataclass
class World:
    processor: InboundProcessor
    ghl: FakeGhlRecords
    rankr: FakeRankrRecords
    state: InMemorySyncState
    audit: InMemoryAuditLog
    connections: FakeConnectionLookup
    lifecycle: FakeLifecycle

    def event(self, event_type: str, correlation_id: str = "corr-x", **event: Any) -> Any:
        message = {
            "v": 1,
            "eventType": event_type,
            "locationId": LOC,
            "correlationId": correlation_id,
            "event": {"type": event_type, "locationId": LOC, **event},
        }
        return self.processor.process(message)


@pytest.fixture
def world() -> World:
    ghl, rankr, state, audit = FakeGhlRecords(), FakeRankrRecords(), InMemorySyncState(), InMemoryAuditLog()
    connections, lifecycle = FakeConnectionLookup(), FakeLifecycle()
    connections.add(LOC)
    processor = InboundProcessor(
        ghl=ghl,
        rankr=rankr,
        connections=connections,
        lifecycle=lifecycle,
        mappings=state.mappings,
        ledger=state.ledger,
        tombstones=state.tombstones,
        audit=audit,
        mapping_resolver=MappingResolver(state.mapping_config),
        mirror_reads=state.mirror_reads,
        ledger_audit=InMemoryLedgerAudit(state.ledger, audit),
    )
    return World(processor, ghl, rankr, state, audit, connections, lifecycle)


def ghl_contact(contact_id: str = "c1", **fields: Any) -> dict[str, Any]:
    record = {
        "id": contact_id,
        "locationId": LOC,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@example.com",
        "phone": "+15555550123",
        "tags": ["vip"],
        "source": "web",
        "dateUpdated": _now(),
    }
    record.update(fields)
    return record


# --------------------------------------------------------------------------------------------- contacts
def test_contact_update_creates_rankr_contact_mapping_ledger_audit(world: World) -> None:
    world.ghl.put(LOC, ghl_contact())
    result = world.event("ContactUpdate", id="c1", firstName="IGNORED payload value")
    assert (result.outcome, result.reason) == ("written", "created")
    (contact,) = world.rankr.live(Entity.CONTACT)
    assert contact["firstName"] == "Ada"  # current GHL state, not the payload
    assert contact["email"] == "ada@example.com"
    mapping = world.state.mappings.get_by_ghl(LOC, Entity.CONTACT, "c1")
    assert mapping is not None and mapping.rankr_id == contact["id"]
    assert world.state.ledger.get(LOC, Entity.CONTACT, Side.RANKR, contact["id"]) is not None
    (entry,) = world.audit.by_action(AuditAction.CREATE)
    assert entry.correlation_id == "corr-x" and entry.ghl_id == "c1" and "email" in entry.fields


def test_same_event_twice_writes_once(world: World) -> None:
    world.ghl.put(LOC, ghl_contact())
    world.event("ContactCreate", id="c1")
    second = world.event("ContactCreate", id="c1")
    assert second.outcome == "in_sync"
    assert len(world.rankr.writes) == 1


def test_real_edit_updates_mapped_contact(world: World) -> None:
    world.ghl.put(LOC, ghl_contact())
    world.event("ContactCreate", id="c1")
    world.ghl.put(LOC, ghl_contact(lastName="Byron", tags=["vip", "poet"]))
    result = world.event("ContactTagUpdate", id="c1")
    assert (result.outcome, result.reason) == ("written", "updated")
    (contact,) = world.rankr.live(Entity.CONTACT)
    assert contact["lastName"] == "Byron" and sorted(contact["tags"]) == ["poet", "vip"]
    assert [w[0] for w in world.rankr.writes] == ["create", "update"]


def test_echo_of_our_own_ghl_write_is_skipped_then_real_edit_syncs(world: World) -> None:
    # The connector created Rankr contact r1 <-> GHL c9 (lead push) and wrote this state to GHL.
    em = default_mapping().contact
    world.rankr.records[(Entity.CONTACT, "r1")] = {
        "id": "r1", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
        "phone": "+15555550123", "tags": ["vip"], "source": "web", "createdAt": _now(), "updatedAt": _now(),
        "deletedAt": None,
    }  # fmt: skip
    world.state.mappings.put(IdMapping(LOC, Entity.CONTACT, "c9", "r1", account_id=ACCOUNT))
    world.ghl.put(LOC, ghl_contact("c9"))
    written = em.from_ghl(world.ghl.locations[LOC].contacts["c9"])
    world.state.ledger.put(ledger_entry(LOC, Entity.CONTACT, Side.GHL, "c9", canonical=written, mapping=em))
    world.state.ledger.put(
        ledger_entry(LOC, Entity.CONTACT, Side.RANKR, "r1", canonical=written, mapping=em, origin="observed")
    )

    echo = world.event("ContactCreate", id="c9")
    assert echo.outcome == "echo"
    assert world.rankr.writes == []
    assert len(world.rankr.live(Entity.CONTACT)) == 1

    world.ghl.put(LOC, ghl_contact("c9", phone="+15555550199"))
    real = world.event("ContactUpdate", id="c9")
    assert real.outcome == "written"
    assert world.rankr.records[(Entity.CONTACT, "r1")]["phone"] == "+15555550199"
    assert len(world.rankr.live(Entity.CONTACT)) == 1


def test_delete_then_late_update_does_not_resurrect(world: World) -> None:
    world.ghl.put(LOC, ghl_contact())
    world.event("ContactCreate", id="c1")
    world.ghl.delete_contact(LOC, "c1")
    deleted = world.event("ContactDelete", id="c1")
    assert deleted.outcome == "deleted"
    assert world.rankr.live(Entity.CONTACT) == []
    assert world.state.tombstones.is_tombstoned(LOC, Side.GHL, Entity.CONTACT, "c1")
    late = world.event("ContactUpdate", id="c1")
    assert (late.outcome, late.reason) == ("skipped", "tombstoned")
    assert [w[0] for w in world.rankr.writes] == ["create", "delete"]


def test_update_that_finds_contact_gone_soft_deletes(world: World) -> None:
    world.ghl.put(LOC, ghl_contact())
    world.event("ContactCreate", id="c1")
    world.ghl.delete_contact(LOC, "c1")
    result = world.event("ContactUpdate", id="c1")
    assert (result.outcome, result.reason) == ("deleted", "ghl_not_found")
    assert world.rankr.live(Entity.CONTACT) == []


@pytest.mark.parametrize(
    ("status", "account", "reason"),
    [
        (ConnectionStatus.PAUSED, ACCOUNT, "connection_paused"),
        (ConnectionStatus.UNINSTALLED, ACCOUNT, "connection_uninstalled"),
        (ConnectionStatus.NEEDS_REAUTH, ACCOUNT, "connection_needs_reauth"),
        (ConnectionStatus.ACTIVE, None, "unlinked"),
    ],
)
def test_inactive_or_unlinked_connection_is_skipped_without_calls(
    world: World, status: ConnectionStatus, account: str | None, reason: str
) -> None:
    world.connections.add(LOC, status, account)
    world.ghl.put(LOC, ghl_contact())
    result = world.event("ContactUpdate", id="c1")
    assert (result.outcome, result.reason) == ("skipped", reason)
    assert world.ghl.calls == [] and world.rankr.writes == []


def test_unknown_location_is_skipped(world: World) -> None:
    world.connections.items.clear()
    assert world.event("ContactUpdate", id="c1").reason == "not_connected"


def test_retryable_ghl_error_propagates_and_is_audited(world: World) -> None:
    world.ghl.fail_with = GHLServerError("unavailable", status=503)
    message = {"v": 1, "eventType": "ContactUpdate", "locationId": LOC, "correlationId": "c-9",
               "event": {"type": "ContactUpdate", "locationId": LOC, "id": "c1"}}  # fmt: skip
    with pytest.raises(GHLServerError):
        world.processor.process(message)
    world.processor.record_failure(message, world.ghl.fail_with)
    (entry,) = world.audit.by_action(AuditAction.FAILURE)
    assert entry.correlation_id == "c-9" and entry.reason == "GHLServerError"


# ------------------------------------------------------------------------------------------------ tasks
def test_task_create_without_contact_id_uses_search_and_mirrors_parent_first(world: World) -> None:
    world.ghl.put(LOC, ghl_contact())
    world.ghl.tasks["t1"] = {"id": "t1", "contactId": "c1", "title": "Call back", "body": "re: quote",
                             "dueDate": "2026-03-01T10:00:00Z", "completed": False}  # fmt: skip
    result = world.event("TaskCreate", id="t1")
    assert result.outcome == "written"
    assert ("find_task_contact", LOC) in world.ghl.calls
    (contact,) = world.rankr.live(Entity.CONTACT)
    (task,) = world.rankr.live(Entity.TASK)
    assert task["title"] == "Call back" and task["contactId"] == contact["id"]
    mapping = world.state.mappings.get_by_ghl(LOC, Entity.TASK, "t1")
    assert mapping is not None and mapping.rankr_parent_id == contact["id"] and mapping.ghl_parent_id == "c1"


def test_task_complete_then_delete(world: World) -> None:
    world.ghl.put(LOC, ghl_contact())
    world.ghl.tasks["t1"] = {"id": "t1", "contactId": "c1", "title": "Call", "completed": False}
    world.event("TaskCreate", id="t1", contactId="c1")
    world.ghl.tasks["t1"]["completed"] = True
    assert world.event("TaskComplete", id="t1", contactId="c1").outcome == "written"
    (task,) = world.rankr.live(Entity.TASK)
    assert task["completed"] is True
    assert world.event("TaskDelete", id="t1", contactId="c1").outcome == "deleted"
    assert world.rankr.live(Entity.TASK) == []


# ------------------------------------------------------------------------------------------------ notes
def test_note_create_update_delete(world: World) -> None:
    world.ghl.put(LOC, ghl_contact())
    world.ghl.notes["n1"] = {"id": "n1", "contactId": "c1", "body": "first"}
    assert world.event("NoteCreate", id="n1", contactId="c1").reason == "created"
    world.ghl.notes["n1"]["body"] = "second"
    assert world.event("NoteUpdate", id="n1", contactId="c1").reason == "updated"
    (note,) = world.rankr.live(Entity.NOTE)
    assert note["body"] == "second"
    assert world.event("NoteDelete", id="n1", contactId="c1").outcome == "deleted"
    assert world.rankr.live(Entity.NOTE) == []


def test_note_without_contact_is_skipped(world: World) -> None:
    assert world.event("NoteCreate", id="n404").reason == "missing_contact"


def test_note_whose_rankr_contact_is_gone_is_skipped_not_retried(world: World) -> None:
    """A mapped contact whose Rankr record no longer exists: Rankr answers 404 to the child create.
    Retrying cannot help, so the event is skipped and audited instead of cycling to the DLQ."""
    world.ghl.put(LOC, ghl_contact())
    world.state.mappings.put(IdMapping(LOC, Entity.CONTACT, "c1", "rankr-contact-that-never-was"))
    world.ghl.notes["n1"] = {"id": "n1", "contactId": "c1", "body": "hello"}
    result = world.event("NoteCreate", id="n1", contactId="c1")
    assert (result.outcome, result.reason) == ("skipped", "rankr_parent_missing")
    assert world.rankr.live(Entity.NOTE) == []


# ----------------------------------------------------------------------------------------- appointments
APPT = {
    "id": "a1",
    "calendarId": "cal1",
    "contactId": "c1",
    "title": "Consult",
    "appointmentStatus": "confirmed",
    "startTime": "2026-03-01T10:00:00+00:00",
    "endTime": "2026-03-01T10:30:00+00:00",
}


def test_appointment_fetched_and_mirrored(world: World) -> None:
    world.ghl.put(LOC, ghl_contact())
    world.event("ContactCreate", id="c1")
    world.ghl.appointments["a1"] = dict(APPT)
    result = world.event("AppointmentCreate", appointment={"id": "a1"})
    assert result.outcome == "written"
    record = world.rankr.records[(Entity.APPOINTMENT, "a1")]
    assert (
        record["status"] == "confirmed" and record["contactId"] == world.rankr.live(Entity.CONTACT)[0]["id"]
    )


def test_appointment_payload_used_when_fetch_forbidden(world: World) -> None:
    world.ghl.calendar_forbidden = True
    result = world.event("AppointmentUpdate", appointment={**APPT, "appointmentStatus": "cancelled"})
    assert result.outcome == "written"
    assert world.rankr.records[(Entity.APPOINTMENT, "a1")]["status"] == "cancelled"


def test_appointment_with_wrong_documented_type_but_gone_is_deleted(world: World) -> None:
    world.ghl.appointments["a1"] = dict(APPT)
    world.event("AppointmentCreate", appointment={"id": "a1"})
    del world.ghl.appointments["a1"]
    result = world.event("AppointmentCreate", appointment=dict(APPT))  # doc bug: Delete typed as Create
    assert result.outcome == "deleted"
    assert world.rankr.records[(Entity.APPOINTMENT, "a1")]["deletedAt"]


def test_appointment_delete_event(world: World) -> None:
    world.ghl.appointments["a1"] = dict(APPT)
    world.event("AppointmentCreate", appointment={"id": "a1"})
    assert world.event("AppointmentDelete", appointment={"id": "a1"}).outcome == "deleted"
    assert world.rankr.records[(Entity.APPOINTMENT, "a1")]["deletedAt"]


# --------------------------------------------------------------------------------------------- app events
def test_install_and_uninstall_use_connections_lifecycle(world: World) -> None:
    world.processor.process(
        {"v": 1, "eventType": "INSTALL", "companyId": "co1", "event": {"type": "INSTALL", "companyId": "co1"}}
    )
    world.processor.process(
        {
            "v": 1,
            "eventType": "UNINSTALL",
            "locationId": LOC,
            "event": {"type": "UNINSTALL", "locationId": LOC},
        }
    )
    assert world.lifecycle.calls == [("install", None, "co1"), ("uninstall", LOC, None)]
