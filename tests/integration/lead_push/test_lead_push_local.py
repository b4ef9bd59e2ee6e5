"""Lead push end to end: boto3 lambda.invoke (Rankr's call) -> local Invoke API -> real handler ->
GHL sandbox + embedded AWS. Each test uses its own location, so they share one stack."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from lead_push_itest_helpers import LeadPushEnv
from rankr_ghl.aws.audit import DynamoAuditLog
from rankr_ghl.aws.sync_state import SyncStateTable
from rankr_ghl.flows.lead_push import (
    LeadPushService,
    PushSettings,
    SyncLeadMapper,
    SyncLeadRecords,
    lead_tag,
    powertools_idempotency,
)
from rankr_ghl.ghl.client import GHLClient
from rankr_ghl.ghl.records import GhlClientRecords
from rankr_ghl.ghl.tokens import StaticTokenSource
from rankr_ghl.sync.mapping_resolver import MappingResolver

pytestmark = pytest.mark.integration


def lead(lead_id: str, location_id: str, n: int = 0, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "leadId": lead_id,
        "locationId": location_id,
        "firstName": "Ada",
        "lastName": f"Lovelace{n}",
        "email": f"{lead_id.lower()}@example.com",
        "phone": f"+1415555{n:04d}",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def test_create_via_alias_with_tags_note_and_task(env: LeadPushEnv) -> None:
    loc = env.install_location()
    body = env.push(
        lead(
            "C1", loc, tags=["Hot", "Webinar"], note={"body": "Met at the fair"}, task={"title": "Call back"}
        )
    )
    [result] = body["results"]
    assert result["outcome"] == "created"
    state = env.ghl.admin.state(loc)
    [contact] = state["contacts"]
    assert result["ghlContactId"] == contact["id"]
    assert sorted(contact["tags"]) == ["hot", "webinar"]
    assert contact["source"] == "Rankr"
    assert [n["body"] for n in state["notes"]] == ["Met at the fair"]
    assert [t["title"] for t in state["tasks"]] == ["Call back"]
    assert env.mapping_of(loc, "C1") == contact["id"]


def test_replay_and_changed_payload_update_the_mapped_contact(env: LeadPushEnv) -> None:
    loc = env.install_location()
    first = env.push(lead("U1", loc, tags=["a"]))["results"][0]
    before = env.ghl.admin.stats()["byLocation"].get(loc, 0)
    assert env.push(lead("U1", loc, tags=["a"]))["results"][0] == first  # replayed: no GHL call
    assert env.ghl.admin.stats()["byLocation"].get(loc, 0) == before
    updated = env.push(lead("U1", loc, firstName="Augusta", tags=["b"]))["results"][0]
    assert updated == {"leadId": "U1", "ghlContactId": first["ghlContactId"], "outcome": "updated"}
    [contact] = env.contacts(loc)
    assert contact["firstName"] == "Augusta"
    assert sorted(contact["tags"]) == ["a", "b"]


@pytest.mark.parametrize("by", ["email", "phone"])
def test_link_existing_contact_keeps_its_tags(env: LeadPushEnv, by: str) -> None:
    loc = env.install_location()
    fields = {"email": "old@example.com", "phone": "+14155550000", "tags": ["vip", "customer"]}
    existing = env.ghl.admin.create(loc, "contact", fields, emit_webhook=False)
    payload = lead("E1", loc, n=1, tags=["hot"])
    if by == "email":
        payload.update(email="OLD@example.com")
    else:
        payload.update(phone="(415) 555-0000")
    [result] = env.push(payload)["results"]
    assert result == {"leadId": "E1", "ghlContactId": existing["id"], "outcome": "linked_existing"}
    [contact] = env.contacts(loc)
    assert sorted(contact["tags"]) == ["customer", "hot", "vip"]
    assert contact["lastName"] == "Lovelace1"


def test_batch_of_100_with_10_invalid(env: LeadPushEnv) -> None:
    loc = env.install_location()
    leads: list[Any] = [lead(f"B{i}", loc, n=i, tags=["batch"]) for i in range(90)]
    leads += [
        lead("X0", loc, email="nope"),
        lead("X1", loc, phone="12"),
        {"locationId": loc, "firstName": "no id"},
        lead("X3", loc, locationId=None),
        lead("X4", loc, tags=[""]),
        lead("X5", loc, unknownField=1),
        lead("X6", loc, customFields={"notMapped": "x"}),
        42,
        lead("X8", loc, note={"title": "no body"}),
        lead("X9", loc, task={"title": ""}),
    ]
    body = env.push({"leads": leads})
    results = body["results"]
    assert len(results) == 100
    assert [r["outcome"] for r in results[:90]] == ["created"] * 90
    for r in results[90:]:
        assert r["outcome"] == "failed"
        assert r["error"]["code"] == "invalid_lead" and r["error"]["retryable"] is False
        assert r["error"]["message"]
    assert "customFields: notMapped" in results[96]["error"]["message"]
    assert len(env.contacts(loc)) == 90


def test_oversized_batch_is_refused_whole(env: LeadPushEnv) -> None:
    loc = env.install_location()
    body = env.push({"leads": [lead(f"O{i}", loc, n=i) for i in range(101)]})
    assert body["error"]["code"] == "invalid_request" and "at most 100" in body["error"]["message"]
    assert env.contacts(loc) == []


@pytest.mark.parametrize("path", ["POST /contacts/upsert", "POST /contacts/"])
def test_422_but_created_gives_exactly_one_contact(env: LeadPushEnv, path: str) -> None:
    loc = env.install_location()
    env.ghl.admin.faults(rate422_created=1.0, paths=[path])
    # With e-mail/phone the first write is an upsert; without, it is a create tagged with the lead id.
    payload = lead("F1", loc, tags=["t"]) if "upsert" in path else lead("F1", loc, email=None, phone=None)
    [result] = env.push(payload)["results"]
    env.ghl.admin.clear_faults()
    assert result["outcome"] == "created", result
    [contact] = env.contacts(loc)
    assert result["ghlContactId"] == contact["id"]
    assert env.mapping_of(loc, "F1") == contact["id"]
    if "upsert" not in path:
        assert lead_tag("F1").lower() in contact["tags"]


def test_same_lead_ten_concurrent_invocations_one_contact(env: LeadPushEnv) -> None:
    loc = env.install_location()
    payload = lead("P1", loc, tags=["x"])
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(10)

    def call() -> None:
        barrier.wait()
        results.extend(env.push(payload)["results"])

    threads = [threading.Thread(target=call) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [contact] = env.contacts(loc)
    assert len(results) == 10 and {r.get("ghlContactId") for r in results} == {contact["id"]}
    # Normally one run creates and nine replay it. moto's conditional put is not atomic across
    # threads, so a second run may slip through the idempotency gate here; the upsert and the
    # mapping's conditional write still keep it to one contact (then reported as linked).
    assert {r["outcome"] for r in results} <= {"created", "linked_existing"}
    assert env.mapping_of(loc, "P1") == contact["id"]


def _in_process_service(env: LeadPushEnv, loc: str, *, timeout_s: float = 30.0, **kw: Any) -> LeadPushService:
    """The flow over the stack's real stores, with a client we control (timeout, lookups)."""
    fenv = env.function_env
    dynamodb = env.stack.client("dynamodb")
    token = env.ghl.admin.tokens(location_id=loc)["access_token"]
    client = GHLClient(StaticTokenSource(token), base_url=env.ghl.url, timeout=timeout_s, max_retries=0)
    tables = SyncStateTable(fenv["SYNC_TABLE"], client=dynamodb)
    resolver = MappingResolver(tables.mapping_config)

    class Resolver:
        def location_for(self, lead_: Any) -> str:
            return loc

    return LeadPushService(
        ghl=kw.pop("gateway", None) or GhlClientRecords(lambda: client),
        records=SyncLeadRecords(
            tables.mappings, tables.ledger, DynamoAuditLog(fenv["AUDIT_TABLE"], client=dynamodb), resolver
        ),
        mapper=SyncLeadMapper(resolver),
        locations=Resolver(),
        settings=kw.pop("settings", None) or PushSettings(workers=1),
        **kw,
    )


