"""Control API step: what Rankr shows its users, through the same function Rankr invokes.

After the agency install (which was started with an `install_link`), Rankr reads one connection, the
audit log of that location and a test transfer of one GHL contact (a dry run: nothing is written).
"""

from __future__ import annotations

import uuid

from rankr_ghl_tools.installs import control_call
from rankr_ghl_tools.scenario import ScenarioContext, StepResult, StepSkipped, step


@step("Control API: connection.get, logs.query and a test_transfer", order=160, needs=("ghl", "rankr"))
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
    ctx.say(f"connection.get {location}: status {connection['status']}, {len(connection['scopes'])} scopes")

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
    ctx.say(f"test_transfer {contact['id']}: would {preview['would']}, fields {sorted(preview['rankrBody'])}")

    logs = control_call(
        ctx.stack, {"op": "logs.query", "rankrAccountId": account, "locationId": location, "limit": 5}
    )
    if not logs.get("ok"):
        return StepResult.failure(f"logs.query refused: {logs.get('error')}")
    entries = logs["result"]["entries"]
    ctx.say(f"logs.query {location}: {len(entries)} recent audit entries (field names only)")
    return StepResult.success(
        f"connection {connection['status']}, test transfer would {preview['would']}, "
        f"{len(entries)} audit entries",
        counts={"control_calls": 4},
    )
