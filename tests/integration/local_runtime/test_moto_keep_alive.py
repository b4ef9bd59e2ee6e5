"""The embedded AWS keeps HTTP/1.1 connections open (`_moto_child.keep_alive_moto_server`)."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from rankr_ghl_tools.local._moto_child import keep_alive_moto_server

pytestmark = pytest.mark.integration

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
# What boto3 signs for a DynamoDB call: moto routes a request by its credential scope and target.
DYNAMODB_HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0",
    "X-Amz-Date": "20261207T000000Z",
}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, list[int]]]:
    """The server and the number of connections it accepted so far."""
    server = keep_alive_moto_server()
    accepted = [0]
    handler = server.RequestHandlerClass
    setup = handler.setup

    def counting_setup(self: Any) -> None:
        accepted[0] += 1
        setup(self)

    monkeypatch.setattr(handler, "setup", counting_setup)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, accepted
    server.shutdown()
    thread.join(5)


def test_aws_calls_share_one_connection_and_answer_as_moto_does(server: tuple[Any, list[int]]) -> None:
    http_server, accepted = server
    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{http_server.server_address[1]}",
        config=Config(max_pool_connections=1),
        **CREDENTIALS,
    )
    client.create_table(
        TableName="keepalive",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for index in range(5):
        client.put_item(TableName="keepalive", Item={"pk": {"S": f"k{index}"}, "n": {"N": str(index)}})
    item = client.get_item(TableName="keepalive", Key={"pk": {"S": "k3"}})["Item"]
    assert item == {"pk": {"S": "k3"}, "n": {"N": "3"}}
    missing = client.get_item(TableName="keepalive", Key={"pk": {"S": "nope"}})
    assert "Item" not in missing
    assert accepted[0] == 1  # seven calls, one connection


def _post(connection: http.client.HTTPConnection, target: str, body: bytes) -> http.client.HTTPResponse:
    connection.request("POST", "/", body=body, headers={**DYNAMODB_HEADERS, "X-Amz-Target": target})
    response = connection.getresponse()
    response.read()
    return response


def test_a_request_the_app_refuses_unread_does_not_desynchronise_the_next(
    server: tuple[Any, list[int]],
) -> None:
    http_server, accepted = server
    connection = http.client.HTTPConnection("127.0.0.1", http_server.server_address[1], timeout=5)
    refused = _post(connection, "DynamoDB_20120810.NoSuchAction", b'{"TableName": "' + b"x" * 5000 + b'"}')
    assert refused.status >= 400
    listed = _post(connection, "DynamoDB_20120810.ListTables", b"{}")
    assert listed.status == 200
    assert listed.getheader("Connection") != "close"
    assert accepted[0] == 1


def test_a_chunked_request_closes_its_connection(server: tuple[Any, list[int]]) -> None:
    http_server, _ = server
    connection = http.client.HTTPConnection("127.0.0.1", http_server.server_address[1], timeout=5)
    connection.request(
        "POST",
        "/",
        body=iter([b"{}"]),
        headers={**DYNAMODB_HEADERS, "X-Amz-Target": "DynamoDB_20120810.ListTables"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    assert response.getheader("Connection") == "close"
