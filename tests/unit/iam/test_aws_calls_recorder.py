"""The recorder of the local runtime's workers: a botocore hook that writes each call as a JSON line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import handlers
from botocore.awsrequest import AWSResponse
from rankr_ghl_tools.local.aws_calls import (
    AWS_CALLS_DIR_ENV,
    RecordingTarget,
    call_resources,
    install_recorder,
    iter_calls,
    recording_target,
    secret_arn,
)

REGION = "us-east-1"


@pytest.fixture
def recorder_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The hook joins botocore's built-in handlers for the process: give the test its own copy.
    monkeypatch.setattr(handlers, "BUILTIN_HANDLERS", list(handlers.BUILTIN_HANDLERS))
    install_recorder(
        RecordingTarget(str(tmp_path), "OAuthCallbackFunction", "template.yaml", {"Stage": "dev"})
    )
    return tmp_path


class _RawBody:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: object) -> Iterator[bytes]:
        yield self.body

    def read(self, *_: object) -> bytes:
        return self.body


def _client(service: str) -> Any:
    """A real client whose HTTP send is answered `{}` in-process (unit tests have no network)."""
    client = boto3.session.Session(region_name=REGION).client(
        service, aws_access_key_id="x", aws_secret_access_key="x"
    )

    def answer(request: Any, **_: object) -> AWSResponse:
        return AWSResponse(request.url, 200, {"content-type": "application/x-amz-json-1.1"}, _RawBody(b"{}"))

    client.meta.events.register("before-send", answer)
    return client


def test_sessions_created_after_install_record_their_calls(recorder_dir: Path) -> None:
    _client("secretsmanager").create_secret(
        Name="rankr-ghl/dev/tokens/locA", SecretString="{}", Tags=[{"Key": "app", "Value": "v"}]
    )
    _client("dynamodb").query(TableName="t", IndexName="byX", KeyConditionExpression="a = :a")
    [path] = list(recorder_dir.glob("OAuthCallbackFunction.*.jsonl"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["service"], line["operation"]) for line in lines] == [
        ("secretsmanager", "CreateSecret"),
        ("dynamodb", "Query"),
    ]
    assert lines[0]["details"] == {"Tags": ["app"]}
    tokens = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:rankr-ghl/dev/tokens/locA-??????"
    assert lines[0]["resources"] == [tokens]
    assert lines[1]["resources"] == [f"arn:aws:dynamodb:{REGION}:123456789012:table/t/index/byX"]
    assert lines[0]["parameters"] == {"Stage": "dev"} and lines[0]["function"] == "OAuthCallbackFunction"
    calls = list(iter_calls(recorder_dir))
    assert [c.operation for c in calls] == ["CreateSecret", "Query"]


def test_an_invalid_call_is_not_recorded(recorder_dir: Path) -> None:
    sqs = boto3.session.Session(region_name=REGION).client(
        "sqs", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with pytest.raises(Exception, match="Parameter validation"):
        sqs.send_message(QueueUrl="http://h/1/q")  # MessageBody missing: never sent
    assert list(iter_calls(recorder_dir)) == []


def test_secret_arns_get_the_suffix_stand_in() -> None:
    full = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rankr-ghl/dev/app-AbC123"
    assert secret_arn(REGION, full) == full[: -len("AbC123")] + "??????"
    assert secret_arn(REGION, "a/b").endswith(":secret:a/b-??????")


def test_transactions_and_batches_keep_every_table_and_item_kind() -> None:
    resources, details = call_resources(
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "a"}},
                {"Update": {"TableName": "b"}},
                {"Put": {"TableName": "a"}},
            ]
        },
        REGION,
    )
    table = f"arn:aws:dynamodb:{REGION}:123456789012:table/"
    assert resources == [table + "a", table + "b"]
    assert details == {"TransactItems": [["Put", table + "a"], ["Update", table + "b"]]}
    _, batch = call_resources(
        "dynamodb",
        "BatchWriteItem",
        {"RequestItems": {"a": [{"PutRequest": {}}, {"DeleteRequest": {}}]}},
        REGION,
    )
    assert batch == {"RequestItems": {table + "a": ["DeleteRequest", "PutRequest"]}}
    assert call_resources("sqs", "ListQueues", {}, REGION) == (["*"], {})


def test_recording_is_on_only_when_the_parent_asks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(AWS_CALLS_DIR_ENV, raising=False)
    assert recording_target("Fn", "t.yaml", {}) is None
    monkeypatch.setenv(AWS_CALLS_DIR_ENV, str(tmp_path))
    target = recording_target("Fn", "t.yaml", {"Stage": "prod"})
    assert target is not None and target.directory == str(tmp_path.resolve())
    assert target.parameters == {"Stage": "prod"}
