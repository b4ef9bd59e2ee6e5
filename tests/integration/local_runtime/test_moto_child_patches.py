"""The embedded AWS's moto speed-ups (`_moto_child.leaner_moto_server`) answer exactly as moto does."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from moto.core.utils import unix_time
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import create_backend_app
from moto.sqs.exceptions import InvalidAttributeName
from moto.sqs.models import SQSBackend, sqs_backends
from rankr_ghl_tools.local._moto_child import (
    atomic_moto_item_writes,
    bounded_sqs_long_polls,
    direct_dynamodb_read_json,
    fast_sqs_clock,
    lean_sqs_attributes,
    linear_dynamodb_item_size,
    memoized_moto_dispatch,
    partition_dynamodb_queries,
    serialised_secrets_manager,
)

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
REGION = "us-east-1"


def _fifo_queue(backend: SQSBackend) -> str:
    name = f"patch-{uuid.uuid4().hex[:8]}.fifo"
    backend.create_queue(name, FifoQueue="true", VisibilityTimeout="60")
    for index in range(6):
        backend.send_message(name, f"m{index}", group_id=f"g{index % 2}", deduplication_id=f"d{index}")
    return name


def test_named_attributes_and_retention_match_moto() -> None:
    backend = sqs_backends[ACCOUNT][REGION]
    name = _fifo_queue(backend)
    backend.receive_message(name, 2, wait_seconds_timeout=0, visibility_timeout=60)  # two in flight
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "MessageRetentionPeriod",
        "FifoQueue",
    ]
    expected = backend.get_queue_attributes(name, names)
    message = backend.get_queue(name)._messages[0]
    with lean_sqs_attributes():
        assert backend.get_queue_attributes(name, names) == expected
        assert backend.get_queue_attributes(name, ["All"]) == backend.get_queue(name).attributes
        assert backend.get_queue_attributes(name, []) == {}
        with pytest.raises(InvalidAttributeName):
            backend.get_queue_attributes(name, ["NoSuchAttribute"])
        assert backend.is_message_valid_based_on_retention_period(name, message)
        retention_s = int(expected["MessageRetentionPeriod"])
        message.sent_timestamp = int((unix_time() - retention_s - 1) * 1000)
        assert not backend.is_message_valid_based_on_retention_period(name, message)
    assert expected["ApproximateNumberOfMessagesNotVisible"] == 2


def test_backend_dispatch_is_remembered_per_host_with_moto_answers() -> None:
    hosts = [None, "dynamodb.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com", "127.0.0.1:5000"]
    plain = DomainDispatcherApplication(create_backend_app)
    expected = [plain.get_backend_for_host(host) for host in hosts]
    with memoized_moto_dispatch():
        app = DomainDispatcherApplication(create_backend_app)
        assert [app.get_backend_for_host(host) for host in hosts] == expected
        assert [app.get_backend_for_host(host) for host in hosts] == expected  # from memory
    assert expected[1] == "dynamodb" and expected[2] == "sqs"


def test_action_names_are_remembered_per_response_class_with_moto_answers() -> None:
    from moto.core import responses
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.responses import SQSResponse

    expected = {cls: responses.method_names_from_class(cls) for cls in (DynamoHandler, SQSResponse)}
    with memoized_moto_dispatch():
        for cls, names in expected.items():
            assert responses.method_names_from_class(cls) == names
            assert responses.method_names_from_class(cls) == names
    assert "get_item" in expected[DynamoHandler] and "receive_message" in expected[SQSResponse]


def test_held_back_long_poll_still_delivers_a_new_group_and_times_out_empty() -> None:
    backend = sqs_backends[ACCOUNT][REGION]
    name = f"poll-{uuid.uuid4().hex[:8]}.fifo"
    backend.create_queue(name, FifoQueue="true", VisibilityTimeout="60")
    for index in range(3):
        backend.send_message(name, f"m{index}", group_id="busy", deduplication_id=f"b{index}")
    with bounded_sqs_long_polls():
        first = backend.receive_message(name, 10, wait_seconds_timeout=0, visibility_timeout=60)
        assert [m.body for m in first] == ["m0", "m1", "m2"]
        backend.send_message(name, "m3", group_id="busy", deduplication_id="b3")
        # Group "busy" is in flight: the poll waits it out and returns nothing.
        assert backend.receive_message(name, 10, wait_seconds_timeout=1, visibility_timeout=60) == []

        def send_other_group() -> None:
            time.sleep(0.2)
            backend.send_message(name, "other", group_id="free", deduplication_id="o1")

        sender = threading.Thread(target=send_other_group)
        sender.start()
        delivered = backend.receive_message(name, 10, wait_seconds_timeout=5, visibility_timeout=60)
        sender.join()
    assert [m.body for m in delivered] == ["other"]


def test_sqs_clock_is_moto_epoch_time() -> None:
    from datetime import datetime

    from moto.sqs import models

    moment = datetime(2024, 5, 6, 7, 8, 9, 500000)
    expected = models.unix_time(moment)
    with fast_sqs_clock():
        assert abs(models.unix_time() - time.time()) < 1
        assert abs(models.unix_time_millis() - models.unix_time() * 1000) < 1000
        assert models.unix_time(moment) == expected
        assert models.unix_time_millis(moment) == expected * 1000
    before = models.unix_time()
    assert abs(before - time.time()) < 1  # moto's own clock agrees


def test_items_are_built_as_moto_builds_them_with_the_same_size_limit() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    attrs = {
        "pk": {"S": "LOC#a#contact#ghl#c1"},
        "sk": {"S": "LEDGER"},
        "fieldDigests": {"M": {f"f{i}": {"S": "d" * 16} for i in range(20)}},
        "expiresAt": {"N": "1764000000"},
        "tags": {"SS": ["a", "b"]},
    }
    expected = Item(DynamoType(attrs["pk"]), DynamoType(attrs["sk"]), attrs)
    too_big = {"pk": {"S": "k"}, "blob": {"S": "x" * 300_000}, "more": {"S": "y" * 110_000}}
    near_limit = {"pk": {"S": "k"}, "blob": {"S": "x" * 404_000}}
    with linear_dynamodb_item_size():
        built = Item(DynamoType(attrs["pk"]), DynamoType(attrs["sk"]), attrs)
        assert built == expected and built.to_json() == expected.to_json()
        assert built.size() == expected.size()
        with pytest.raises(ItemSizeTooLarge):
            Item(DynamoType({"S": "k"}), None, too_big)
        Item(DynamoType({"S": "k"}), None, near_limit)  # under moto's limit
        with pytest.raises(ItemSizeTooLarge):  # updates keep moto's own check
            built.attrs["later"] = DynamoType({"S": "z" * 410_000})
    with pytest.raises(ItemSizeTooLarge):
        Item(DynamoType({"S": "k"}), None, too_big)


@contextlib.contextmanager
def in_process_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A DynamoDB client on moto in this process, not on the session's embedded AWS."""
    import boto3
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield boto3.client(
            "dynamodb", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
        )