def test_ghl_timeout_after_the_write_is_reresolved(env: LeadPushEnv) -> None:
    loc = env.install_location()
    env.ghl.admin.faults(rate_slow=1.0, slow_seconds=1.5, paths=["POST /contacts/upsert"])
    service = _in_process_service(env, loc, timeout_s=0.5, idempotent=None)
    [result] = service.push(lead("T1", loc)).results
    env.ghl.admin.clear_faults()
    assert result["outcome"] == "created", result
    [contact] = env.contacts(loc)
    assert result["ghlContactId"] == contact["id"]


def test_a_lead_slower_than_the_time_left_answers_retryable_before_the_timeout(env: LeadPushEnv) -> None:
    """GHL answers in 4 s; 3 s are left when the lead starts (its client timeout is 30 s). The lead's
    GHL calls are bounded by the invocation's remaining time less the reserve for the store writes
    and the answer, so it comes back `retryable` before the timeout instead of being cut by it."""
    loc = env.install_location()
    env.ghl.admin.faults(rate_slow=1.0, slow_seconds=4, paths=["POST /contacts/upsert", "POST /contacts/"])
    settings = PushSettings(workers=1, deadline_margin_ms=1_000, finish_reserve_ms=500)
    service = _in_process_service(env, loc, timeout_s=30.0, idempotent=None, settings=settings)
    ends_at = time.monotonic() + 3.0
    try:
        [result] = service.push(
            lead("DL1", loc), remaining_ms=lambda: int((ends_at - time.monotonic()) * 1000)
        ).results
        answered_with_s_left = ends_at - time.monotonic()
    finally:
        env.ghl.admin.clear_faults()
    assert result["outcome"] == "failed", result
    assert result["error"]["retryable"] is True and result["error"]["code"] == "ghl_unavailable"
    assert answered_with_s_left > 0, "answered after the invocation's end"
    # The retry Rankr makes links the contact the slow call may have created: still one contact.
    [retried] = service.push(lead("DL1", loc)).results
    assert retried["outcome"] in ("created", "linked_existing") and len(env.contacts(loc)) == 1


