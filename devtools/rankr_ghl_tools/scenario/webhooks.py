"""Webhook steps: GHL-side edits arrive in Rankr within seconds (GHL sandbox -> signed webhook ->
gateway -> intake -> FIFO queue -> worker -> Rankr sandbox).

State left for later steps: `webhook_location_id`, `webhook_rankr_account_id`, `webhook_latency_ms`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from rankr_ghl_tools.scenario import ScenarioContext, StepResult, step

WORKER = "WebhookWorkerFunction"


def connect_location(
    stack: Any,
    location_id: str | None = None,
    account_id: str | None = None,
    *,
    rate_limit: dict[str, int] | None = None,
) -> tuple[str, str]:
    """A GHL sandbox location with a stored token pair and an ACTIVE connection linked to a Rankr account
    (what a finished install leaves); `rate_limit` overrides the location's GHL window."""
    from rankr_ghl.aws.connections_store import DynamoConnectionStore
    from rankr_ghl.aws.token_secrets import SecretsManagerTokenStore
    from rankr_ghl.connections.models import Connection, TokenBundle, UserType, from_epoch
    from rankr_ghl.wire_values import SecretStr

    location_id = location_id or f"loc{uuid.uuid4().hex[:17]}"
    account_id = account_id or f"acct-{uuid.uuid4().hex[:8]}"
    env = stack.template.functions[WORKER].env
    stack.ghl.admin.create_location(location_id, name="Scenario Webhooks", rate_limit=rate_limit)
    pair = stack.ghl.admin.tokens(location_id=location_id)
    now = time.time()
    bundle = TokenBundle(
        access_token=SecretStr(pair["access_token"]),
        refresh_token=SecretStr(pair["refresh_token"]),
        expires_at=now + float(pair["expires_in"]),
        scopes=tuple(str(pair.get("scope", "")).split()),
        user_type=UserType.LOCATION,
        location_id=location_id,
        issued_at=now,
    )
    SecretsManagerTokenStore(env["TOKEN_SECRET_PREFIX"], client=stack.client("secretsmanager")).write(
        location_id, bundle
    )
    DynamoConnectionStore(env["CONNECTIONS_TABLE"], client=stack.client("dynamodb")).save(
        Connection(
            connection_id=location_id,
            location_id=location_id,
            user_type=UserType.LOCATION,
            scopes=bundle.scopes,
            installed_at=from_epoch(now),
            token_expires_at=from_epoch(bundle.expires_at),
            rankr_account_id=account_id,
        )
    )
    return location_id, account_id


def _wait(predicate: Callable[[], bool], timeout: float = 15.0) -> float | None:
    """Milliseconds until `predicate()` held, or None on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return (time.monotonic() - started) * 1000
        time.sleep(0.05)
    return None


@step("Webhooks: GHL edits arrive in Rankr within seconds", order=300, needs=("ghl", "rankr"))
def ghl_edits_reach_rankr(ctx: ScenarioContext) -> StepResult:
    stack = ctx.stack
    ghl, rankr = stack.ghl.admin, stack.rankr.admin
    location_id, account_id = connect_location(stack)
    ctx.state["webhook_location_id"] = location_id
    ctx.state["webhook_rankr_account_id"] = account_id

    def contacts() -> list[dict[str, Any]]:
        return list(rankr.state(account_id, include_deleted=True)["contacts"])

    def tasks() -> list[dict[str, Any]]:
        return list(rankr.state(account_id, include_deleted=True)["tasks"])

    latencies: dict[str, float | None] = {}
    created = ghl.create(
        location_id, "contact", {"firstName": "Ada", "lastName": "Lovelace", "source": "scenario"}
    )
    contact_id = str(created["id"])
    latencies["create"] = _wait(lambda: any(c["firstName"] == "Ada" for c in contacts()))

    ghl.edit(location_id, "contact", contact_id, {"lastName": "King"})
    latencies["edit"] = _wait(lambda: any(c.get("lastName") == "King" for c in contacts()))

    task_fields = {"title": "Send the notes", "dueDate": "2026-06-01T09:00:00Z", "completed": False}
    task = ghl.create(location_id, "task", task_fields, contact_id=contact_id)
    latencies["task"] = _wait(lambda: any(t["title"] == "Send the notes" for t in tasks()))
    ghl.edit(location_id, "task", str(task["id"]), {"completed": True}, contact_id=contact_id)
    latencies["task_complete"] = _wait(lambda: any(t.get("completed") for t in tasks()))

    ghl.delete(location_id, "contact", contact_id)
    latencies["delete"] = _wait(lambda: all(c.get("deletedAt") for c in contacts()))

    missing = [name for name, ms in latencies.items() if ms is None]
    done = {name: ms for name, ms in latencies.items() if ms is not None}
    slowest = max(done.values(), default=0.0)
    ctx.state["webhook_latency_ms"] = done
    summary = ", ".join(f"{name} {ms / 1000:.1f}s" for name, ms in done.items())
    counts = {"ghl_changes": len(latencies), "arrived": len(done), "slowest_ms": round(slowest)}
    if missing:
        return StepResult.failure(f"not in Rankr after 15 s: {', '.join(missing)} ({summary})", counts)
    return StepResult.success(f"{len(done)} GHL changes mirrored: {summary}", counts)