def s(value: str) -> dict[str, str]:
    """A string attribute value on the wire."""
    return {"S": value}


def query_pages(client: Any, args: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every page of a Query: items, counts and LastEvaluatedKey, following ExclusiveStartKey."""
    out = []
    while True:
        resp = client.query(**args)
        out.append((resp["Items"], resp["Count"], resp["ScannedCount"], resp.get("LastEvaluatedKey")))
        if "LastEvaluatedKey" not in resp:
            return out
        args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def count_table_scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the name of each table moto walks whole (`Table.all_items`) is appended here."""
    from moto.dynamodb.models.table import Table

    scans: list[str] = []
    original_all_items = Table.all_items

    def counted_all_items(self: Any) -> Any:
        scans.append(self.name)
        return original_all_items(self)

    monkeypatch.setattr(Table, "all_items", counted_all_items)
    return scans


def test_gsi_query_pages_are_moto_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    with in_process_dynamodb(monkeypatch) as client:
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gsi1pk", "gsi1sk")
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi1",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        for i in range(60):  # repeated index sort keys: the table key orders them
            item = {
                "pk": s(f"P#{i % 23}"),
                "sk": s(f"S{i % 3}"),
                "gsi1pk": s("P"),
                "gsi1sk": s(f"k{i % 17:02}"),
            }
            client.put_item(TableName="t", Item={**item, "v": {"N": str(i)}})
        for i in range(20):
            client.put_item(
                TableName="t", Item={"pk": s(f"Q#{i}"), "sk": s("S"), "gsi1pk": s("Q"), "gsi1sk": s(f"{i}")}
            )
        client.put_item(TableName="t", Item={"pk": s("P#x"), "sk": s("S"), "gsi1pk": s("P")})  # not indexed
        client.put_item(TableName="t", Item={"pk": s("P#y"), "sk": s("S")})
        for i in range(25):  # ~90 KB each: pages end at 1 MB
            item = {"pk": s(f"B#{i}"), "sk": s("S"), "gsi1pk": s("B"), "gsi1sk": s(f"{i:02}")}
            client.put_item(TableName="t", Item={**item, "blob": s("x" * 90_000)})

        def pages(partition: str, **extra: Any) -> list[tuple[Any, ...]]:
            args: dict[str, Any] = {
                "TableName": "t",
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :p",
                "ExpressionAttributeValues": {":p": s(partition)},
                **extra,
            }
            if "AND" in args["KeyConditionExpression"] or "KeyConditionExpression" in extra:
                args["ExpressionAttributeValues"] = {**args["ExpressionAttributeValues"], ":s": s("k05")}
            if "FilterExpression" in extra:
                args["ExpressionAttributeValues"] = {**args["ExpressionAttributeValues"], ":n": {"N": "20"}}
            return query_pages(client, args)

        queries: list[tuple[str, dict[str, Any]]] = [
            ("P", {"Limit": 7}),
            ("P", {"Limit": 7, "ScanIndexForward": False}),
            ("P", {}),
            ("P", {"Limit": 60}),
            ("P", {"Limit": 5, "FilterExpression": "v > :n"}),
            ("P", {"Limit": 9, "ProjectionExpression": "gsi1sk, v"}),
            ("Q", {"Limit": 6}),
            ("B", {}),
            ("B", {"ScanIndexForward": False, "Limit": 4}),
            ("none", {}),
            ("P", {"Limit": 7, "KeyConditionExpression": "gsi1pk = :p AND gsi1sk > :s"}),  # moto's path
        ]
        expected = [pages(partition, **extra) for partition, extra in queries]
        scans = count_table_scans(monkeypatch)
        with partition_dynamodb_queries():
            assert [pages(partition, **extra) for partition, extra in queries] == expected
        assert len(scans) == len(expected[-1])  # only the range-condition query scanned the table
    assert [len(p[0]) for p in expected[7]] == [11, 11, 3]
    assert [len(p[0]) for p in expected[0]] == [7] * 8 + [4] and expected[0][-1][3] is None
    assert [len(p[0]) for p in expected[3]] == [60] and expected[3][0][3] is None  # Limit = the rest


def test_table_query_pages_are_moto_pages_without_a_table_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    with in_process_dynamodb(monkeypatch) as client:
        for name, keys in (("ranged", ("pk", "sk")), ("plain", ("pk",))):
            client.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in keys],
                KeySchema=[
                    {"AttributeName": a, "KeyType": kind}
                    for a, kind in zip(keys, ("HASH", "RANGE"), strict=False)
                ],
            )
        for i in range(90):
            item = {"pk": s(f"P{i % 4}"), "sk": s(f"{'AB'[i % 2]}#{i:03}"), "v": {"N": str(i)}}
            client.put_item(TableName="ranged", Item=item)
        for i in range(12):  # ~90 KB each: a partition's pages end at 1 MB
            client.put_item(
                TableName="ranged", Item={"pk": s("BIG"), "sk": s(f"{i:02}"), "blob": s("x" * 90_000)}
            )
            client.put_item(TableName="plain", Item={"pk": s(f"K{i}"), "v": {"N": str(i)}})
        # A missed GetItem leaves moto an empty partition.
        client.get_item(TableName="ranged", Key={"pk": s("GONE"), "sk": s("x")})

        def pages(table: str, partition: str, condition: str = "", **extra: Any) -> list[tuple[Any, ...]]:
            args: dict[str, Any] = {
                "TableName": table,
                "KeyConditionExpression": f"pk = :p{condition}",
                "ExpressionAttributeValues": {":p": s(partition)},
                **extra,
            }
            if condition:
                args["ExpressionAttributeValues"][":s"] = s("A#")
                if "BETWEEN" in condition:
                    args["ExpressionAttributeValues"][":t"] = s("B#050")
            if "FilterExpression" in extra:
                args["ExpressionAttributeValues"][":n"] = {"N": "40"}
            return query_pages(client, args)

        queries: list[tuple[str, str, str, dict[str, Any]]] = [
            ("ranged", "P1", "", {}),
            ("ranged", "P1", "", {"Limit": 4, "ConsistentRead": True}),
            ("ranged", "P2", "", {"Limit": 5, "ScanIndexForward": False}),
            ("ranged", "P3", " AND begins_with(sk, :s)", {"Limit": 3}),
            ("ranged", "P0", " AND sk BETWEEN :s AND :t", {}),
            ("ranged", "P1", " AND sk > :s", {"Limit": 2, "ScanIndexForward": False}),
            ("ranged", "P0", "", {"Limit": 4, "FilterExpression": "v > :n", "ProjectionExpression": "sk, v"}),
            ("ranged", "BIG", "", {}),
            ("ranged", "GONE", "", {}),
            ("ranged", "nowhere", "", {"Limit": 3}),
            ("plain", "K3", "", {}),
            ("plain", "nowhere", "", {}),
        ]
        expected = [pages(*query[:3], **query[3]) for query in queries]
        scans = count_table_scans(monkeypatch)
        with partition_dynamodb_queries():
            assert [pages(*query[:3], **query[3]) for query in queries] == expected
        assert scans == []  # every page read its partition only
    assert [len(page[0]) for page in expected[7]] == [11, 1]
    assert [len(page[0]) for page in expected[2]] == [5, 5, 5, 5, 2]  # 22 items, newest first
    assert expected[10][0][0] == [{"pk": s("K3"), "v": {"N": "3"}}] and expected[11][0][1] == 0


