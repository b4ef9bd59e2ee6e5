"""Lambda Invoke API through boto3, async retries to the on-failure destination, and isolation."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from rankr_ghl_tools.local.schedules import next_fire
from rankr_ghl_tools.local.stack import LocalStack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lambda_client(stack: LocalStack):
    return boto3.client(
        "lambda",
        endpoint_url=stack.invoke_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )


def _attempts(stack: LocalStack, key: str) -> int:
    return stack.aws.client("dynamodb").query(
        TableName=stack.template.tables["ResultsTable"].name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"async#{key}"}},
        ConsistentRead=True,
        Select="COUNT",
    )["Count"]


def test_request_response_by_every_kind_of_name(stack: LocalStack, lambda_client) -> None:
    fn = stack.template.functions["AsyncFunction"]
    for name, qualifier, expected_arn in [
        ("AsyncFunction", None, fn.arn),
        (fn.name, None, fn.arn),
        (fn.arn, None, fn.arn),
        (fn.alias_arn, None, fn.alias_arn),
        (fn.name, "live", fn.alias_arn),
        (f"{fn.arn}:once", None, f"{fn.arn}:once"),  # an AWS::Lambda::Alias of the template
        (fn.name, "once", f"{fn.arn}:once"),
    ]:
        kwargs = {"Qualifier": qualifier} if qualifier else {}
        response = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"n": 1}).encode(), **kwargs)
        assert response["StatusCode"] == 200
        assert "FunctionError" not in response
        body = json.loads(response["Payload"].read())
        assert body["echo"] == {"n": 1}
        assert body["invoked_function_arn"] == expected_arn
        assert body["function_name"] == fn.name
        assert body["memory"] == 256


def test_handler_error_is_reported_like_lambda(lambda_client) -> None:
    response = lambda_client.invoke(
        FunctionName="AsyncFunction", Payload=json.dumps({"fail": True, "id": ""})
    )
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "asked to fail: "
    assert error["stackTrace"]


def test_unknown_function_and_dry_run(lambda_client) -> None:
    with pytest.raises(ClientError) as info:
        lambda_client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError):
        lambda_client.invoke(FunctionName="AsyncFunction", Qualifier="nope", Payload=b"{}")
    assert lambda_client.invoke(FunctionName="AsyncFunction", InvocationType="DryRun")["StatusCode"] == 204


def test_event_invocation_runs_the_handler(stack: LocalStack, lambda_client) -> None:
    key = uuid.uuid4().hex
    response = lambda_client.invoke(
        FunctionName="AsyncFunction", InvocationType="Event", Payload=json.dumps({"id": key})
    )
    assert response["StatusCode"] == 202
    stack.drain(timeout=20)
    assert _attempts(stack, key) == 1


def _failure_records(stack: LocalStack, queue: str, key: str) -> list[dict]:
    sqs = stack.aws.client("sqs")
    url = stack.template.queues[queue].url
    records: list[dict] = []
    for _ in range(20):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            records.append(json.loads(message["Body"]))
        if any(r["requestPayload"].get("id") == key for r in records):
            break
        time.sleep(0.1)
    return [r for r in records if r["requestPayload"].get("id") == key]


def test_failing_event_invocation_ends_in_on_failure_queue(stack: LocalStack, lambda_client) -> None:
    key = uuid.uuid4().hex
    fn = stack.template.functions["AsyncFunction"]
    response = lambda_client.invoke(
        FunctionName=fn.alias_arn, InvocationType="Event", Payload=json.dumps({"id": key, "fail": True})
    )
    assert response["StatusCode"] == 202
    stack.drain(timeout=30)
    assert _attempts(stack, key) == 3  # first try + MaximumRetryAttempts 2
    assert fn.event_invoke.on_failure is not None
    [record] = _failure_records(stack, fn.event_invoke.on_failure, key)
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == fn.alias_arn
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"


def test_an_alias_with_its_own_event_invoke_config(stack: LocalStack, lambda_client) -> None:
    """AWS::Lambda::EventInvokeConfig on the `once` qualifier: no retry, its own failure queue."""
    key = uuid.uuid4().hex
    fn = stack.template.functions["AsyncFunction"]
    response = lambda_client.invoke(
        FunctionName=fn.name,
        Qualifier="once",
        InvocationType="Event",
        Payload=json.dumps({"id": key, "fail": True}),
    )
    assert response["StatusCode"] == 202
    stack.drain(timeout=30)
    assert _attempts(stack, key) == 1
    [record] = _failure_records(stack, "AsyncOnceFailureQueue", key)
    assert record["requestContext"]["functionArn"] == f"{fn.arn}:once"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert _failure_records(stack, "AsyncFailureQueue", key) == []


def test_module_state_and_environment_never_leak_between_functions(stack: LocalStack) -> None:
    a_results = [stack.invoke("StateAFunction", {}).json() for _ in range(3)]
    b_result = stack.invoke("StateBFunction", {}).json()
    assert b_result["calls"] == 1  # same code dir, but B's module is its own
    assert b_result["leaked"] == ["LEAKED_BY_B"]
    assert {r["pid"] for r in a_results}.isdisjoint({b_result["pid"]})
    assert max(r["calls"] for r in a_results) >= 2  # a warm worker keeps its module state, like Lambda
    assert all(r["leaked"] == ["LEAKED_BY_A"] for r in a_results)


def test_dead_worker_is_replaced(stack: LocalStack) -> None:
    before = stack.invoke("StateAFunction", {}).json()["pid"]
    crashed = stack.invoke("StateAFunction", {"exit": True})
    assert not crashed.ok
    assert crashed.error_type == "Runtime.ExitError"
    after = [stack.invoke("StateAFunction", {}).json()["pid"] for _ in range(3)]
    assert all(pid > 0 for pid in after)
    assert before not in after or len(set(after)) >= 1  # the crashed one is gone; service continues


def test_fire_schedule_passes_input_as_event(stack: LocalStack) -> None:
    result = stack.fire_schedule("Tick")
    assert result.ok and result.json() == {"mode": "tick"}


def test_schedule_expressions() -> None:
    from datetime import UTC, datetime

    start = datetime(2026, 1, 1, 10, 7, 30, tzinfo=UTC)  # a Thursday
    assert next_fire("rate(15 minutes)", start) == datetime(2026, 1, 1, 10, 22, 30, tzinfo=UTC)
    assert next_fire("cron(0 3 * * ? *)", start) == datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    assert next_fire("cron(0/15 * * * ? *)", start) == datetime(2026, 1, 1, 10, 15, tzinfo=UTC)
    assert next_fire("cron(30 9 ? * MON-FRI *)", start) == datetime(2026, 1, 2, 9, 30, tzinfo=UTC)
    assert next_fire("cron(0 0 1 JAN ? *)", start) == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    assert next_fire("at(2026-01-01T12:00:00)", start) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
