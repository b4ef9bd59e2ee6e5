"""functions/webhook_intake on the embedded AWS: real SQS FIFO and DynamoDB dedupe."""

from __future__ import annotations

import base64
import json

import pytest
from rankr_ghl import wiring
from webhook_itest_helpers import FakeLambdaContext, IntakeEnv, api_event, unique_event

pytestmark = pytest.mark.integration


def test_accepted_event_lands_on_fifo_queue_with_attributes(intake_env: IntakeEnv) -> None:
    event = unique_event()
    response = intake_env.deliver(event)
    assert response["statusCode"] == 202, response
    assert json.loads(response["body"])["status"] == "accepted"

    (message,) = intake_env.messages()
    attrs = message["Attributes"]
    assert attrs["MessageGroupId"] == event["locationId"]
    assert attrs["MessageDeduplicationId"] == f"webhook:{event['webhookId']}"
    user_attrs = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert user_attrs["eventType"] == "ContactUpdate"
    assert user_attrs["locationId"] == event["locationId"]
    body = json.loads(message["Body"])
    assert body["event"]["id"] == event["id"]
    assert (
        body["correlationId"] == user_attrs["correlationId"] == json.loads(response["body"])["correlationId"]
    )
    assert intake_env.dedupe_item(f"webhook:{event['webhookId']}") is not None


def test_same_webhook_id_delivered_three_times_gives_one_message(intake_env: IntakeEnv) -> None:
    event = unique_event()
    statuses = [intake_env.deliver(event)["statusCode"] for _ in range(3)]
    assert statuses == [202, 200, 200]
    assert len(intake_env.messages()) == 1


def test_base64_encoded_delivery(intake_env: IntakeEnv) -> None:
    response = intake_env.deliver(unique_event(), base64_encoded=True)
    assert response["statusCode"] == 202
    assert len(intake_env.messages()) == 1


def test_enqueue_failure_answers_503_and_releases_claim(
    intake_env: IntakeEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = unique_event()
    key = f"webhook:{event['webhookId']}"
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", intake_env.queue_url.replace(".fifo", "-missing.fifo"))
    wiring.reset()  # the root reads the environment once
    response = intake_env.deliver(event)
    assert response["statusCode"] == 503
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert json.loads(response["body"])["reason"] == "enqueue_failed"
    assert intake_env.dedupe_item(key) is None  # released: GHL's retry is not a "duplicate"

    monkeypatch.setenv("WEBHOOK_QUEUE_URL", intake_env.queue_url)
    wiring.reset()
    assert intake_env.deliver(event)["statusCode"] == 202
    assert len(intake_env.messages()) == 1


def test_forged_delivery_is_refused_with_problem_json(intake_env: IntakeEnv) -> None:
    event = unique_event()
    other = json.dumps({**event, "firstName": "x"}).encode()
    forged_sig = base64.b64encode(intake_env.key.sign(other)).decode()
    response = intake_env.deliver(event, signature=forged_sig)
    assert response["statusCode"] == 401
    assert response["headers"]["Content-Type"] == "application/problem+json"
    problem = json.loads(response["body"])
    assert problem["reason"] == "invalid_signature" and problem["status"] == 401
    assert intake_env.messages() == []
    assert intake_env.dedupe_item(f"webhook:{event['webhookId']}") is None


def test_unknown_type_is_acknowledged_and_not_queued(intake_env: IntakeEnv) -> None:
    response = intake_env.deliver(unique_event(type="OpportunityStageUpdate"))
    assert response["statusCode"] == 202
    assert json.loads(response["body"])["status"] == "ignored"
    assert intake_env.messages() == []


def test_raw_body_is_not_reserialised_by_the_resolver(intake_env: IntakeEnv) -> None:
    # Odd-but-valid JSON formatting: the signature only verifies over these exact bytes.
    event = unique_event()
    ids = (event["locationId"], event["id"], event["webhookId"])
    body = '{ "type" : "ContactUpdate",\n  "locationId":"%s", "id":"%s",   "webhookId":"%s" }\n' % ids  # noqa: UP031
    body_bytes = body.encode()
    signature = base64.b64encode(intake_env.key.sign(body_bytes)).decode()
    response = intake_env.module.lambda_handler(
        api_event(body_bytes, {"x-ghl-signature": signature}), FakeLambdaContext()
    )
    assert response["statusCode"] == 202, response
