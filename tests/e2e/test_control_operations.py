"""The control API's operational ops through the local runtime's Invoke API: dead letters are counted
and replayed per account, and a replayed reconcile job runs in the worker and shows in
`reconcile.status` and `connection.get`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_helpers import install_location, new_id
from rankr_ghl_tools.installs import control_call

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _ok(stack: Any, request: dict[str, Any]) -> dict[str, Any]:
    answer = control_call(stack, request)
    assert answer.get("ok") is True, answer
    result: dict[str, Any] = answer["result"]
    return result


def _dead_letter(stack: Any, location: str, run_id: str) -> None:
    """A reconcile job of `location` as the reconcile queue's redrive leaves it in the DLQ."""
    queue = stack.template.queues["ReconcileDLQ"].url
    body = {"locationId": location, "mode": "full", "dryRun": True, "runId": run_id, "continuation": 0}
    stack.client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=json.dumps(body),
        MessageGroupId=location,
        MessageDeduplicationId=run_id,
    )


def test_dead_letters_are_scoped_replayed_and_the_replayed_run_is_followed(e2e_stack) -> None:
    stack = e2e_stack
    account_a, location_a = new_id("acctA"), new_id("locA")
    account_b, location_b = new_id("acctB"), new_id("locB")
    install_location(stack, location_a, account_a)
    install_location(stack, location_b, account_b)
    run_a, run_b = new_id("dlqA"), new_id("dlqB")
    _dead_letter(stack, location_a, run_a)
    _dead_letter(stack, location_b, run_b)
    sqs, dlq = stack.client("sqs"), stack.template.queues["ReconcileDLQ"].url
    try:
        summary = _ok(stack, {"op": "dlq.summary", "rankrAccountId": account_a})["queues"]
        assert summary["reconcile"]["messages"] == 1
        assert summary["reconcile"]["byLocation"] == {location_a: 1}
        assert location_b not in json.dumps(summary)
        swept = stack.fire_schedule("DeadLetterCount")
        assert swept.ok and swept.json()["result"]["queues"]["reconcile"]["complete"] is True, swept.json()
        got = _ok(stack, {"op": "connection.get", "rankrAccountId": account_a, "locationId": location_a})
        assert got["connection"]["deadLetters"]["reconcile"] == 1 and got["connection"]["unavailable"] == []
        assert got["connection"]["deadLetters"]["complete"] is True

        refused = control_call(
            stack,
            {"op": "dlq.replay", "rankrAccountId": account_a, "locationId": location_b, "queue": "reconcile"},
        )
        assert refused["error"]["code"] == "not_found"
        replayed = _ok(
            stack,
            {"op": "dlq.replay", "rankrAccountId": account_a, "locationId": location_a, "queue": "reconcile"},
        )
        assert len(replayed["replayed"]) == 1 and replayed["failed"] == []
        got = _ok(stack, {"op": "connection.get", "rankrAccountId": account_a, "locationId": location_a})
        assert got["connection"]["deadLetters"]["reconcile"] == 0  # the replay left the count at once
        stack.drain(timeout=60)

        status = _ok(
            stack,
            {"op": "reconcile.status", "rankrAccountId": account_a, "locationId": location_a, "runId": run_a},
        )
        assert status["state"] == "complete" and status["report"]["dryRun"] is True
        # B's message is still there, untouched, and visible again for its own account.
        left = _ok(stack, {"op": "dlq.summary", "rankrAccountId": account_b})["queues"]["reconcile"]
        assert left["messages"] == 1 and left["byLocation"] == {location_b: 1}
        got_b = _ok(stack, {"op": "connection.get", "rankrAccountId": account_b, "locationId": location_b})
        assert got_b["connection"]["deadLetters"]["reconcile"] == 1
    finally:
        sqs.purge_queue(QueueUrl=dlq)  # later tests assert every queue is empty


