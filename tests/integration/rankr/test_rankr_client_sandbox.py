"""RankrClient against the Rankr sandbox over real HTTP: every method, idempotency, soft deletes,
updated_since + cursor paging, retries on injected faults, errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from rankr_ghl.rankr import (
    AppointmentPut,
    ContactCreate,
    ContactUpdate,
    NoteCreate,
    NoteUpdate,
    RankrBadRequest,
    RankrClient,
    RankrConnectionError,
    RankrIdempotencyKeyReused,
    RankrNotFound,
    RankrRateLimited,
    RankrResourceDeleted,
    RankrServerError,
    RankrTimeout,
    RankrUnauthorized,
    RankrValidationError,
    TaskCreate,
    TaskUpdate,
    idempotency_key,
)
from rankr_ghl_tools.rankr_sandbox import RankrSandbox, RankrSandboxConfig

pytestmark = pytest.mark.integration

ACC = "acc_main"
CONTACTS_ROUTE = "POST /v1/accounts/{accountId}/contacts"
LIST_ROUTE = "GET /v1/accounts/{accountId}/contacts"


def new_contact(client: RankrClient, key: str = "k1", **fields: object) -> str:
    return client.create_contact(ACC, ContactCreate(**fields), idempotency_key=key).id  # type: ignore[arg-type]


# ------------------------------------------------------------------ contacts


def test_contact_create_get_patch_delete_round_trip(client: RankrClient, sandbox: RankrSandbox) -> None:
    created = client.create_contact(
        ACC,
        ContactCreate(
            first_name="Ann",
            last_name="Lee",
            email="ann@example.com",
            phone="+1 (555) 010-0000",
            company="Acme",
            source="GHL",
            tags=["vip", "lead"],
            custom_fields={"score": 7, "plan": "pro", "flags": ["a", "b"], "active": True},
        ),
        idempotency_key=idempotency_key("ghl-contact", "loc", "g1", 1),
    )
    assert created.id.startswith("con_") and created.created_at == created.updated_at
    fetched = client.get_contact(ACC, created.id)
    assert fetched == created

    updated = client.update_contact(
        ACC, created.id, ContactUpdate(company=None, tags=["vip"], custom_fields={"score": None, "tier": 2})
    )
    assert updated.company is None and updated.tags == ["vip"] and updated.first_name == "Ann"
    assert updated.custom_fields == {"plan": "pro", "flags": ["a", "b"], "active": True, "tier": 2}
    assert updated.updated_at > created.updated_at

    client.delete_contact(ACC, created.id)
    deleted = client.get_contact(ACC, created.id)
    assert deleted.deleted_at is not None and deleted.updated_at == deleted.deleted_at
    client.delete_contact(ACC, created.id)  # idempotent: no change
    assert client.get_contact(ACC, created.id) == deleted
    with pytest.raises(RankrResourceDeleted):
        client.update_contact(ACC, created.id, ContactUpdate(first_name="Zed"))


def test_noop_patch_is_not_a_write_and_writes_strictly_increase_updated_at(client: RankrClient) -> None:
    contact_id = new_contact(client, first_name="Ann")
    before = client.get_contact(ACC, contact_id)
    assert client.update_contact(ACC, contact_id, ContactUpdate(first_name="Ann")) == before
    stamps = [before.updated_at]
    for i in range(20):  # back-to-back writes land in the same millisecond without the monotonic clock
        stamps.append(client.update_contact(ACC, contact_id, ContactUpdate(last_name=f"v{i}")).updated_at)
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    assert all(s.microsecond % 1000 == 0 for s in stamps)  # millisecond precision


def test_idempotent_create_replays_original_and_rejects_other_body(
    client: RankrClient, sandbox: RankrSandbox
) -> None:
    body = ContactCreate(first_name="Ann", email="ann@example.com")
    first = client.create_contact(ACC, body, idempotency_key="key-1")
    client.update_contact(ACC, first.id, ContactUpdate(first_name="Changed"))
    replay = client.create_contact(ACC, body, idempotency_key="key-1")
    assert replay == first  # the original response, not a second contact
    with pytest.raises(RankrIdempotencyKeyReused):
        client.create_contact(ACC, ContactCreate(first_name="Bob"), idempotency_key="key-1")
    other_account = client.create_contact("acc_other", body, idempotency_key="key-1")
    assert other_account.id != first.id  # keys are scoped per account
    assert len(sandbox.admin.state(ACC)["contacts"]) == 1

    raw = httpx.post(
        f"{sandbox.url}/v1/accounts/{ACC}/contacts",
        json={"firstName": "Ann", "email": "ann@example.com"},
        headers={"Authorization": f"Bearer {sandbox.api_key}", "Idempotency-Key": "key-1"},
    )
    assert raw.status_code == 200 and raw.headers["Idempotent-Replayed"] == "true"
    assert raw.json()["id"] == first.id
    fresh = httpx.post(
        f"{sandbox.url}/v1/accounts/{ACC}/contacts",
        json={},
        headers={"Authorization": f"Bearer {sandbox.api_key}", "Idempotency-Key": "key-2"},
    )
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert fresh.headers["Location"].endswith(fresh.json()["id"])


def test_reused_key_conflict_names_the_record_the_key_created(
    client: RankrClient, sandbox: RankrSandbox
) -> None:
    contact = client.create_contact(ACC, ContactCreate(first_name="Ann"), idempotency_key="adopt-c")
    task = client.create_task(ACC, contact.id, TaskCreate(title="Call"), idempotency_key="adopt-t")
    note = client.create_note(ACC, contact.id, NoteCreate(body="hi"), idempotency_key="adopt-n")
    client.delete_note(ACC, contact.id, note.id)  # still named: soft-deleted records stay addressable

    with pytest.raises(RankrIdempotencyKeyReused) as on_contact:
        client.create_contact(ACC, ContactCreate(first_name="Bob"), idempotency_key="adopt-c")
    with pytest.raises(RankrIdempotencyKeyReused) as on_task:
        client.create_task(ACC, contact.id, TaskCreate(title="Other"), idempotency_key="adopt-t")
    with pytest.raises(RankrIdempotencyKeyReused) as on_note:
        client.create_note(ACC, contact.id, NoteCreate(body="other"), idempotency_key="adopt-n")

    conflicts = [on_contact.value, on_task.value, on_note.value]
    assert [e.resource_id for e in conflicts] == [contact.id, task.id, note.id]
    assert on_task.value.resource_location == f"/v1/accounts/{ACC}/contacts/{contact.id}/tasks/{task.id}"
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    for error in conflicts:  # the location is the record's own URL
        found = httpx.get(f"{sandbox.url}{error.resource_location}", headers=headers)
        assert found.status_code == 200 and found.json()["id"] == error.resource_id
    # The documented recovery: adopt the id and PATCH the new state; no second record exists.
    client.update_contact(ACC, on_contact.value.resource_id or "", ContactUpdate(first_name="Bob"))
    state = sandbox.admin.state(ACC)
    assert [(c["id"], c["firstName"]) for c in state["contacts"]] == [(contact.id, "Bob")]
    assert len(state["tasks"]) == 1 and len(state["notes"]) == 1


def test_create_without_idempotency_key_is_a_400(sandbox: RankrSandbox) -> None:
    response = httpx.post(
        f"{sandbox.url}/v1/accounts/{ACC}/contacts",
        json={"firstName": "Ann"},
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "Idempotency-Key" in response.json()["detail"]
    assert sandbox.admin.state(ACC)["contacts"] == []


def test_soft_deleted_contacts_listing_rules(client: RankrClient) -> None:
    start = datetime.now(UTC) - timedelta(seconds=5)
    keep = new_contact(client, "a", first_name="Keep")
    gone = new_contact(client, "b", first_name="Gone")
    client.delete_contact(ACC, gone)
    assert [c.id for c in client.iter_contacts(ACC)] == [keep]  # default without updated_since: live only
    incremental = list(client.iter_contacts(ACC, updated_since=start))  # default with it: deletions too
    assert [c.id for c in incremental] == [keep, gone] and incremental[1].deleted
    assert {c.id for c in client.iter_contacts(ACC, include_deleted=True)} == {keep, gone}
    assert [c.id for c in client.iter_contacts(ACC, updated_since=start, include_deleted=False)] == [keep]


def test_updated_since_is_inclusive_and_cursor_pages_without_gaps(
    client: RankrClient, sandbox: RankrSandbox
) -> None:
    ids = sandbox.admin.seed(ACC, 1200)
    everything = list(client.iter_contacts(ACC, page_size=500))
    assert sorted(c.id for c in everything) == sorted(ids)
    assert sandbox.admin.stats()["requests"][LIST_ROUTE] == 3

    edited = [
        client.update_contact(ACC, cid, ContactUpdate(company=f"Edited {i}")) for i, cid in enumerate(ids[:7])
    ]
    since = edited[2].updated_at
    changed = list(client.iter_contacts(ACC, updated_since=since, page_size=2))
    assert [c.id for c in changed] == [e.id for e in edited[2:]]  # inclusive, ordered by updatedAt

    first_page = client.list_contacts(ACC, limit=100)
    assert first_page.next_cursor is not None
    moved = client.update_contact(ACC, first_page.items[0].id, ContactUpdate(company="moved while paging"))
    rest = list(first_page.items)
    cursor: str | None = first_page.next_cursor
    while cursor:
        page = client.list_contacts(ACC, cursor=cursor, limit=100)
        rest.extend(page.items)
        cursor = page.next_cursor
    seen = [c.id for c in rest]
    assert set(seen) == set(ids) and seen.count(moved.id) == 2  # a record written while paging is seen again


def test_bad_list_parameters_are_400(sandbox: RankrSandbox, client: RankrClient) -> None:
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    url = f"{sandbox.url}/v1/accounts/{ACC}/contacts"
    for params in (
        {"limit": "501"},
        {"limit": "x"},
        {"updated_since": "yesterday"},
        {"include_deleted": "maybe"},
    ):
        assert httpx.get(url, params=params, headers=headers).status_code == 400, params
    with pytest.raises(RankrBadRequest):
        client.list_contacts(ACC, cursor="not-a-cursor")


def test_validation_errors_name_each_field(client: RankrClient, sandbox: RankrSandbox) -> None:
    with pytest.raises(RankrValidationError) as info:
        client.create_contact(ACC, ContactCreate(email="not-an-email", tags=[""]), idempotency_key="v1")
    assert {e["field"] for e in info.value.errors} == {"email", "tags"}
    response = httpx.post(
        f"{sandbox.url}/v1/accounts/{ACC}/contacts",
        json={"firstName": "A", "favouriteColour": "red"},
        headers={"Authorization": f"Bearer {sandbox.api_key}", "Idempotency-Key": "v2"},
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "favouriteColour"
    assert sandbox.admin.state(ACC)["contacts"] == []  # nothing half-written


def test_unknown_api_key_is_401_and_not_retried(sandbox: RankrSandbox) -> None:
    with RankrClient(sandbox.url, "wrong-key") as bad, pytest.raises(RankrUnauthorized):
        bad.get_contact(ACC, "con_x")
    assert sandbox.admin.stats()["total"] == 1


def test_not_found(client: RankrClient) -> None:
    with pytest.raises(RankrNotFound):
        client.get_contact(ACC, "con_missing")
    with pytest.raises(RankrNotFound):
        client.delete_contact(ACC, "con_missing")
    with pytest.raises(RankrNotFound):
        client.create_task(ACC, "con_missing", TaskCreate(title="x"), idempotency_key="t")


# ------------------------------------------------------------------ tasks and notes


def test_tasks_crud_under_a_contact(client: RankrClient) -> None:
    contact_id = new_contact(client)
    due = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    task = client.create_task(
        ACC,
        contact_id,
        TaskCreate(title="Call", body="re: quote", due_date=due, assignee="u1"),
        idempotency_key="t1",
    )
    assert task.contact_id == contact_id and task.due_date == due and not task.completed
    assert (
        client.create_task(
            ACC,
            contact_id,
            TaskCreate(title="Call", body="re: quote", due_date=due, assignee="u1"),
            idempotency_key="t1",
        )
        == task
    )
    done = client.update_task(ACC, contact_id, task.id, TaskUpdate(completed=True, due_date=None))
    assert done.completed and done.due_date is None and done.title == "Call"
    assert client.get_task(ACC, contact_id, task.id) == done
    other = client.create_task(ACC, contact_id, TaskCreate(title="Email"), idempotency_key="t2")
    client.delete_task(ACC, contact_id, other.id)
    client.delete_task(ACC, contact_id, other.id)
    assert [t.id for t in client.iter_tasks(ACC, contact_id)] == [task.id]
    assert {t.id for t in client.iter_tasks(ACC, contact_id, include_deleted=True)} == {task.id, other.id}
    with pytest.raises(RankrNotFound):
        client.get_task(ACC, new_contact(client, "k2"), task.id)  # task of another contact
    with pytest.raises(RankrValidationError):
        client.update_task(ACC, contact_id, task.id, TaskUpdate(title=None))  # title cannot be cleared


def test_notes_crud_and_writes_to_deleted_contact(client: RankrClient) -> None:
    contact_id = new_contact(client)
    note = client.create_note(ACC, contact_id, NoteCreate(body="hello", title="Intro"), idempotency_key="n1")
    edited = client.update_note(ACC, contact_id, note.id, NoteUpdate(title=None, body="hello again"))
    assert edited.title is None and edited.body == "hello again" and edited.updated_at > note.updated_at
    assert client.get_note(ACC, contact_id, note.id) == edited
    page = client.list_notes(ACC, contact_id)
    assert [n.id for n in page.items] == [note.id] and page.next_cursor is None
    client.delete_note(ACC, contact_id, note.id)
    assert client.get_note(ACC, contact_id, note.id).deleted
    with pytest.raises(RankrResourceDeleted):
        client.update_note(ACC, contact_id, note.id, NoteUpdate(body="x"))
    client.delete_contact(ACC, contact_id)
    with pytest.raises(RankrResourceDeleted):
        client.create_note(ACC, contact_id, NoteCreate(body="late"), idempotency_key="n2")
    assert list(client.iter_notes(ACC, contact_id, include_deleted=True))[0].id == note.id  # no cascade


# ------------------------------------------------------------------ appointments


def test_appointment_mirror_upsert_list_delete_revive(client: RankrClient) -> None:
    contact_id = new_contact(client)
    start = datetime(2025, 4, 1, 15, tzinfo=UTC)
    mirror = AppointmentPut(
        status="confirmed",
        start_time=start,
        end_time=start + timedelta(hours=1),
        title="Demo",
        contact_id=contact_id,
        calendarId="cal1",
    )
    created = client.put_appointment(ACC, "ghl_evt_1", mirror)
    assert created.external_id == "ghl_evt_1" and created.calendar_id == "cal1"
    assert client.put_appointment(ACC, "ghl_evt_1", mirror) == created  # identical state: no write
    cancelled = client.put_appointment(
        ACC, "ghl_evt_1", mirror.model_copy(update={"status": "cancelled", "title": None})
    )
    assert (
        cancelled.status == "cancelled"
        and cancelled.title is None
        and cancelled.updated_at > created.updated_at
    )
    assert client.get_appointment(ACC, "ghl_evt_1") == cancelled
    client.put_appointment(ACC, "ghl_evt_2", mirror.model_copy(update={"contact_id": None}))
    assert [a.external_id for a in client.iter_appointments(ACC, contact_id=contact_id)] == ["ghl_evt_1"]
    client.delete_appointment(ACC, "ghl_evt_1")
    client.delete_appointment(ACC, "ghl_evt_1")
    assert client.get_appointment(ACC, "ghl_evt_1").deleted
    assert [a.external_id for a in client.iter_appointments(ACC)] == ["ghl_evt_2"]
    revived = client.put_appointment(ACC, "ghl_evt_1", mirror)
    assert not revived.deleted
    with pytest.raises(RankrNotFound):
        client.delete_appointment(ACC, "never_mirrored")
    with pytest.raises(RankrValidationError):
        client.put_appointment(ACC, "ghl_evt_3", mirror.model_copy(update={"contact_id": "con_unknown"}))


# ------------------------------------------------------------------ faults and retries


def test_retries_injected_5xx_and_429(sandbox: RankrSandbox) -> None:
    sandbox.admin.set_faults(rate503=0.2, rate500=0.1, rate429=0.1, retry_after_seconds=0, seed=3)
    with RankrClient(
        sandbox.url, sandbox.api_key, max_retries=12, backoff_base=0.001, backoff_cap=0.01
    ) as rankr:
        ids = [
            rankr.create_contact(ACC, ContactCreate(first_name=f"n{i}"), idempotency_key=f"f{i}").id
            for i in range(30)
        ]
    sandbox.admin.clear_faults()
    stats = sandbox.admin.stats()
    assert stats["faults"] >= 5  # faults were really injected...
    assert stats["requests"][CONTACTS_ROUTE] == 30 + stats["faults"]  # ...and each one retried
    assert stats["byStatus"]["201"] == 30
    assert len(set(ids)) == 30 and len(sandbox.admin.state(ACC)["contacts"]) == 30


def test_dropped_response_after_commit_is_retried_without_duplicate(
    client: RankrClient, sandbox: RankrSandbox
) -> None:
    sandbox.admin.set_faults(rate_drop_after_commit=1.0, paths=[CONTACTS_ROUTE])
    with (
        RankrClient(sandbox.url, sandbox.api_key, max_retries=0) as once,
        pytest.raises(RankrConnectionError) as info,
    ):
        once.create_contact(ACC, ContactCreate(first_name="Ann"), idempotency_key="drop-1")
    assert info.value.may_have_been_applied
    assert len(sandbox.admin.state(ACC)["contacts"]) == 1  # it was applied
    sandbox.admin.clear_faults()
    again = client.create_contact(ACC, ContactCreate(first_name="Ann"), idempotency_key="drop-1")
    assert [c["id"] for c in sandbox.admin.state(ACC)["contacts"]] == [again.id]


def test_persistent_faults_surface_typed_errors(sandbox: RankrSandbox) -> None:
    with RankrClient(sandbox.url, sandbox.api_key, max_retries=2, backoff_base=0.01) as rankr:
        sandbox.admin.set_faults(rate502=1.0)
        with pytest.raises(RankrServerError) as server_error:
            rankr.get_contact(ACC, "c")
        assert server_error.value.status == 502
        sandbox.admin.set_faults(rate429=1.0, retry_after_seconds=0)
        with pytest.raises(RankrRateLimited):
            rankr.get_contact(ACC, "c")
        sandbox.admin.set_faults(rate_drop=1.0)
        with pytest.raises(RankrConnectionError):
            rankr.get_contact(ACC, "c")
    assert sandbox.admin.stats()["faults"] == 9
    sandbox.admin.set_faults(rate429=1.0, retry_after_seconds=60)
    with (
        RankrClient(sandbox.url, sandbox.api_key, max_retry_after=5) as rankr,
        pytest.raises(RankrRateLimited) as info,
    ):
        rankr.get_contact(ACC, "c")
    assert info.value.retry_after == 60


def test_slow_responses_time_out_and_are_retried(sandbox: RankrSandbox) -> None:
    sandbox.admin.set_faults(rate_slow=1.0, slow_seconds=0.6)
    with (
        RankrClient(sandbox.url, sandbox.api_key, timeout=0.2, max_retries=1, backoff_base=0.01) as rankr,
        pytest.raises(RankrTimeout),
    ):
        rankr.get_contact(ACC, "c")
    assert sandbox.admin.stats()["requests"]["GET /v1/accounts/{accountId}/contacts/{contactId}"] == 2


def test_admin_is_never_faulted(sandbox: RankrSandbox) -> None:
    sandbox.admin.set_faults(rate500=1.0)
    assert sandbox.admin.seed(ACC, 3) and sandbox.admin.stats()["faults"] == 0


# ------------------------------------------------------------------ admin API


def test_admin_simulated_user_edit_create_delete_and_state(
    client: RankrClient, sandbox: RankrSandbox
) -> None:
    ids = sandbox.admin.seed(ACC, 2, tasks_per_contact=2, notes_per_contact=1)
    before = client.get_contact(ACC, ids[0])
    edited = sandbox.admin.edit(ACC, "contact", ids[0], {"firstName": before.first_name})
    assert datetime.fromisoformat(edited["updatedAt"]) > before.updated_at  # a user save bumps it
    sandbox.admin.delete(ACC, "contact", ids[1])
    task = sandbox.admin.create(ACC, "task", {"title": "by user"}, contact_id=ids[0])
    historic = sandbox.admin.create(ACC, "contact", {"firstName": "Old", "updatedAt": "2020-01-01T00:00:00Z"})
    assert historic["updatedAt"] == "2020-01-01T00:00:00.000Z"
    state = sandbox.admin.state(ACC)
    assert len(state["contacts"]) == 3 and len(state["tasks"]) == 5 and len(state["notes"]) == 2
    assert task["id"] in {t["id"] for t in state["tasks"]}
    live = sandbox.admin.state(ACC, include_deleted=False)
    assert {c["id"] for c in live["contacts"]} == {ids[0], historic["id"]}
    with pytest.raises(httpx.HTTPStatusError):
        sandbox.admin.create(ACC, "contact", {"email": "nope"})
    bulk = sandbox.admin.bulk_contacts("acc_bulk", [{"firstName": f"b{i}"} for i in range(50)])
    assert len(bulk) == 50 and len(list(client.iter_contacts("acc_bulk", page_size=7))) == 50


def test_state_survives_restart_with_a_file_db(tmp_path: Path) -> None:
    config = RankrSandboxConfig(db_path=str(tmp_path / "nested" / "rankr.sqlite3"))
    with RankrSandbox(config) as first, RankrClient(first.url, first.api_key) as rankr:
        contact = rankr.create_contact(ACC, ContactCreate(first_name="Persist"), idempotency_key="p1")
    with RankrSandbox(config) as second, RankrClient(second.url, second.api_key) as rankr:
        assert rankr.get_contact(ACC, contact.id) == contact
        assert rankr.create_contact(ACC, ContactCreate(first_name="Persist"), idempotency_key="p1") == contact
        later = rankr.update_contact(ACC, contact.id, ContactUpdate(first_name="Again"))
        assert later.updated_at > contact.updated_at


def test_standalone_module_serves(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rankr_ghl_tools.rankr_sandbox",
            "--port",
            "0",
            "--db",
            str(tmp_path / "r.db"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        response = httpx.get(
            f"{url}/v1/accounts/a/contacts", headers={"Authorization": "Bearer rankr-sandbox-key"}
        )
        assert response.status_code == 200 and response.json() == {"items": [], "nextCursor": None}
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_concurrent_creates_with_one_key_make_one_contact(sandbox: RankrSandbox) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with RankrClient(sandbox.url, sandbox.api_key) as rankr, ThreadPoolExecutor(max_workers=10) as pool:
        results = list(
            pool.map(
                lambda _: (
                    rankr.create_contact(ACC, ContactCreate(first_name="Race"), idempotency_key="race-1").id
                ),
                range(20),
            )
        )
    assert len(set(results)) == 1
    assert len(sandbox.admin.state(ACC)["contacts"]) == 1
    assert sandbox.admin.stats()["byStatus"] == {"201": 1, "200": 19}
