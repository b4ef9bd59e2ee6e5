"""functions/webhook_intake on the embedded AWS: the dedupe claim is a short lease until the event is
queued, so an intake killed between the claim and SendMessage never strands GHL's retries."""

from __future__ import annotations

import time

import pytest
from rankr_ghl.flows.intake import SqsEventQueue
from webhook_itest_helpers import IntakeEnv, unique_event

pytestmark = pytest.mark.integration

HORIZON_S = 48 * 3600


class Killed(BaseException):
    """The Lambda runtime ending the invocation: no handler code runs after it."""


def _expires_in(intake_env: IntakeEnv, key: str) -> float:
    item = intake_env.dedupe_item(key)
    assert item is not None
    return float(item["expiresAt"]["N"]) - time.time()


def test_a_kill_between_claim_and_send_leaves_only_a_short_lease(
    intake_env: IntakeEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = unique_event()
    key = f"webhook:{event['webhookId']}"

    def killed(self: SqsEventQueue, message: object) -> str:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(SqsEventQueue, "send", killed)
        with pytest.raises(Killed):
            intake_env.deliver(event)
    assert intake_env.messages() == []
    lease = _expires_in(intake_env, key)
    assert 0 < lease <= 120  # lapses within the function timeout + 30 s, not after the horizon

    # The lease has lapsed (as it does a minute later): GHL's next retry is queued, once.
    client = intake_env.aws.client("dynamodb")
    client.update_item(
        TableName=intake_env.table,
        Key={"pk": {"S": f"DEDUPE#{key}"}, "sk": {"S": "DEDUPE"}},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    assert intake_env.deliver(event)["statusCode"] == 202
    assert intake_env.deliver(event)["statusCode"] == 200
    assert len(intake_env.messages()) == 1
    assert _expires_in(intake_env, key) > HORIZON_S  # extended once queued


def test_a_30_minute_old_retry_is_accepted_once(intake_env: IntakeEnv) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 30 * 60))
    event = unique_event(timestamp=stamp)
    assert intake_env.deliver(event)["statusCode"] == 202
    assert intake_env.deliver(event)["statusCode"] == 200
    assert len(intake_env.messages()) == 1
