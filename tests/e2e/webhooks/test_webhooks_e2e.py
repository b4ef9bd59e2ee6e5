"""GHL-side changes reach Rankr through signed webhook -> gateway -> intake -> FIFO -> worker."""

from __future__ import annotations

from typing import Any

import pytest
from rankr_ghl.connections.models import ConnectionStatus
from rankr_ghl.sync.ledger_entries import ledger_entry
from rankr_ghl.sync.mapping import default_mapping
from rankr_ghl.sync.ports import IdMapping
from rankr_ghl.sync.types import Entity, Side
from webhook_e2e_helpers import WebhookEnv, by_id

pytestmark = pytest.mark.e2e


def example_types(documented_events: dict[str, Any]) -> list[str]:
    """The documented event types (tests/contract/ghl_webhook_events.json), one per example name."""
    by_name = {name.split(".")[0]: event["type"] for name, event in documented_events.items()}
    return [by_name[name] for name in sorted(by_name)]


def _contact(wh: WebhookEnv, location_id: str, **fields: Any) -> str:
    base = {"firstName": "Grace", "lastName": "Hopper", "email": f"g{location_id[-6:]}@example.com"}
    return str(wh.ghl.admin.create(location_id, "contact", {**base, **fields}, emit_webhook=False)["id"])


def _emit(
    wh: WebhookEnv, event_type: str, location_id: str, entity_id: str | None = None, **payload: Any
) -> None:
    wh.ghl.admin.emit(event_type, location_id=location_id, entity_id=entity_id, payload=payload or None)


def _synced_contact(
    wh: WebhookEnv, location_id: str, account_id: str, **fields: Any
) -> tuple[str, dict[str, Any]]:
    contact_id = _contact(wh, location_id, **fields)
    _emit(wh, "ContactCreate", location_id, contact_id)
    wh.settle()
    (contact,) = wh.rankr_state(account_id)["contacts"]
    return contact_id, contact


def _prepare_and_emit(wh: WebhookEnv, event_type: str, location_id: str, account_id: str) -> None:
    """Put the GHL sandbox in the state the event describes, then let it emit that (signed) event."""
    admin = wh.ghl.admin
    if event_type in {"INSTALL", "UNINSTALL"}:
        _emit(wh, event_type, location_id)
        return
    if event_type == "ContactCreate":
        _emit(wh, event_type, location_id, _contact(wh, location_id))
        return
    contact_id, _ = _synced_contact(wh, location_id, account_id)
    if event_type == "ContactUpdate":
        admin.edit(location_id, "contact", contact_id, {"lastName": "Murray"}, emit_webhook=False)
        _emit(wh, event_type, location_id, contact_id)
    elif event_type == "ContactTagUpdate":
        admin.edit(location_id, "contact", contact_id, {"tags": ["navy", "cobol"]}, emit_webhook=False)
        _emit(wh, event_type, location_id, contact_id)
    elif event_type == "ContactDndUpdate":
        admin.edit(location_id, "contact", contact_id, {"dnd": True, "lastName": "DND"}, emit_webhook=False)
        _emit(wh, event_type, location_id, contact_id)
    elif event_type == "ContactDelete":
        admin.delete(location_id, "contact", contact_id, emit_webhook=False)
        _emit(wh, event_type, location_id, id=contact_id)
    elif event_type.startswith("Task"):
        fields = {"title": "Compile", "dueDate": "2026-05-01T09:00:00Z", "completed": False}
        task = admin.create(location_id, "task", fields, contact_id=contact_id, emit_webhook=False)
        if event_type == "TaskComplete":
            admin.edit(
                location_id,
                "task",
                task["id"],
                {"completed": True},
                contact_id=contact_id,
                emit_webhook=False,
            )
        if event_type == "TaskDelete":
            _emit(wh, "TaskCreate", location_id, task["id"])
            wh.settle()
            admin.delete(location_id, "task", task["id"], contact_id=contact_id, emit_webhook=False)
            _emit(wh, event_type, location_id, id=task["id"], contactId=contact_id)
        else:
            # TaskCreate without contactId: the worker must find it with the location task search.
            _emit(
                wh, event_type, location_id, task["id"], contactId=None
            ) if event_type == "TaskCreate" else _emit(wh, event_type, location_id, task["id"])
    elif event_type.startswith("Note"):
        note = admin.create(
            location_id, "note", {"body": "first draft"}, contact_id=contact_id, emit_webhook=False
        )
        _emit(wh, "NoteCreate", location_id, note["id"])
        wh.settle()
        if event_type == "NoteUpdate":
            admin.edit(
                location_id, "note", note["id"], {"body": "final"}, contact_id=contact_id, emit_webhook=False
            )
            _emit(wh, event_type, location_id, note["id"])
        elif event_type == "NoteDelete":
            admin.delete(location_id, "note", note["id"], contact_id=contact_id, emit_webhook=False)
            _emit(wh, event_type, location_id, id=note["id"], contactId=contact_id)
    elif event_type.startswith("Appointment"):
        appt = admin.create(
            location_id,
            "appointment",
            {"title": "Review", "startTime": "2026-05-02T10:00:00Z", "endTime": "2026-05-02T10:30:00Z",
             "appointmentStatus": "confirmed"},
            contact_id=contact_id,
            emit_webhook=False,
        )  # fmt: skip
        appt_id = appt.get("id") or appt["appointment"]["id"]
        _emit(wh, "AppointmentCreate", location_id, appt_id)
        wh.settle()
        if event_type == "AppointmentUpdate":
            admin.edit(
                location_id, "appointment", appt_id, {"appointmentStatus": "cancelled"}, emit_webhook=False
            )
            _emit(wh, event_type, location_id, appt_id)
        elif event_type == "AppointmentDelete":
            admin.delete(location_id, "appointment", appt_id, emit_webhook=False)
            _emit(wh, event_type, location_id, appointment={"id": appt_id})
    else:  # pragma: no cover - a new example file needs a case here
        pytest.fail(f"no scenario for {event_type}")


