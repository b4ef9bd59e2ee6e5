"""DynamoDB capacity units computed from the items of a call (local/aws_units.py), as DynamoDB bills them."""

from __future__ import annotations

import pytest
from rankr_ghl_tools.local.aws_units import dynamodb_units, failed_units, item_size, value_size


def test_item_size_counts_names_and_values() -> None:
    assert item_size({"pk": {"S": "LOC#a"}}) == 2 + 5
    assert item_size({"n": {"N": "12345"}, "ok": {"BOOL": True}}) == 1 + 4 + 2 + 1
    assert value_size({"S": "é"}) == 2  # UTF-8 bytes, not characters
    assert value_size({"B": b"\x00\x01\x02"}) == 3


def test_nested_values_carry_their_overhead() -> None:
    assert value_size({"M": {"a": {"S": "xy"}}}) == 3 + 1 + 2 + 1
    assert value_size({"L": [{"S": "a"}, {"S": "bc"}]}) == 3 + (1 + 1) + (2 + 1)
    assert value_size({"SS": ["ab", "c"]}) == 3


def test_a_small_put_costs_one_write_unit_and_a_large_one_rounds_up() -> None:
    small = {"TableName": "t", "Item": {"pk": {"S": "x"}}}
    large = {"TableName": "t", "Item": {"pk": {"S": "x"}, "blob": {"S": "y" * 2100}}}
    assert dynamodb_units("PutItem", small, {})["write_units"] == 1.0
    assert dynamodb_units("PutItem", large, {})["write_units"] == 3.0


def test_reads_are_half_price_unless_strongly_consistent_and_never_on_an_index() -> None:
    found = {"Item": {"pk": {"S": "x" * 5000}}}
    assert dynamodb_units("GetItem", {"TableName": "t"}, found)["read_units"] == 1.0
    assert dynamodb_units("GetItem", {"TableName": "t", "ConsistentRead": True}, found)["read_units"] == 2.0
    missing = dynamodb_units("GetItem", {"TableName": "t", "ConsistentRead": True}, {})
    assert missing["read_units"] == 1.0  # a miss still costs the minimum


def test_a_query_pays_for_the_total_it_read_including_what_a_filter_dropped() -> None:
    items = [{"pk": {"S": "p"}, "v": {"S": "x" * 1000}} for _ in range(3)]  # ~3 KB returned
    plain = dynamodb_units("Query", {"TableName": "t"}, {"Items": items, "ScannedCount": 3})
    filtered = dynamodb_units("Query", {"TableName": "t"}, {"Items": items, "ScannedCount": 12})
    assert plain["read_units"] == 0.5
    assert filtered["read_units"] == 1.5  # ~12 KB read -> 3 units, halved
    assert filtered["items"] == 12


def test_batches_count_every_processed_item_and_skip_the_unprocessed() -> None:
    put = {"PutRequest": {"Item": {"pk": {"S": "a"}}}}
    params = {"RequestItems": {"t": [put, put, put]}}
    done = dynamodb_units("BatchWriteItem", params, {})
    partly = dynamodb_units("BatchWriteItem", params, {"UnprocessedItems": {"t": [put]}})
    assert (done["write_units"], done["items"], done["table"]) == (3.0, 3, "t")
    assert partly["write_units"] == 2.0


def test_batch_get_bills_found_items_by_size_and_misses_at_the_minimum() -> None:
    params = {"RequestItems": {"t": {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "b"}}]}}}
    response = {"Responses": {"t": [{"pk": {"S": "a"}, "v": {"S": "x" * 9000}}]}}
    assert dynamodb_units("BatchGetItem", params, response)["read_units"] == 1.5 + 0.5


def test_transactions_cost_double() -> None:
    params = {
        "TransactItems": [
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "b"}}}},
        ]
    }
    units = dynamodb_units("TransactWriteItems", params, {})
    assert (units["write_units"], units["items"]) == (4.0, 2)


def test_a_refused_conditional_write_still_costs_its_units_and_a_failed_read_nothing() -> None:
    params = {"TableName": "t", "Key": {"pk": {"S": "a"}}, "ExpressionAttributeValues": {":v": {"N": "1"}}}
    assert failed_units("UpdateItem", params)["write_units"] == 1.0
    assert failed_units("GetItem", {"TableName": "t"})["read_units"] == 0.0


def test_an_unknown_attribute_type_is_refused() -> None:
    with pytest.raises(ValueError):
        value_size({"X": 1})
