"""Helpers shared by e2e tests: ids, real installs through the gateway, waiting, state snapshots."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rankr_ghl_tools.installs import CONTROL_ALIAS_OUTPUT, mint_install_link, walk_install
from rankr_ghl_tools.local.stack import LocalStack


def new_id(prefix: str) -> str:
    """GHL-shaped unique id (alphanumerics only)."""
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def install_location(stack: LocalStack, location_id: str, rankr_account: str, *, timeout: float = 30) -> None:
    """A real install the way Rankr starts one: `install_link` from the control API, then the browser
    walk /oauth/install -> GHL consent -> /oauth/callback -> /oauth/done."""
    stack.ghl.admin.create_location(location_id)
    stack.ghl.admin.consent(location_id=location_id)
    walk = walk_install(mint_install_link(stack, rankr_account), timeout=timeout)
    assert walk.start.status_code == 302, walk.start.text
    assert walk.consent is not None and walk.consent.status_code == 302, walk.page.text
    assert "state" in parse_qs(urlsplit(walk.consent.headers["location"]).query)
    assert walk.done is not None and walk.done.status_code == 200, walk.page.text


@dataclass(frozen=True)
class Tenants:
    account_a: str
    location_a: str
    account_b: str
    location_b: str


def install_two_tenants(stack: LocalStack, prefix: str = "") -> Tenants:
    """Two Rankr accounts, each with one installed location (ids start with `prefix`)."""
    ids = Tenants(
        new_id(f"acct{prefix}A"), new_id(f"loc{prefix}A"), new_id(f"acct{prefix}B"), new_id(f"loc{prefix}B")
    )
    install_location(stack, ids.location_a, ids.account_a)
    install_location(stack, ids.location_b, ids.account_b)
    return ids


def control_cli_args(stack: LocalStack) -> list[str]:
    """The `rankr-ghl` options that send its commands to the stack's ControlFunction (Rankr's alias;
    the client switches to the operators' alias for operator commands)."""
    function = stack.template.outputs[CONTROL_ALIAS_OUTPUT]
    return ["--control-function", function, "--invoke-url", stack.invoke_url]


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


# -- "nothing was written" snapshots -----------------------------------------------------------------
def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: next(iter(v.values())) for k, v in item.items()}


def scan_table(stack: LocalStack, table: str) -> list[dict[str, Any]]:
    dynamodb = stack.client("dynamodb")
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items.extend(_plain(i) for i in page["Items"])
    return items


def _key(item: dict[str, Any]) -> str:
    return "|".join(str(item.get(k)) for k in ("pk", "sk", "connectionId", "id"))


