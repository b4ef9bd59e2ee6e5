"""A LocalStack on the test template (tiny handlers under fixtures/), one per session for this folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rankr_ghl_tools.local.stack import LocalStack

FIXTURES = Path(__file__).parent / "fixtures"
TEST_TEMPLATE = FIXTURES / "template.yaml"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    log_path = tmp_path_factory.mktemp("local-runtime") / "functions.log"
    with LocalStack(
        TEST_TEMPLATE,
        time_scale=0.01,  # visibility timeouts and async retry waits 100x shorter
        gateway_port=0,
        invoke_port=0,
        ghl_sandbox=False,
        rankr_sandbox=False,
        schedules=False,
        log_path=log_path,
        echo_logs=False,
    ) as running:
        yield running