def _assert_final_state(wh: WebhookEnv, event_type: str, location_id: str, account_id: str) -> None:
    state = wh.rankr_state(account_id)
    ghl = wh.ghl.admin.state(location_id)
    live = [c for c in state["contacts"] if not c.get("deletedAt")]
    if event_type == "INSTALL":
        connection = wh.connections().get(location_id)
        assert connection is not None and connection.status is ConnectionStatus.ACTIVE
    elif event_type == "UNINSTALL":
        connection = wh.connections().get(location_id)
        assert connection is not None and connection.status is ConnectionStatus.UNINSTALLED
    elif event_type == "ContactCreate":
        (contact,) = live
        assert (contact["firstName"], contact["lastName"]) == ("Grace", "Hopper")
    elif event_type == "ContactUpdate":
        assert [c["lastName"] for c in live] == ["Murray"]
    elif event_type == "ContactTagUpdate":
        assert sorted(live[0]["tags"]) == ["cobol", "navy"]
    elif event_type == "ContactDndUpdate":
        assert [c["lastName"] for c in live] == ["DND"]
    elif event_type == "ContactDelete":
        assert live == [] and len(state["contacts"]) == 1
    elif event_type in {"TaskCreate", "TaskComplete"}:
        (task,) = state["tasks"]
        assert task["title"] == "Compile" and task["contactId"] == live[0]["id"]
        assert task["completed"] is (event_type == "TaskComplete")
    elif event_type == "TaskDelete":
        (task,) = state["tasks"]
        assert task["deletedAt"]
    elif event_type in {"NoteCreate", "NoteUpdate"}:
        (note,) = state["notes"]
        assert note["body"] == ("final" if event_type == "NoteUpdate" else "first draft")
    elif event_type == "NoteDelete":
        (note,) = state["notes"]
        assert note["deletedAt"]
    elif event_type in {"AppointmentCreate", "AppointmentUpdate"}:
        (appt,) = state["appointments"]
        assert appt["status"] == ("cancelled" if event_type == "AppointmentUpdate" else "confirmed")
        assert appt["contactId"] == live[0]["id"]
    elif event_type == "AppointmentDelete":
        (appt,) = state["appointments"]
        assert appt["deletedAt"]
    assert ghl is not None