def test_duplicate_400_from_create_links_existing(env: LeadPushEnv) -> None:
    """Upsert fails without effect (500); the duplicate lookup lags behind GHL's index (as GHL's
    search may); the retry is a create that GHL refuses with 400 + meta.contactId: linked."""
    loc = env.install_location(allow_duplicates=False)
    existing = env.ghl.admin.create(
        loc, "contact", {"email": "d1@example.com", "tags": ["keep"]}, emit_webhook=False
    )
    env.ghl.admin.faults(rate500=1.0, paths=["POST /contacts/upsert"])
    token = env.ghl.admin.tokens(location_id=loc)["access_token"]
    client = GHLClient(StaticTokenSource(token), base_url=env.ghl.url, max_retries=0)

    class LaggingLookup(GhlClientRecords):
        lagging = 1

        def find_duplicate_contact(
            self, location_id: str, *, email: str | None, phone: str | None
        ) -> dict[str, Any] | None:
            found = super().find_duplicate_contact(location_id, email=email, phone=phone)
            if self.lagging:
                self.lagging -= 1
                return None
            return found

    service = _in_process_service(env, loc, idempotent=None, gateway=LaggingLookup(lambda: client))
    [result] = service.push(lead("D1", loc, tags=["new"])).results
    env.ghl.admin.clear_faults()
    assert result == {"leadId": "D1", "ghlContactId": existing["id"], "outcome": "linked_existing"}
    [contact] = env.contacts(loc)
    assert contact["firstName"] == "Ada"  # linked, then updated
    assert sorted(contact["tags"]) == ["keep", "new"]
    assert env.ghl.admin.stats()["requests"].get("POST /contacts/", 0) >= 1


class SimulatedCrash(BaseException):
    """Dies like a Lambda timeout: no exception handler (Powertools' included) runs."""