def world_snapshot(stack: LocalStack) -> dict[str, Any]:
    """Everything a request could write: both sandboxes, every table, secret versions, queues, and how
    often each queue-driven function ran (a consumed message still shows as an invocation)."""
    assert stack.template is not None and stack.service is not None
    ghl_store = stack.ghl.app.store
    with ghl_store.lock:
        tokens = (len(ghl_store.access_tokens), len(ghl_store.refresh_tokens), len(ghl_store.codes))
    ghl_state = {
        loc["locationId"]: stack.ghl.admin.state(loc["locationId"]) for loc in stack.ghl.admin.locations()
    }
    write_calls = {
        name: count
        for name, count in stack.ghl.admin.stats()["requests"].items()
        if name.split(" ")[0] in {"POST", "PUT", "DELETE", "PATCH"}
        and "/search" not in name
        and name != "POST /oauth/token"  # a refused grant; issued tokens are counted above
    }
    rankr_stats = stack.rankr.admin.stats()["requests"]
    tables = {
        logical_id: {_key(i): i for i in scan_table(stack, spec.name)}
        for logical_id, spec in stack.template.tables.items()
    }
    sm = stack.client("secretsmanager")
    secrets: dict[str, Any] = {}
    for page in sm.get_paginator("list_secrets").paginate(IncludePlannedDeletion=True):
        for entry in page["SecretList"]:
            secrets[entry["Name"]] = sorted(entry.get("SecretVersionsToStages", {}))
    sqs = stack.client("sqs")
    queues = {}
    for logical_id, queue in stack.template.queues.items():
        attrs = sqs.get_queue_attributes(
            QueueUrl=queue.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        queues[logical_id] = sum(int(v) for v in attrs.values())
    invocations = {name: pool.invocations for name, pool in stack.service.pools.items()}
    return {
        "ghl_tokens": tokens,
        "ghl_state": ghl_state,
        "ghl_write_calls": write_calls,
        "rankr_state": stack.rankr.admin.state(),
        "rankr_write_calls": {k: v for k, v in rankr_stats.items() if not k.startswith("GET")},
        "tables": tables,
        "secrets": secrets,
        "queues": queues,
        "invocations": invocations,
    }


QUEUE_DRIVEN = ("WebhookWorkerFunction", "ReconcileFunction")
REJECTION_OUTCOMES = {"failed", "skipped"}


def assert_nothing_written(
    before: dict[str, Any], after: dict[str, Any], *, allow_audit_rejections: bool
) -> None:
    """No write anywhere; new audit items are allowed only as records of a rejection."""
    assert after["ghl_tokens"][:2] == before["ghl_tokens"][:2], "GHL issued tokens"
    assert after["ghl_state"] == before["ghl_state"], "GHL sandbox state changed"
    assert after["ghl_write_calls"] == before["ghl_write_calls"], "write calls reached the GHL sandbox"
    assert after["rankr_state"] == before["rankr_state"], "Rankr sandbox state changed"
    assert after["rankr_write_calls"] == before["rankr_write_calls"], "write calls reached the Rankr sandbox"
    for logical_id, items in after["tables"].items():
        old = before["tables"].get(logical_id, {})
        changed = [k for k, v in items.items() if k in old and old[k] != v]
        removed = [k for k in old if k not in items]
        added = [items[k] for k in items if k not in old]
        assert not changed and not removed, f"{logical_id}: items changed {changed} removed {removed}"
        if logical_id == "AuditTable" and allow_audit_rejections:
            bad = [a for a in added if a.get("outcome") not in REJECTION_OUTCOMES]
            assert not bad, f"AuditTable: non-rejection entries added: {bad}"
        else:
            assert not added, f"{logical_id}: {len(added)} item(s) added: {[_key(a) for a in added]}"
    assert after["secrets"] == before["secrets"], "Secrets Manager changed"
    assert all(depth == 0 for depth in after["queues"].values()), f"queued: {after['queues']}"
    for name in QUEUE_DRIVEN:
        assert after["invocations"].get(name, 0) == before["invocations"].get(name, 0), f"{name} ran"


def quick_snapshot(stack: LocalStack) -> dict[str, Any]:
    """The cheap part of `world_snapshot` (per request): tokens issued, write calls to either sandbox,
    item counts per table, runs of queue-driven functions. The full snapshot brackets a whole run."""
    assert stack.template is not None and stack.service is not None
    store = stack.ghl.app.store
    with store.lock:
        tokens = (len(store.access_tokens), len(store.refresh_tokens))
    ghl_writes = {
        name: count
        for name, count in stack.ghl.app.stats()["requests"].items()
        if name.split(" ")[0] in {"POST", "PUT", "DELETE", "PATCH"}
        and "/search" not in name
        and name != "POST /oauth/token"
    }
    rankr_writes = {k: v for k, v in stack.rankr.admin.stats()["requests"].items() if not k.startswith("GET")}
    dynamodb = stack.client("dynamodb")
    counts = {
        logical_id: dynamodb.scan(TableName=spec.name, Select="COUNT")["Count"]
        for logical_id, spec in stack.template.tables.items()
        if logical_id != "AuditTable"  # rejections may be audited; the full snapshot checks what
    }
    invocations = {
        name: pool.invocations for name, pool in stack.service.pools.items() if name in QUEUE_DRIVEN
    }
    return {"tokens": tokens, "ghl": ghl_writes, "rankr": rankr_writes, "items": counts, "runs": invocations}
