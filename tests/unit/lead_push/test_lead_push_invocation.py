"""How an invocation answers, by the alias it came through: `live` returns per-lead results, the
async alias raises on a retryable failure so that Lambda retries it (the payload need not say so)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from lead_push_world import LOCATION, World
from rankr_ghl.flows.lead_push.idempotency import LeadIdempotency
from rankr_ghl.flows.lead_push.invocation import ASYNC_ALIAS, LeadPushInvocation, invoked_as
from rankr_ghl.flows.lead_push.request import InvocationType, LeadPushIncomplete, LeadPushRequestError
from rankr_ghl.ghl.errors import GHLServerError

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:rankr-ghl-dev-LeadPushFunction"


@dataclass
class Context:
    invoked_function_arn: str
    function_name: str = "rankr-ghl-dev-LeadPushFunction"
    function_version: str = "1"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def _invocation(world: World) -> LeadPushInvocation:
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    idempotency = LeadIdempotency(
        runner=lambda fn: fn, config=world.config, in_progress_errors=(IdempotencyAlreadyInProgressError,)
    )
    return LeadPushInvocation(world.service, idempotency)


def _lead(lead_id: str) -> dict[str, Any]:
    return {"leadId": lead_id, "locationId": LOCATION, "email": f"{lead_id.lower()}@example.com"}


@pytest.mark.parametrize(
    ("qualifier", "payload_flag", "expected"),
    [
        (ASYNC_ALIAS, None, InvocationType.EVENT),
        (ASYNC_ALIAS, "RequestResponse", InvocationType.EVENT),
        ("live", None, InvocationType.REQUEST_RESPONSE),
        ("live", "Event", InvocationType.EVENT),  # the payload flag is still honoured
        (None, None, InvocationType.REQUEST_RESPONSE),
        ("$LATEST", None, InvocationType.REQUEST_RESPONSE),
    ],
)
def test_invoked_as(qualifier: str | None, payload_flag: str | None, expected: InvocationType) -> None:
    arn = f"{FUNCTION_ARN}:{qualifier}" if qualifier else FUNCTION_ARN
    event: dict[str, Any] = {"leads": [_lead("L1")]}
    if payload_flag:
        event["invocationType"] = payload_flag
    assert invoked_as(event, Context(arn)) is expected


def _ghl_down(world: World) -> None:
    world.ghl.fail_with = GHLServerError("boom", status=503, may_have_been_applied=False)
    world.ghl.faults.extend([("upsert", "500")] * 10 + [("create", "500")] * 10)


def test_live_alias_answers_a_retryable_failure_per_lead(world: World) -> None:
    _ghl_down(world)
    body = _invocation(world).handle({"leads": [_lead("L1")]}, Context(f"{FUNCTION_ARN}:live"))
    [result] = body["results"]
    assert result["outcome"] == "failed" and result["error"]["retryable"] is True


def test_async_alias_raises_a_retryable_failure_without_a_payload_flag(world: World) -> None:
    _ghl_down(world)
    with pytest.raises(LeadPushIncomplete) as raised:
        _invocation(world).handle({"leads": [_lead("L1")]}, Context(f"{FUNCTION_ARN}:{ASYNC_ALIAS}"))
    assert [f["leadId"] for f in raised.value.failures] == ["L1"]


def test_async_alias_returns_when_every_lead_is_done(world: World) -> None:
    body = _invocation(world).handle(
        {"leads": [_lead("L1"), {"leadId": "bad"}]}, Context(f"{FUNCTION_ARN}:{ASYNC_ALIAS}")
    )
    # An invalid lead is not retryable: retrying the event cannot help, so nothing raises.
    assert body["counts"]["created"] == 1 and body["counts"]["failed"] == 1


def test_async_alias_raises_on_an_unusable_request(world: World) -> None:
    context = Context(f"{FUNCTION_ARN}:{ASYNC_ALIAS}")
    with pytest.raises(LeadPushRequestError):
        _invocation(world).handle({"leads": []}, context)
    answered = _invocation(world).handle({"leads": []}, Context(f"{FUNCTION_ARN}:live"))
    assert answered["error"]["code"] == "invalid_request"