def test_invocation_dying_mid_lead_then_retried_gives_one_contact(env: LeadPushEnv) -> None:
    """First attempt: the contact is created in GHL, then the container dies before the mapping
    write, leaving an INPROGRESS idempotency record. Once that expires, Rankr's retry (through
    Lambda) must link to the same contact, never create a second one."""
    loc = env.install_location()
    payload = lead("K1", loc, tags=["k"])
    fenv = env.function_env
    idem = powertools_idempotency(
        DynamoDBPersistenceLayer(
            table_name=fenv["IDEMPOTENCY_TABLE"], boto3_client=env.stack.client("dynamodb")
        )
    )

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 300  # the record's in-progress lease ends with "our" timeout

    idem.config.register_lambda_context(Context())
    service = _in_process_service(
        env, loc, idempotent=idem.runner, in_progress_errors=idem.in_progress_errors
    )
    records = service._records  # crash exactly between the GHL write and the mapping write

    def crash(*_a: Any, **_k: Any) -> None:
        raise SimulatedCrash

    records.link = crash  # type: ignore[method-assign]
    with pytest.raises(SimulatedCrash):
        service.push(payload)
    assert len(env.contacts(loc)) == 1 and env.mapping_of(loc, "K1") is None
    time.sleep(0.5)
    [result] = env.push(payload)["results"]
    [contact] = env.contacts(loc)
    assert result["ghlContactId"] == contact["id"] and result["outcome"] == "linked_existing"
    assert env.mapping_of(loc, "K1") == contact["id"]


def test_async_failure_goes_to_the_failure_destination(env: LeadPushEnv) -> None:
    """An async push that fails every attempt lands in the on-failure queue with its request (its
    replay, through the control API's `dlq.replay`, is tests/e2e/test_control_operations.py's)."""
    loc = env.install_location()
    env.ghl.admin.faults(rate503=1.0, paths=["POST /contacts/upsert", "POST /contacts/"])
    payload = {"invocationType": "Event", "leads": [lead("A1", loc, tags=["async"])]}
    response = env.invoke(payload, invocation_type="Event")
    assert response["StatusCode"] == 202
    [record] = _failure_records(env, "A1")
    assert record["requestPayload"] == payload
    assert env.contacts(loc) == []
    env.ghl.admin.clear_faults()


def _failure_records(env: LeadPushEnv, lead_id: str, timeout_s: float = 60) -> list[dict[str, Any]]:
    """The on-failure destination records of `lead_id`'s invocations (taken off the queue)."""
    sqs = env.stack.client("sqs")
    queue_url = env.stack.template.queues["LeadPushFailureQueue"].url  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        mine = []
        for message in messages:
            record = json.loads(message["Body"])
            if [x.get("leadId") for x in record["requestPayload"].get("leads", [])] == [lead_id]:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                mine.append(record)
            else:  # another test's: leave it
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        if mine:
            return mine
        time.sleep(0.3)
    return []


def test_async_alias_needs_no_payload_flag_and_live_answers_per_lead(env: LeadPushEnv) -> None:
    """The same payload, without `invocationType`: through `live` a retryable failure comes back as a
    per-lead result; through `async` (InvocationType=Event) it raises, Lambda retries twice, and the
    event reaches the on-failure queue."""
    loc = env.install_location()
    env.ghl.admin.faults(rate503=1.0, paths=["POST /contacts/upsert", "POST /contacts/"])
    payload = {"leads": [lead("AS1", loc, tags=["async"])]}
    sync = env.invoke(payload)
    assert sync["StatusCode"] == 200 and sync["FunctionError"] is None, sync
    [result] = sync["body"]["results"]
    assert result["outcome"] == "failed" and result["error"]["retryable"] is True
    response = env.invoke(payload, invocation_type="Event", function_name=env.async_alias_arn)
    assert response["StatusCode"] == 202
    [record] = _failure_records(env, "AS1")
    assert record["requestContext"]["functionArn"] == env.async_alias_arn
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "LeadPushIncomplete"
    assert env.contacts(loc) == []
    env.ghl.admin.clear_faults()