def _racing_conditional_puts(monkeypatch: pytest.MonkeyPatch) -> int:
    """Two writers expect version 0 at once; how many writes does moto accept?"""
    import boto3
    from moto import mock_aws
    from moto.dynamodb.models import table as moto_table

    original = moto_table.get_filter_expression

    def slow_condition(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.2)  # between moto's read of the current item and its write
        return original(*args, **kwargs)

    monkeypatch.setattr(moto_table, "get_filter_expression", slow_condition)
    # In-process moto only: the suite's endpoint variables point boto3 at the embedded AWS.
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="budget",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="budget", Item={"pk": {"S": "loc"}, "version": {"N": "0"}})
        accepted: list[str] = []

        def write(owner: str) -> None:
            try:
                client.put_item(
                    TableName="budget",
                    Item={"pk": {"S": "loc"}, "version": {"N": "1"}, "owner": {"S": owner}},
                    ConditionExpression="version = :expected",
                    ExpressionAttributeValues={":expected": {"N": "0"}},
                )
            except client.exceptions.ConditionalCheckFailedException:
                return
            accepted.append(owner)

        threads = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return len(accepted)


def test_dynamodb_reads_answer_as_moto_serialises_them(monkeypatch: pytest.MonkeyPatch) -> None:
    with in_process_dynamodb(monkeypatch) as client:
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi1",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        for i in range(5):
            item: dict[str, Any] = {
                "pk": {"S": f"p{i}"},
                "sk": {"S": "MAP"},
                "g": {"S": "G"},
                "n": {"N": "1.50"},
                "m": {"M": {"a": {"S": "x"}, "l": {"L": [{"N": "2"}, {"BOOL": True}, {"NULL": True}]}}},
                "ss": {"SS": ["a", "b"]},
                "b": {"B": bytes([0, i, 255])},
                "bs": {"BS": [b"\x01", b"\x02"]},
            }
            client.put_item(TableName="t", Item=item)
        key = {"pk": {"S": "p1"}, "sk": {"S": "MAP"}}

        def reads() -> list[Any]:
            answers = [
                client.get_item(TableName="t", Key=key),
                client.get_item(TableName="t", Key={"pk": {"S": "none"}, "sk": {"S": "MAP"}}),
                client.batch_get_item(
                    RequestItems={"t": {"Keys": [key, {"pk": {"S": "q"}, "sk": {"S": "MAP"}}]}},
                    ReturnConsumedCapacity="TOTAL",
                ),
                client.query(
                    TableName="t",
                    IndexName="gsi1",
                    KeyConditionExpression="g = :g",
                    ExpressionAttributeValues={":g": {"S": "G"}},
                    Limit=2,
                    ReturnConsumedCapacity="TOTAL",
                ),
                client.scan(TableName="t", ProjectionExpression="pk, b"),
            ]
            for answer in answers:
                answer.pop("ResponseMetadata")
            return answers

        expected = reads()
        with direct_dynamodb_read_json():
            assert reads() == expected
            with pytest.raises(client.exceptions.ResourceNotFoundException):  # errors: moto's own
                client.get_item(TableName="missing", Key=key)
    assert expected[0]["Item"]["b"] == {"B": bytes([0, 1, 255])} and "Item" not in expected[1]


