"""One LocalStack for the webhook e2e tests; every test installs its own location and Rankr account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rankr_ghl_tools.local.stack import LocalStack
from webhook_e2e_helpers import WebhookEnv


@pytest.fixture(scope="package")
def webhook_stack() -> Iterator[WebhookEnv]:
    with LocalStack(
        gateway_port=0,
        invoke_port=0,
        concurrency={"WebhookIntakeFunction": 2, "WebhookWorkerFunction": 1, "*": 1},
        schedules=False,
        echo_logs=False,
    ) as stack:
        assert stack.ghl is not None and stack.rankr is not None, f"sandboxes unavailable: {stack.notes}"
        yield WebhookEnv(stack)


@pytest.fixture
def wh(webhook_stack: WebhookEnv) -> Iterator[WebhookEnv]:
    webhook_stack.ghl.admin.webhooks(urls=[webhook_stack.stack.output_url("WebhookUrl")])
    yield webhook_stack
    webhook_stack.ghl.admin.clear_faults()