def test_reconcile_started_through_the_control_api_runs_and_reports(e2e_stack) -> None:
    stack = e2e_stack
    account, location = new_id("acctR"), new_id("locR")
    install_location(stack, location, account)
    # One change arrives by webhook (connection.get shows when), one only the reconcile finds.
    stack.ghl.admin.create(location, "contact", {"email": f"{new_id('w')}@hook.example", "firstName": "Wes"})
    stack.drain(timeout=60)
    hooked = _ok(stack, {"op": "connection.get", "rankrAccountId": account, "locationId": location})
    assert hooked["connection"]["lastWebhookAt"] is not None
    contact = stack.ghl.admin.create(
        location, "contact", {"email": f"{new_id('r')}@recon.example", "firstName": "Rea"}, emit_webhook=False
    )
    started = _ok(
        stack, {"op": "reconcile.start", "rankrAccountId": account, "locationId": location, "mode": "full"}
    )
    stack.drain(timeout=60)
    status = _ok(stack, {"op": "reconcile.status", "rankrAccountId": account, "locationId": location})
    assert status["runId"] == started["runId"] and status["state"] == "complete", status
    assert status["report"]["repaired"].get("contact.missing_in_rankr") == 1
    got = _ok(stack, {"op": "connection.get", "rankrAccountId": account, "locationId": location})
    last = got["connection"]["lastReconcile"]
    assert last["lastRunId"] == started["runId"] and last["result"]["totalRepaired"] >= 1
    assert any(c.get("email") == contact["email"] for c in stack.rankr.admin.state(account)["contacts"])


def _lead_push_failures(stack: Any, account: str) -> dict[str, Any]:
    queues: dict[str, Any] = _ok(stack, {"op": "dlq.summary", "rankrAccountId": account})["queues"]
    return dict(queues["lead-push"])


def test_a_dead_lettered_lead_push_replays_through_the_control_api_into_ghl_once(e2e_stack) -> None:
    """An async lead push fails every attempt (GHL answers 503), so Lambda's on-failure destination
    keeps it. Another account cannot replay it; its own account does, through ControlFunction, which
    invokes lead push's async alias again: the lead lands in GHL once, and the record is gone."""
    stack = e2e_stack
    account, location = new_id("acctL"), new_id("locL")
    install_location(stack, location, account)
    other_account, other_location = new_id("acctM"), new_id("locM")
    install_location(stack, other_location, other_account)
    email = f"{new_id('lead')}@replay.example"
    payload = {
        "rankrAccountId": account,
        "leads": [{"leadId": new_id("lead"), "locationId": location, "email": email, "tags": ["replayed"]}],
    }
    async_alias = stack.template.outputs["LeadPushAsyncAliasArn"]
    # Lambda's retry waits (1 then 2 minutes) shortened for this test; the semantics stay.
    scale, stack.service.time_scale = stack.service.time_scale, 0.005
    stack.ghl.admin.faults(rate503=1.0, paths=["POST /contacts/upsert", "POST /contacts/"])
    try:
        accepted = stack.client("lambda").invoke(
            FunctionName=async_alias, InvocationType="Event", Payload=json.dumps(payload).encode()
        )
        assert accepted["StatusCode"] == 202
        stack.drain(timeout=60)
    finally:
        stack.ghl.admin.clear_faults()
        stack.service.time_scale = scale
    failed = _lead_push_failures(stack, account)
    assert failed["messages"] == 1 and failed["replayable"] is True, failed
    assert stack.fire_schedule("DeadLetterCount").ok
    counted = _ok(stack, {"op": "connection.get", "rankrAccountId": account, "locationId": location})
    assert counted["connection"]["deadLetters"]["lead-push"] == 1
    assert failed["byLocation"] == {location: 1}
    assert stack.ghl.admin.state(location)["contacts"] == []
    assert _lead_push_failures(stack, other_account)["messages"] == 0

    base = {"op": "dlq.replay", "rankrAccountId": other_account, "queue": "lead-push"}
    assert _ok(stack, base)["replayed"] == []
    foreign = control_call(stack, {**base, "locationId": location})
    assert foreign["error"]["code"] == "not_found"
    replayed = _ok(stack, {**base, "rankrAccountId": account})
    assert replayed["replayed"] == [failed["sample"][0]["messageId"]] and replayed["failed"] == []
    stack.drain(timeout=60)

    [contact] = stack.ghl.admin.state(location)["contacts"]
    assert contact["email"] == email and "replayed" in contact["tags"]
    assert _lead_push_failures(stack, account)["messages"] == 0
    counted = _ok(stack, {"op": "connection.get", "rankrAccountId": account, "locationId": location})
    assert counted["connection"]["deadLetters"]["lead-push"] == 0
    # Nothing is left to replay, and a second replay writes nothing.
    assert _ok(stack, {**base, "rankrAccountId": account})["replayed"] == []
    stack.drain(timeout=60)
    assert len(stack.ghl.admin.state(location)["contacts"]) == 1


