"""One LocalStack for the reconcile integration tests (embedded AWS, both sandboxes, SQS pumps)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rankr_ghl_tools.local.stack import LocalStack
from reconcile_itest_helpers import ReconcileEnv


@pytest.fixture(scope="package")
def recon() -> Iterator[ReconcileEnv]:
    with LocalStack(gateway_port=0, invoke_port=0, schedules=False, echo_logs=False) as stack:
        assert stack.ghl is not None and stack.rankr is not None, stack.notes
        yield ReconcileEnv(stack)
