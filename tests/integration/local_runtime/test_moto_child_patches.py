"""The embedded AWS's moto speed-ups (`_moto_child.leaner_moto_server`) answer exactly as moto does."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from moto.core.utils import unix_time
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import create_backend_app
from moto.sqs.exceptions import InvalidAttributeName
from moto.sqs.models import SQSBackend, sqs_backends
from rankr_ghl_tools.local._moto_child import (
    bounded_sqs_long_polls,
    fast_sqs_clock,
    lean_sqs_attributes,
    memoized_moto_dispatch,
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