def test_every_documented_event_type_reaches_rankr(
    wh: WebhookEnv, ghl_webhook_events: dict[str, Any]
) -> None:
    types = example_types(ghl_webhook_events)
    assert len(types) >= 16, types
    failures: list[str] = []
    for event_type in types:
        location_id, account_id = wh.install_location()
        _prepare_and_emit(wh, event_type, location_id, account_id)
        wh.settle()
        try:
            _assert_final_state(wh, event_type, location_id, account_id)
        except (AssertionError, ValueError, KeyError, IndexError) as exc:
            failures.append(f"{event_type}: {exc!r}")
    assert failures == []
    assert wh.dlq_depth() == 0


def test_same_webhook_id_three_times_writes_rankr_once(wh: WebhookEnv) -> None:
    location_id, account_id = wh.install_location()
    contact_id = _contact(wh, location_id)
    wh.rankr.admin.reset_stats()
    envelope = wh.ghl.admin.emit("ContactCreate", location_id=location_id, entity_id=contact_id)
    wh.ghl.admin.resend(envelope["webhookId"])
    wh.ghl.admin.resend(envelope["webhookId"])
    wh.settle()
    deliveries = [d for d in wh.ghl.admin.webhook_log() if d["webhookId"] == envelope["webhookId"]]
    assert len(deliveries) == 3 and all(
        d["status"] in (200, 202, "delivered") or d["status"] for d in deliveries
    )
    assert len(wh.rankr_state(account_id)["contacts"]) == 1
    assert wh.rankr_writes() == 1


def test_update_and_delete_in_reverse_order_end_deleted(wh: WebhookEnv) -> None:
    location_id, account_id = wh.install_location()
    contact_id, _ = _synced_contact(wh, location_id, account_id)
    admin = wh.ghl.admin
    admin.edit(location_id, "contact", contact_id, {"lastName": "Later"}, emit_webhook=False)
    update_payload = admin.emit("ContactUpdate", location_id=location_id, entity_id=contact_id)
    wh.settle()
    admin.delete(location_id, "contact", contact_id, emit_webhook=False)
    # Delivered out of order: the delete first, then a (stale) update for the same contact.
    _emit(wh, "ContactDelete", location_id, id=contact_id)
    wh.settle()
    stale = {k: v for k, v in update_payload.items() if k not in {"webhookId", "timestamp"}}
    admin.emit("ContactUpdate", location_id=location_id, payload=stale)
    wh.settle()
    (contact,) = wh.rankr_state(account_id)["contacts"]
    assert contact["deletedAt"], contact


def test_echo_of_connector_write_causes_no_rankr_write_and_real_edit_syncs(wh: WebhookEnv) -> None:
    location_id, account_id = wh.install_location()
    # The connector (lead push) created both sides and recorded its GHL write in the ledger.
    ghl_id = _contact(wh, location_id, email="echo@example.com")
    ghl_record = next(c for c in wh.ghl.admin.state(location_id)["contacts"] if c["id"] == ghl_id)
    rankr = wh.rankr.admin.create(
        account_id, "contact", {"firstName": "Grace", "lastName": "Hopper", "email": "echo@example.com"}
    )
    state = wh.sync_state()
    state.mappings.put(IdMapping(location_id, Entity.CONTACT, ghl_id, rankr["id"], account_id=account_id))
    em = default_mapping().contact
    ghl_canonical = em.from_ghl(ghl_record)
    state.ledger.put(
        ledger_entry(location_id, Entity.CONTACT, Side.GHL, ghl_id, canonical=ghl_canonical, mapping=em)
    )
    state.ledger.put(
        ledger_entry(
            location_id, Entity.CONTACT, Side.RANKR, rankr["id"], canonical=em.from_rankr(rankr), mapping=em,
            origin="observed",
        )
    )  # fmt: skip
    wh.rankr.admin.reset_stats()

    _emit(wh, "ContactCreate", location_id, ghl_id)
    _emit(wh, "ContactUpdate", location_id, ghl_id)
    wh.settle()
    assert wh.rankr_writes() == 0
    assert len(wh.rankr_state(account_id)["contacts"]) == 1

    wh.ghl.admin.edit(location_id, "contact", ghl_id, {"lastName": "Hopper-Murray"})  # a person edits in GHL
    wh.settle()
    (contact,) = wh.rankr_state(account_id)["contacts"]
    assert contact["lastName"] == "Hopper-Murray"
    assert wh.rankr_writes() == 1
    assert by_id(wh.rankr_state(account_id)["contacts"], id=rankr["id"])