def test_a_replayed_lead_push_older_than_the_lead_in_rankr_keeps_the_newer_edit(e2e_stack) -> None:
    """The lead is edited in Rankr (lastName Byron) and pushed async; GHL refuses every attempt, so the
    push lands in the failure queue. A newer edit (Clairmont) lands in GHL through a waiting push.
    The owner then replays the old push: lead push reads the lead as Rankr holds it now, answers
    `superseded`, and writes nothing over Clairmont, in GHL or (through the webhook) in Rankr."""
    stack = e2e_stack
    account, location = new_id("acctS"), new_id("locS")
    install_location(stack, location, account)
    record = {"firstName": "Ada", "lastName": "Lovelace", "email": f"{new_id('lead')}@stale.example"}
    [lead_id] = stack.rankr.admin.bulk_contacts(account, [record])
    live = stack.client("lambda")

    def push(fields: dict[str, Any], alias: str, invocation: str) -> dict[str, Any]:
        payload = {"leadId": lead_id, "locationId": location, "rankrAccountId": account, **record, **fields}
        answer = live.invoke(
            FunctionName=stack.template.outputs[alias],
            InvocationType=invocation,
            Payload=json.dumps(payload).encode(),
        )
        body = answer["Payload"].read()
        return json.loads(body) if body else {"StatusCode": answer["StatusCode"]}

    [created] = push({}, "LeadPushAliasArn", "RequestResponse")["results"]
    assert created["outcome"] == "created", created
    contact_id = created["ghlContactId"]

    stack.rankr.admin.edit(account, "contact", lead_id, {"lastName": "Byron"})
    scale, stack.service.time_scale = stack.service.time_scale, 0.005
    stack.ghl.admin.faults(rate503=1.0, paths=["PUT /contacts/*"])
    try:
        assert push({"lastName": "Byron"}, "LeadPushAsyncAliasArn", "Event") == {"StatusCode": 202}
        stack.drain(timeout=60)
    finally:
        stack.ghl.admin.clear_faults()
        stack.service.time_scale = scale
    assert _lead_push_failures(stack, account)["messages"] == 1

    stack.rankr.admin.edit(account, "contact", lead_id, {"lastName": "Clairmont"})
    [newer] = push({"lastName": "Clairmont"}, "LeadPushAliasArn", "RequestResponse")["results"]
    assert newer["outcome"] == "updated", newer
    stack.drain(timeout=60)

    replayed = _ok(stack, {"op": "dlq.replay", "rankrAccountId": account, "queue": "lead-push"})
    assert len(replayed["replayed"]) == 1 and replayed["failed"] == []
    stack.drain(timeout=60)

    [contact] = stack.ghl.admin.state(location)["contacts"]
    assert contact["id"] == contact_id and contact["lastName"] == "Clairmont"
    [rankr_lead] = [c for c in stack.rankr.admin.state(account)["contacts"] if c["id"] == lead_id]
    assert rankr_lead["lastName"] == "Clairmont"
    assert _lead_push_failures(stack, account)["messages"] == 0
    # The replayed push answered honestly: audited as a lead-push skip of the stale fields.
    items = stack.client("dynamodb").query(
        TableName=stack.template.tables["AuditTable"].name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"LOC#{location}"}},
    )["Items"]
    pushes = [
        {k: next(iter(v.values())) for k, v in item.items()}
        for item in items
        if item.get("flow", {}).get("S") == "lead_push" and item.get("rankrId", {}).get("S") == lead_id
    ]
    [superseded] = [entry for entry in pushes if entry.get("action") == "skip"]
    assert superseded["outcome"] == "skipped" and {"S": "last_name"} in superseded["fields"]
