"""bench/cost.py's arithmetic: Lambda's billed GB-seconds, per-unit counts and dollars (no stack)."""

from __future__ import annotations

from collections import Counter

import pytest
from rankr_ghl_tools.bench_loader import load_bench

cost = load_bench("cost")


def test_gb_seconds_round_each_invocation_up_to_the_millisecond() -> None:
    assert cost.gb_seconds([99.2, 0.1], 1024) == pytest.approx(0.101)
    assert cost.gb_seconds([1000.0], 512) == pytest.approx(0.5)
    assert cost.gb_seconds([], 512) == 0.0


def test_usage_per_unit_divides_every_count() -> None:
    usage = cost.Usage(
        invocations=Counter({"A": 20, "B": 20}),
        gb_seconds=2.0,
        dynamodb_calls=Counter({"PutItem": 40}),
        read_units=10.0,
        write_units=60.0,
        sqs_requests=60,
        secretsmanager_calls=1,
        api_requests=20,
        log_bytes=20_000,
        ghl_calls=20,
    )
    per = usage.per(20)
    assert per["lambda_invocations"] == 2.0
    assert per["lambda_gb_seconds"] == pytest.approx(0.1)
    assert per["dynamodb_write_units"] == 3.0
    assert per["sqs_requests"] == 3.0
    assert per["secretsmanager_calls"] == 0.05
    assert per["xray_traces"] == pytest.approx(2.0 * cost.XRAY_SAMPLED_FRACTION)
    assert per["log_bytes"] == 1000
    assert per["ghl_calls"] == 1.0


def test_dollars_add_up_by_service_at_the_given_prices() -> None:
    per = {
        "lambda_gb_seconds": 1.0,
        "lambda_invocations": 1.0,
        "dynamodb_write_units": 2.0,
        "dynamodb_read_units": 4.0,
        "sqs_requests": 3.0,
        "secretsmanager_calls": 1.0,
        "apigateway_requests": 1.0,
        "xray_traces": 1.0,
        "log_bytes": 1024**3,
    }
    prices = dict.fromkeys(cost.PRICES, 1.0)
    parts = cost.usd(per, prices)
    assert parts["lambda"] == 2.0
    assert parts["dynamodb"] == 6.0
    assert parts["sqs"] == 3.0
    assert parts["cloudwatch_logs"] == 1.0
    assert parts["total"] == pytest.approx(2 + 6 + 3 + 1 + 1 + 1 + 1)


def test_prices_are_dated_and_per_single_unit() -> None:
    assert cost.PRICES_AS_OF
    assert cost.PRICES["dynamodb_write_request_unit"] == pytest.approx(0.625e-6)
    assert cost.PRICES["lambda_request"] == pytest.approx(0.2e-6)
