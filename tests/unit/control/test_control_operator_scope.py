"""The control API's operator scope: the scope comes from the invoked alias, operator ops run only
through `ops` (across accounts, `rankrAccountId` a filter) and are refused everywhere else, with
nothing read or written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from control_fakes import Backlog, DeadLetterCounts, DeadLetters, JobQueue, Letter, budget_snapshot
from fakes import InMemoryCheckpointStore
from rankr_ghl.connections.install_links import InstallLinkIssuer, ReturnUrlPolicy, SignedTokens
from rankr_ghl.connections.models import Connection, ConnectionStatus, UserType
from rankr_ghl.flows.control.operator_contract import OPERATOR_OPS
from rankr_ghl.flows.control.schemas import contract_document
from rankr_ghl.flows.control.scope import Scope, scope_of
from rankr_ghl.flows.control.service import ControlService
from rankr_ghl.flows.reconcile.jobs import Mode
from rankr_ghl.sync.mapping import default_mapping
from test_control_service import INSTALL, KEY, Audit, Claims, Connections, Mappings, Runner, preview

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:rankr-ghl-dev-ControlFunction"


@dataclass
class Context:
    invoked_function_arn: str


OPS = Context(f"{FUNCTION}:ops")
LIVE = Context(f"{FUNCTION}:live")
LATEST = Context(FUNCTION)


class DeletableMappings(Mappings):
    def delete_mapping_document(self, *, location_id=None, account_id=None):
        self.documents.pop((location_id, account_id), None)


@pytest.fixture
def world() -> Any:
    connections = Connections()
    for loc, account, company in (
        ("locA", "acctA", "co1"),
        ("locA2", "acctA", None),
        ("locB", "acctB", "co1"),
        ("locFree", None, None),
    ):
        connections.save(
            Connection(
                connection_id=loc,
                location_id=loc,
                company_id=company,
                user_type=UserType.LOCATION,
                rankr_account_id=account,
            )
        )
    links = InstallLinkIssuer(SignedTokens(KEY, "install-link", ttl_s=900), INSTALL, ReturnUrlPolicy([]))
    audit, mappings, dead = Audit(), DeletableMappings(), DeadLetters()
    queue, checkpoints = JobQueue(), InMemoryCheckpointStore()
    service = ControlService(
        links=lambda: links,
        connections=lambda: connections,
        claims=Claims,
        audit=lambda: audit,
        transfer_preview=preview,
        transfer_runner=Runner(),
        mappings=lambda: mappings,
        reconcile_queue=lambda: queue,
        checkpoints=lambda: checkpoints,
        dead_letters=lambda: dead,
        dead_letter_counts=DeadLetterCounts,
        sweep_budget_s=5.0,
        backlog=Backlog,
        rate_budget=budget_snapshot,
    )

    class World:
        pass

    w = World()
    w.service, w.connections, w.audit, w.mappings, w.dead, w.queue = (
        service,
        connections,
        audit,
        mappings,
        dead,
        queue,
    )
    return w


def _state(w: Any) -> str:
    return json.dumps(
        {
            "connections": [c.to_json_dict() for c in w.connections.list()],
            "mappings": repr(w.mappings.documents),
            "audit_queries": w.audit.queries,
            "dead": [w.dead.looks, sorted(w.dead.replayed)],
            "queued": len(w.queue.sent),
        },
        sort_keys=True,
    )


def _ok(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["ok"], answer
    return answer["result"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("arn", "scope"),
    [
        (f"{FUNCTION}:ops", Scope.OPERATOR),
        (f"{FUNCTION}:live", Scope.ACCOUNT),
        (FUNCTION, Scope.ACCOUNT),  # unqualified: $LATEST
        (f"{FUNCTION}:$LATEST", Scope.ACCOUNT),
        (f"{FUNCTION}:7", Scope.ACCOUNT),  # a version
        (f"{FUNCTION}:OPS", Scope.ACCOUNT),
        (f"{FUNCTION}:opsx", Scope.ACCOUNT),
        (f"{FUNCTION}:ops:extra", Scope.ACCOUNT),
        ("ops", Scope.ACCOUNT),
        ("", Scope.ACCOUNT),
    ],
)
def test_the_scope_is_the_invoked_alias_and_only_ops_is_the_operator_s(arn: str, scope: Scope) -> None:
    assert scope_of(Context(arn)) is scope


def test_no_context_is_the_account_scope() -> None:
    assert scope_of(None) is Scope.ACCOUNT and scope_of(object()) is Scope.ACCOUNT


HOSTILE_OPERATOR_REQUESTS = [
    {"op": "ops.connections.list"},
    {"op": "ops.connections.list", "rankrAccountId": "acctA"},
    {"op": "ops.connection.get", "connectionId": "locB"},
    {"op": "ops.connection.pause", "connectionId": "locB"},
    {"op": "ops.connection.resume", "connectionId": "locB", "rankrAccountId": "acctA"},
    {"op": "ops.logs.query", "locationId": "locB"},
    {"op": "ops.mapping.put", "locationId": "locB", "document": {"version": 1}},
    {"op": "ops.mapping.delete", "rankrAccountId": "acctB"},
    {"op": "ops.reconcile.start", "locationId": "locB", "mode": "full"},
    {"op": "ops.dlq.summary"},
    {"op": "ops.dlq.replay", "queue": "webhooks"},
    {"op": "ops.no.such.op", "rankrAccountId": "acctA"},
    {"op": "ops.connection.get", "connectionId": "<script>", "extra": "x" * 1000},
]


@pytest.mark.parametrize("context", [LIVE, LATEST, Context(f"{FUNCTION}:$LATEST"), None])
def test_operator_ops_are_refused_outside_the_ops_alias_and_nothing_is_read(world: Any, context: Any) -> None:
    world.dead.queued["webhooks"].append(Letter("webhooks", "m1", "locB"))
    before = _state(world)
    answers = [world.service.handle(request, context) for request in HOSTILE_OPERATOR_REQUESTS]
    errors = {json.dumps(a["error"], sort_keys=True) for a in answers}
    # One answer whatever the request names: it reveals nothing about ops, ids or accounts.
    assert len(errors) == 1 and all(not a["ok"] for a in answers)
    (error,) = [a["error"] for a in answers[:1]]
    assert error["code"] == "forbidden" and error["retryable"] is False
    assert "locB" not in json.dumps(answers) and "acctB" not in json.dumps(answers)
    assert _state(world) == before


def test_account_ops_keep_their_scope_on_live(world: Any) -> None:
    listed = _ok(world.service.handle({"op": "connections.list", "rankrAccountId": "acctA"}, LIVE))
    assert sorted(c["locationId"] for c in listed["connections"]) == ["locA", "locA2"]
    foreign = world.service.handle(
        {"op": "connection.get", "rankrAccountId": "acctA", "locationId": "locB"}, LIVE
    )
    assert foreign["error"]["code"] == "not_found"


def test_account_ops_keep_their_scope_on_ops_too(world: Any) -> None:
    foreign = world.service.handle(
        {"op": "connection.get", "rankrAccountId": "acctA", "locationId": "locB"}, OPS
    )
    assert foreign["error"]["code"] == "not_found"
    unknown = world.service.handle({"op": "ops.no.such.op"}, OPS)
    assert unknown["error"]["code"] == "unknown_op"


def test_ops_connections_list_spans_accounts_filters_and_pages(world: Any) -> None:
    every = _ok(world.service.handle({"op": "ops.connections.list"}, OPS))
    assert [c["connectionId"] for c in every["connections"]] == ["locA", "locA2", "locB", "locFree"]
    assert every["nextCursor"] is None
    row = every["connections"][2]
    assert row["rankrAccountId"] == "acctB" and row["companyId"] == "co1" and "tokenSource" in row
    mine = _ok(world.service.handle({"op": "ops.connections.list", "rankrAccountId": "acctA"}, OPS))
    assert [c["connectionId"] for c in mine["connections"]] == ["locA", "locA2"]
    agency = _ok(world.service.handle({"op": "ops.connections.list", "companyId": "co1"}, OPS))
    assert [c["connectionId"] for c in agency["connections"]] == ["locA", "locB"]
    both = {"op": "ops.connections.list", "companyId": "co1", "rankrAccountId": "acctB"}
    assert [c["connectionId"] for c in _ok(world.service.handle(both, OPS))["connections"]] == ["locB"]
    first = _ok(world.service.handle({"op": "ops.connections.list", "limit": 3}, OPS))
    assert len(first["connections"]) == 3 and first["nextCursor"] == "locB"
    rest = _ok(world.service.handle({"op": "ops.connections.list", "limit": 3, "cursor": "locB"}, OPS))
    assert [c["connectionId"] for c in rest["connections"]] == ["locFree"] and rest["nextCursor"] is None


def test_ops_connection_get_any_account_and_the_filter_hides_others(world: Any) -> None:
    got = _ok(world.service.handle({"op": "ops.connection.get", "connectionId": "locB"}, OPS))["connection"]
    assert got["connectionId"] == "locB" and got["rankrAccountId"] == "acctB"
    assert "deadLetters" in got and "rateBudget" in got  # connection.get's live parts of a location
    filtered = world.service.handle(
        {"op": "ops.connection.get", "connectionId": "locB", "rankrAccountId": "acctA"}, OPS
    )
    missing = world.service.handle({"op": "ops.connection.get", "connectionId": "locNope"}, OPS)
    assert filtered["error"] == missing["error"] and filtered["error"]["code"] == "not_found"


def test_ops_pause_and_resume_follow_the_status_rules(world: Any) -> None:
    paused = _ok(
        world.service.handle({"op": "ops.connection.pause", "connectionId": "locB", "reason": "x"}, OPS)
    )
    assert paused["connection"]["status"] == "paused" and paused["connection"]["statusReason"] == "operator"
    again = world.service.handle({"op": "ops.connection.pause", "connectionId": "locB"}, OPS)
    assert again["error"]["code"] == "invalid_state"
    assert world.connections.get("locB").status is ConnectionStatus.PAUSED
    start = world.service.handle({"op": "ops.reconcile.start", "locationId": "locB"}, OPS)
    assert start["error"]["code"] == "not_active" and world.queue.sent == []
    resumed = _ok(world.service.handle({"op": "ops.connection.resume", "connectionId": "locB"}, OPS))
    assert resumed["connection"]["status"] == "active" and resumed["connection"]["statusReason"] is None
    twice = world.service.handle({"op": "ops.connection.resume", "connectionId": "locB"}, OPS)
    assert twice["error"]["code"] == "invalid_state"


def test_ops_logs_query_reads_any_location(world: Any) -> None:
    page = _ok(world.service.handle({"op": "ops.logs.query", "locationId": "locB", "limit": 2}, OPS))
    assert len(page["entries"]) == 2 and page["nextCursor"]
    refused = world.service.handle(
        {"op": "ops.logs.query", "locationId": "locB", "rankrAccountId": "acctA"}, OPS
    )
    assert refused["error"]["code"] == "not_found"


def test_ops_mapping_get_put_delete_by_location_or_account(world: Any) -> None:
    document = default_mapping().document.to_json()
    put = _ok(
        world.service.handle({"op": "ops.mapping.put", "locationId": "locB", "document": document}, OPS)
    )
    assert put["scope"] == "location" and world.mappings.documents[("locB", None)]
    got = _ok(world.service.handle({"op": "ops.mapping.get", "locationId": "locB"}, OPS))
    assert got["source"] == "location" and got["version"] == put["version"]
    account = {"op": "ops.mapping.put", "rankrAccountId": "acctB", "document": document}
    assert _ok(world.service.handle(account, OPS))["scope"] == "account"
    assert world.mappings.documents[(None, "acctB")]
    deleted = _ok(world.service.handle({"op": "ops.mapping.delete", "locationId": "locB"}, OPS))
    assert (
        deleted == {"deleted": True, "scope": "location"} and ("locB", None) not in world.mappings.documents
    )
    fallback = _ok(world.service.handle({"op": "ops.mapping.get", "locationId": "locB"}, OPS))
    assert fallback["source"] == "default"
    neither = world.service.handle({"op": "ops.mapping.get"}, OPS)
    assert neither["error"]["code"] == "invalid_request"
    bad = {
        "op": "ops.mapping.put",
        "locationId": "locB",
        "document": {"version": 1, "contact": {"fields": 3}},
    }
    assert world.service.handle(bad, OPS)["error"]["code"] == "invalid_mapping"
    assert ("locB", None) not in world.mappings.documents


def test_ops_reconcile_start_queues_any_location_in_any_mode(world: Any) -> None:
    started = _ok(
        world.service.handle(
            {"op": "ops.reconcile.start", "locationId": "locB", "mode": "notes", "dryRun": True}, OPS
        )
    )
    (job,) = world.queue.sent
    assert (
        job.location_id == "locB"
        and job.mode is Mode.NOTES
        and job.dry_run
        and job.run_id == started["runId"]
    )
    status = _ok(world.service.handle({"op": "ops.reconcile.status", "locationId": "locB"}, OPS))
    assert status["state"] == "queued" and status["runId"] == started["runId"]


def test_ops_dlq_summary_and_replay_span_accounts(world: Any) -> None:
    world.dead.queued["webhooks"] += [
        Letter("webhooks", "m1", "locA"),
        Letter("webhooks", "m2", "locB"),
        Letter("webhooks", "m3", "locGone"),
    ]
    summary = _ok(world.service.handle({"op": "ops.dlq.summary"}, OPS))
    assert summary["queues"]["webhooks"]["messages"] == 3
    mine = _ok(world.service.handle({"op": "ops.dlq.summary", "rankrAccountId": "acctA"}, OPS))
    assert mine["queues"]["webhooks"]["byLocation"] == {"locA": 1}
    replayed = _ok(world.service.handle({"op": "ops.dlq.replay", "queue": "webhooks", "max": 2}, OPS))
    assert len(replayed["replayed"]) == 2 and world.dead.replayed == replayed["replayed"]
    rest = _ok(world.service.handle({"op": "ops.dlq.replay", "queue": "webhooks"}, OPS))
    assert len(rest["replayed"]) == 1 and sorted(world.dead.replayed) == ["m1", "m2", "m3"]


def test_every_operator_op_publishes_a_json_schema_with_an_optional_account() -> None:
    document = contract_document()
    docs = (Path(__file__).resolve().parents[3] / "docs" / "control-api.md").read_text()
    assert "## Operator scope" in docs
    assert set(document["operatorOps"]) == set(OPERATOR_OPS)
    for name, schema in document["operatorOps"].items():
        assert name.startswith("ops.") and schema["properties"]["op"]["const"] == name
        assert "rankrAccountId" in schema["properties"] and "rankrAccountId" not in schema["required"]
        assert json.dumps(schema, indent=2, sort_keys=True) in docs, f"docs/control-api.md: schema of {name}"
    assert "forbidden" in document["errors"]