def test_plain_moto_accepts_two_writers_of_one_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """The race the patch below removes is real in moto (so that test can fail)."""
    assert _racing_conditional_puts(monkeypatch) == 2


def test_conditional_item_writes_are_atomic_as_in_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    with atomic_moto_item_writes():
        assert _racing_conditional_puts(monkeypatch) == 1


class _SlowName(str):
    """A secret name whose comparisons take a while, so moto's lookup loop is still iterating when
    another thread stores a secret (a compared str subclass's __eq__ is tried first)."""

    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        time.sleep(0.01)
        return str.__eq__(self, other)


def _create_while_another_thread_creates() -> tuple[list[BaseException], int]:
    """One thread creates a secret whose lookup is slow while another creates five: the errors the
    slow one met and the secrets stored."""
    from moto.secretsmanager.models import SecretsManagerBackend

    backend = SecretsManagerBackend(REGION, ACCOUNT)

    def create(name: str) -> None:
        backend.create_secret(name, "{}", None, None, None, None, None, [], False)

    for index in range(20):
        create(f"existing-{index}")
    errors: list[BaseException] = []

    def slow() -> None:
        try:
            create(_SlowName("slow-lookup"))
        except RuntimeError as exc:
            errors.append(exc)

    def fast() -> None:
        for index in range(5):
            time.sleep(0.02)
            create(f"new-{index}")

    threads = [threading.Thread(target=slow), threading.Thread(target=fast)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors, len(backend.list_secrets([], max_results=100)[0])


def test_plain_moto_secret_store_breaks_under_a_concurrent_create() -> None:
    """The race the patch below removes is real in moto (so that test can fail)."""
    errors, _stored = _create_while_another_thread_creates()
    assert errors and "changed size during iteration" in str(errors[0])


def test_secrets_manager_operations_are_safe_under_concurrency_as_in_aws() -> None:
    with serialised_secrets_manager():
        errors, stored = _create_while_another_thread_creates()
    assert errors == [] and stored == 26
