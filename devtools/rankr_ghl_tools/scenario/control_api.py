"""Control API step: what Rankr shows its users, through the same function Rankr invokes.

After the agency install (which was started with an `install_link`), Rankr reads one connection, runs
a test transfer of one GHL contact (a dry run that writes nothing, then with `apply`), carries a Rankr
edit back with a `rankr_to_ghl` transfer, follows a dry-run reconcile it started, counts its dead
letters and reads the location's audit log.
"""

from __future__ import annotations

import uuid
from typing import Any

from rankr_ghl_tools.installs import control_call
from rankr_ghl_tools.scenario import ScenarioContext, StepResult, StepSkipped, step


@step(
    "Control API: connection.get, test_transfer, reconcile, dlq and logs.query",
    order=160,
    needs=("ghl", "rankr"),
)
def control_api(ctx: ScenarioContext) -> StepResult:
    account = ctx.state.get("agency_account_id")
    locations = ctx.state.get("agency_location_ids") or []
    if not account or not locations:
        raise StepSkipped("no install made with an install link (the agency install step failed)")
    location = locations[0]
    got = control_call(ctx.stack, {"op": "connection.get", "rankrAccountId": account, "locationId": location})
    if not got.get("ok"):
        return StepResult.failure(f"connection.get refused: {got.get('error')}")
    connection = got["result"]["connection"]
    ctx.say(
        f"connection.get {location}: status {connection['status']}, {len(connection['scopes'])} scopes, "
        f"installed {connection['installedAt']}, dead letters {connection['deadLetters']}, "
        f"rate budget {connection['rateBudget']}"
    )

    foreign = control_call(
        ctx.stack,
        {
            "op": "connection.get",
            "rankrAccountId": f"acct-other-{uuid.uuid4().hex[:6]}",
            "locationId": location,
        },
    )
    if foreign.get("ok") or foreign["error"]["code"] != "not_found":
        return StepResult.failure("another account could read this connection")

    contact = ctx.stack.ghl.admin.create(
        location,
        "contact",
        {"email": f"transfer.{uuid.uuid4().hex[:6]}@scenario.example", "firstName": "Tess"},
        emit_webhook=False,
    )
    rankr_before = ctx.stack.rankr.admin.state(account)["contacts"]
    transfer = control_call(
        ctx.stack,
        {
            "op": "test_transfer",
            "rankrAccountId": account,
            "locationId": location,
            "ghlContactId": contact["id"],
        },
    )
    if not transfer.get("ok"):
        return StepResult.failure(f"test_transfer refused: {transfer.get('error')}")
    preview = transfer["result"]["preview"]
    if transfer["result"]["writes"] or ctx.stack.rankr.admin.state(account)["contacts"] != rankr_before:
        return StepResult.failure("a test_transfer without apply wrote something")
    ctx.say(f"test_transfer {contact['id']}: would {preview['would']}, fields {sorted(preview['rankrBody'])}")

    applied = control_call(
        ctx.stack,
        {
            "op": "test_transfer",
            "rankrAccountId": account,
            "locationId": location,
            "ghlContactId": contact["id"],
            "apply": True,
        },
    )
    if not applied.get("ok"):
        return StepResult.failure(f"test_transfer apply refused: {applied.get('error')}")
    writes = applied["result"]["writes"]
    created = [w for w in writes if w["system"] == "rankr" and w["call"] == "create"]
    if not created:
        return StepResult.failure(f"test_transfer apply reported no Rankr create: {writes}")
    ctx.say("test_transfer apply: " + ", ".join(f"{w['system']}.{w['call']} {w['recordId']}" for w in writes))

    rankr_id = created[0]["recordId"]
    ctx.stack.rankr.admin.edit(account, "contact", rankr_id, {"firstName": "Tessa"})
    back = control_call(
        ctx.stack,
        {
            "op": "test_transfer",
            "rankrAccountId": account,
            "locationId": location,
            "direction": "rankr_to_ghl",
            "rankrContactId": rankr_id,
            "apply": True,
        },
    )
    if not back.get("ok"):
        return StepResult.failure(f"test_transfer rankr_to_ghl refused: {back.get('error')}")
    ghl_contact: dict[str, Any] = next(
        (c for c in ctx.stack.ghl.admin.state(location)["contacts"] if c["id"] == contact["id"]), {}
    )
    if ghl_contact.get("firstName") != "Tessa":
        return StepResult.failure(f"rankr_to_ghl did not reach GHL: {back['result']['writes']}")
    ctx.say(
        "test_transfer rankr_to_ghl: "
        + ", ".join(f"{w['system']}.{w['call']}" for w in back["result"]["writes"])
    )

    started = control_call(
        ctx.stack,
        {
            "op": "reconcile.start",
            "rankrAccountId": account,
            "locationId": location,
            "mode": "full",
            "dryRun": True,
        },
    )
    if not started.get("ok"):
        return StepResult.failure(f"reconcile.start refused: {started.get('error')}")
    ctx.stack.drain(timeout=60)
    status = control_call(
        ctx.stack,
        {
            "op": "reconcile.status",
            "rankrAccountId": account,
            "locationId": location,
            "runId": started["result"]["runId"],
        },
    )
    if not status.get("ok") or status["result"]["state"] != "complete":
        return StepResult.failure(f"reconcile.status after the run: {status}")
    ctx.say(
        f"reconcile.start (full, dry run) -> {status['result']['report']['totalDifferences']} difference(s)"
    )

    dlq = control_call(ctx.stack, {"op": "dlq.summary", "rankrAccountId": account})
    if not dlq.get("ok"):
        return StepResult.failure(f"dlq.summary refused: {dlq.get('error')}")
    ctx.say("dlq.summary: " + ", ".join(f"{k} {q['messages']}" for k, q in dlq["result"]["queues"].items()))

    logs = control_call(
        ctx.stack, {"op": "logs.query", "rankrAccountId": account, "locationId": location, "limit": 5}
    )
    if not logs.get("ok"):
        return StepResult.failure(f"logs.query refused: {logs.get('error')}")
    entries = logs["result"]["entries"]
    ctx.say(f"logs.query {location}: {len(entries)} recent audit entries (field names only)")
    return StepResult.success(
        f"connection {connection['status']}, test transfer would {preview['would']} then wrote "
        f"{len(writes)} + {len(back['result']['writes'])}, dry-run reconcile complete, "
        f"{len(entries)} audit entries",
        counts={"control_calls": 9},
    )
