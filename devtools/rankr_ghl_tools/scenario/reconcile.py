"""Scenario steps of the scheduled reconcile: a change whose webhook was dropped is repaired by the
incremental schedule (fired through the stack), then a dry run reports a drift without writing.

Self-contained: the steps connect their own location (sandbox token, connection linked to a Rankr
account) and mirror a few GHL contacts into Rankr and the mapping store.
"""

from __future__ import annotations

import uuid
from typing import Any

from rankr_ghl_tools.scenario import ScenarioContext, StepResult, StepSkipped, step
from rankr_ghl_tools.scenario.webhooks import connect_location

CONTACTS = 5
FUNCTION = "ReconcileFunction"


def _env(ctx: ScenarioContext) -> dict[str, str]:
    assert ctx.stack.template is not None
    return dict(ctx.stack.template.functions[FUNCTION].env)


def _connect(ctx: ScenarioContext) -> tuple[str, str]:
    """A connected location with CONTACTS GHL contacts mirrored into Rankr and the mapping store."""
    from rankr_ghl.aws.sync_state import SyncStateTable
    from rankr_ghl.sync.mapping import default_mapping
    from rankr_ghl.sync.ports import IdMapping
    from rankr_ghl.sync.types import Entity

    stack, env = ctx.stack, _env(ctx)
    location, account = connect_location(
        stack, f"locRecon{uuid.uuid4().hex[:8]}", f"acct-recon-{uuid.uuid4().hex[:6]}"
    )
    cm = default_mapping().contact
    stack.ghl.admin.seed(location, CONTACTS)
    contacts = stack.ghl.admin.state(location)["contacts"]
    rankr_ids = stack.rankr.admin.bulk_contacts(account, [cm.to_rankr(cm.from_ghl(c)) for c in contacts])
    mappings = SyncStateTable(env["SYNC_TABLE"], client=stack.client("dynamodb")).mappings
    pairs = []
    for contact, rankr_id in zip(contacts, rankr_ids, strict=True):
        mappings.put(IdMapping(location, Entity.CONTACT, contact["id"], rankr_id, account_id=account))
        pairs.append((contact["id"], rankr_id))
    ctx.state["reconcile_pairs"] = pairs
    return location, account


def _fire(ctx: ScenarioContext, schedule: str) -> dict[str, Any]:
    result: Any = ctx.stack.fire_schedule(f"{FUNCTION}.{schedule}")
    if not result.ok:
        raise RuntimeError(f"{schedule} schedule failed: {result.payload[:200]!r}")
    ctx.stack.drain(timeout=120)
    plan: dict[str, Any] = result.json()
    return plan


@step("Reconcile: a dropped webhook's change is repaired by the schedule", order=400, needs=("ghl", "rankr"))
def dropped_webhook_repaired(ctx: ScenarioContext) -> StepResult:
    location, account = _connect(ctx)
    ctx.state["reconcile_location"], ctx.state["reconcile_account"] = location, account
    nightly = _fire(ctx, "Nightly")  # first run of the location: full, sets its checkpoint
    ctx.say(f"nightly planner queued {nightly['enqueued']} location job(s)")
    ghl_id, rankr_id = ctx.state["reconcile_pairs"][0]
    ctx.stack.ghl.admin.edit(location, "contact", ghl_id, {"lastName": "Dropped-webhook"}, emit_webhook=False)
    ctx.say(f"edited GHL contact {ghl_id} with its webhook dropped")
    incremental = _fire(ctx, "Incremental")
    ctx.say(f"incremental planner queued {incremental['enqueued']} job(s); worker drained")
    rankr = {c["id"]: c for c in ctx.stack.rankr.admin.state(account)["contacts"]}
    if rankr[rankr_id].get("lastName") != "Dropped-webhook":
        return StepResult.failure(f"Rankr contact {rankr_id} still lacks the change")
    return StepResult.success(
        f"Rankr contact {rankr_id} caught up through the 15-minute schedule",
        counts={"jobs": int(incremental["enqueued"])},
    )


@step("Reconcile: dry-run report (writes nothing)", order=500, needs=("ghl", "rankr"))
def dry_run_report(ctx: ScenarioContext) -> StepResult:
    from rankr_ghl.aws.audit import DynamoAuditLog
    from rankr_ghl.aws.sync_state import SyncStateTable
    from rankr_ghl.aws.token_secrets import SecretsManagerTokenStore
    from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
    from rankr_ghl.flows.reconcile.run import Reconciler
    from rankr_ghl.ghl.client import GHLClient
    from rankr_ghl.ghl.records import GhlClientRecords
    from rankr_ghl.ghl.tokens import StaticTokenSource
    from rankr_ghl.rankr.client import RankrClient
    from rankr_ghl.rankr.records import RankrClientRecords

    location = ctx.state.get("reconcile_location")
    account = ctx.state.get("reconcile_account")
    if not location or not account:
        raise StepSkipped("the reconcile location was not set up")
    stack, env = ctx.stack, _env(ctx)
    pairs = ctx.state["reconcile_pairs"]
    stack.ghl.admin.edit(location, "contact", pairs[1][0], {"firstName": "Drifted"}, emit_webhook=False)
    stack.rankr.admin.delete(account, "contact", pairs[2][1])
    token = SecretsManagerTokenStore(env["TOKEN_SECRET_PREFIX"], client=stack.client("secretsmanager")).read(
        location
    )
    assert token is not None
    table = SyncStateTable(env["SYNC_TABLE"], client=stack.client("dynamodb"))
    ghl_client = GHLClient(StaticTokenSource(token.access_token.get_secret_value()), base_url=stack.ghl.url)
    rankr_client = RankrClient(stack.rankr.url, stack.rankr.api_key)
    reconciler = Reconciler(
        ghl=GhlClientRecords(lambda: ghl_client),
        rankr=RankrClientRecords(lambda: rankr_client),
        mappings=table.mappings,
        ledger=table.ledger,
        tombstones=table.tombstones,
        checkpoints=table.checkpoints,
        audit=DynamoAuditLog(env["AUDIT_TABLE"], client=stack.client("dynamodb")),
    )
    before = stack.rankr.admin.state(account)
    report = reconciler.run(ReconcileJob(location, Mode.FULL, dry_run=True), account_id=account).report
    if stack.rankr.admin.state(account) != before:
        return StepResult.failure("the dry run changed Rankr")
    for kind, count in sorted(report.differences.items()):
        ctx.say(f"{kind}: {count}")
    for sample in report.samples:
        ctx.say(
            f"  {sample['kind']} {sample['ghlId'] or '-'} / {sample['rankrId'] or '-'}: {sample['fields']}"
        )
    ctx.say(f"`rankr-ghl reconcile run --location {location} --full` would repair them")
    return StepResult.success(
        f"{report.total_differences} difference(s) reported, nothing written",
        counts={k.replace(".", "_"): v for k, v in report.differences.items()},
    )
