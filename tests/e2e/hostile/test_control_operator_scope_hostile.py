"""The operator scope through the local runtime's Lambda Invoke API: operator ops sent anywhere but
ControlFunction's `ops` alias (Rankr's `live`, the unqualified function, `$LATEST`, a version) are
refused with one and the same `forbidden`, whatever they name, and nothing anywhere changes. On `ops`,
an account filter still hides every other account's connection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import Tenants, assert_nothing_written, install_two_tenants, new_id, world_snapshot
from rankr_ghl_tools.installs import CONTROL_ALIAS_OUTPUT

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def tenants(e2e_stack) -> Iterator[Tenants]:
    yield install_two_tenants(e2e_stack, "Op")


def _invoke(stack: Any, function: str, payload: Any, qualifier: str | None = None) -> dict[str, Any]:
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    response = stack.client("lambda").invoke(
        FunctionName=function, Payload=json.dumps(payload).encode(), **kwargs
    )
    body = response["Payload"].read()
    assert not response.get("FunctionError"), body[:500]
    answer: dict[str, Any] = json.loads(body)
    return answer


def _operator_requests(t: Tenants) -> list[dict[str, Any]]:
    return [
        {"op": "ops.connections.list"},
        {"op": "ops.connections.list", "rankrAccountId": t.account_b},
        {"op": "ops.connection.get", "connectionId": t.location_b},
        {"op": "ops.connection.pause", "connectionId": t.location_b},
        {"op": "ops.connection.resume", "connectionId": t.location_b, "rankrAccountId": t.account_a},
        {"op": "ops.logs.query", "locationId": t.location_b},
        {"op": "ops.test_transfer", "locationId": t.location_b, "ghlContactId": "c1", "apply": True},
        {"op": "ops.mapping.put", "locationId": t.location_b, "document": {"version": 1}},
        {"op": "ops.mapping.delete", "rankrAccountId": t.account_b},
        {"op": "ops.reconcile.start", "locationId": t.location_b, "mode": "full"},
        {"op": "ops.reconcile.status", "locationId": t.location_b},
        {"op": "ops.dlq.summary"},
        {"op": "ops.dlq.replay", "queue": "webhooks"},
        {"op": "ops.dlq.replay", "queue": "lead-push", "rankrAccountId": t.account_a},
        {"op": "ops.no.such.op"},
        {"op": "ops.connection.get", "connectionId": "<script>alert(1)</script>", "as": "admin"},
        {"op": "ops.connections.list", "rankrAccountId": t.account_a, "padding": "x" * 50_000},
    ]


def test_operator_ops_outside_the_ops_alias_are_forbidden_and_change_nothing(e2e_stack, tenants) -> None:
    stack = e2e_stack
    live = stack.template.outputs[CONTROL_ALIAS_OUTPUT]
    function = stack.template.functions["ControlFunction"]
    stack.drain(timeout=60)
    before = world_snapshot(stack)
    answers: list[dict[str, Any]] = []
    for request in _operator_requests(tenants):
        answers.append(_invoke(stack, live, request))  # Rankr's alias
        answers.append(_invoke(stack, function.arn, request))  # unqualified: $LATEST
        answers.append(_invoke(stack, function.name, request, qualifier="$LATEST"))
        answers.append(_invoke(stack, function.name, request, qualifier="1"))  # a version
    assert all(answer["ok"] is False for answer in answers)
    assert {json.dumps(answer["error"], sort_keys=True) for answer in answers} == {
        json.dumps(answers[0]["error"], sort_keys=True)
    }
    assert answers[0]["error"]["code"] == "forbidden" and answers[0]["error"]["retryable"] is False
    text = json.dumps(answers)
    assert tenants.location_b not in text and tenants.account_b not in text and "<script>" not in text
    stack.drain(timeout=60)
    assert_nothing_written(before, world_snapshot(stack), allow_audit_rejections=False)


def test_on_the_ops_alias_an_account_filter_hides_other_accounts(e2e_stack, tenants) -> None:
    stack = e2e_stack
    ops = stack.template.outputs["ControlOpsAliasArn"]
    assert ops.endswith(":ops")
    every = _invoke(stack, ops, {"op": "ops.connection.get", "connectionId": tenants.location_b})
    assert every["ok"] and every["result"]["connection"]["rankrAccountId"] == tenants.account_b
    filtered = _invoke(
        stack,
        ops,
        {"op": "ops.connection.get", "connectionId": tenants.location_b, "rankrAccountId": tenants.account_a},
    )
    missing = _invoke(stack, ops, {"op": "ops.connection.get", "connectionId": new_id("locNone")})
    assert filtered["error"] == missing["error"] and filtered["error"]["code"] == "not_found"
    mine = _invoke(stack, ops, {"op": "ops.connections.list", "rankrAccountId": tenants.account_a})
    assert [c["connectionId"] for c in mine["result"]["connections"]] == [tenants.location_a]
    # Rankr's account ops keep their scope on the operators' alias too.
    foreign = _invoke(
        stack,
        ops,
        {"op": "connection.get", "rankrAccountId": tenants.account_a, "locationId": tenants.location_b},
    )
    assert foreign["error"]["code"] == "not_found"