def test_pushed_lead_webhook_is_an_echo_in_rankr(env: LeadPushEnv) -> None:
    """GHL answers our push with ContactCreate (and ContactTagUpdate) webhooks; the worker must see
    them as our own write coming back: no Rankr contact is created for the account."""
    account = env.new_id("acct-")
    loc = env.install_location(rankr_account=account)
    payload = lead("W1", loc, locationId=None, rankrAccountId=account, tags=["echo"])
    # The lead as it exists in Rankr (its id is the leadId) before Rankr pushes it.
    fields = {k: payload[k] for k in ("firstName", "lastName", "email", "phone", "tags")} | {
        "source": "Rankr"
    }
    rankr_lead = env.stack.rankr.admin.create(account, "contact", fields, id=env.new_id("lead-"))
    payload["leadId"] = rankr_lead["id"]
    env.stack.rankr.admin.reset_stats()
    # GHL delivers webhooks a second or more after the write. Delivered faster than our mapping
    # write, the worker would not know the contact yet (a race reported to the worker's owner).
    env.ghl.admin.webhooks(delay_ms=1500)
    try:
        [result] = env.push(payload)["results"]
    finally:
        env.ghl.admin.webhooks(delay_ms=0)
    assert result["outcome"] == "created"
    env.ghl.admin.flush()
    env.stack.drain(timeout=30)
    delivered = [d for d in env.ghl.admin.webhook_log() if d.get("type") == "ContactCreate"]
    assert delivered, "the sandbox emitted no ContactCreate for the pushed lead"
    audit = DynamoAuditLog(env.function_env["AUDIT_TABLE"], client=env.stack.client("dynamodb"))
    entries = audit.query_location(loc, limit=50)
    worker_saw = [e for e in entries if e.flow != "lead_push" and e.ghl_id == result["ghlContactId"]]
    assert worker_saw, "the webhook worker did not process the contact's events"
    assert {e.reason for e in worker_saw} == {"echo"}, [(e.action, e.reason) for e in worker_saw]
    assert [c["id"] for c in env.stack.rankr.admin.state(account)["contacts"]] == [rankr_lead["id"]]
    writes = {k: v for k, v in env.stack.rankr.admin.stats()["requests"].items() if not k.startswith("GET")}
    assert writes == {}, writes


def test_a_first_push_reads_nothing_before_its_writes_and_ends_in_one_settle_write(env: LeadPushEnv) -> None:
    """The production wiring over the embedded AWS, counting its DynamoDB requests per lead: no read
    of the mapping before the idempotent call, and a tagged lead's children marked done in the
    settle transaction (no read-then-update of the mapping afterwards)."""
    from rankr_ghl.aws.connections_store import DynamoConnectionStore
    from rankr_ghl.wiring.lead_push import build_container

    loc = env.install_location()
    fenv = env.function_env
    dynamodb = env.stack.client("dynamodb")
    calls: list[str] = []
    dynamodb.meta.events.register(
        "before-parameter-build.dynamodb",
        lambda model, params, **_: calls.append(
            f"{model.name} {params.get('TableName') or ','.join(params.get('RequestItems', {}))}"
        ),
    )
    token = env.ghl.admin.tokens(location_id=loc)["access_token"]
    client = GHLClient(StaticTokenSource(token), base_url=env.ghl.url)
    service = build_container(
        ghl_client=lambda: client,
        connections=DynamoConnectionStore(fenv["CONNECTIONS_TABLE"], client=env.stack.client("dynamodb")),
        sync_table=fenv["SYNC_TABLE"],
        audit_table=fenv["AUDIT_TABLE"],
        idempotency_table=fenv["IDEMPOTENCY_TABLE"],
        settings=PushSettings(workers=1),
        dynamodb=dynamodb,
    ).service
    service.push(lead("RT0", loc))  # warms the mapping configuration's cache
    expected = {
        # idempotency record, claim unless mapped, [link before the tags], settle, idempotency result
        "RT1": ["PutItem", "TransactWriteItems", "TransactWriteItems", "UpdateItem"],
        "RT2": ["PutItem", "TransactWriteItems", "TransactWriteItems", "TransactWriteItems", "UpdateItem"],
    }
    for n, (lead_id, operations) in enumerate(expected.items(), start=1):
        calls.clear()
        [result] = service.push(lead(lead_id, loc, n, tags=["rt"] if lead_id == "RT2" else None)).results
        assert result["outcome"] == "created", result
        writes = [c.split()[0] for c in calls if fenv["AUDIT_TABLE"] not in c]
        assert writes == operations, calls
    mapping = service._records.mapped_contact(loc, "RT2")  # type: ignore[attr-defined]
    assert mapping is not None and mapping.attributes["children"] == "done"
    calls.clear()
    assert service.push(lead("RT2", loc, 2, tags=["rt"])).results[0]["outcome"] == "created"  # a replay
    replayed = [c.split()[0] for c in calls if fenv["AUDIT_TABLE"] not in c]
    assert replayed == ["PutItem", "GetItem"], calls  # the stored answer, checked against the mapping
