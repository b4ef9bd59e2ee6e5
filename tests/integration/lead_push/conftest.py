"""Fixtures of the lead-push integration tests: one LocalStack for the package (see
lead_push_itest_helpers.LeadPushEnv); every test installs its own location."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from lead_push_itest_helpers import LeadPushEnv
from rankr_ghl_tools.local.stack import LocalStack


@pytest.fixture(scope="package")
def lead_stack() -> Iterator[LeadPushEnv]:
    with LocalStack(
        gateway_port=0,
        invoke_port=0,
        concurrency={"LeadPushFunction": 4, "*": 1},
        schedules=False,
        echo_logs=False,
        log_path=os.environ.get("LEAD_PUSH_STACK_LOG"),  # set it to keep the functions' logs
        time_scale=0.01,  # Lambda's async retry waits (1 and 2 minutes) become 0.6 s and 1.2 s
        # moto's TransactWriteItems is not thread-safe (500s under concurrent writes): fewer threads.
        extra_env={"LEAD_PUSH_WORKERS": "4"},
    ) as stack:
        assert stack.ghl is not None, stack.notes
        yield LeadPushEnv(stack)


@pytest.fixture
def env(lead_stack: LeadPushEnv) -> Iterator[LeadPushEnv]:
    yield lead_stack
    lead_stack.ghl.admin.clear_faults()
