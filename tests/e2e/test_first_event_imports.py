"""The first event of the hot functions loads no pydantic (docs/cold-start.md).

Importing pydantic costs about 120 ms of CPU before a model is built: a lead push, a contact webhook
and an agency install check their records with `rankr_ghl.wire_values` instead. Each handler runs its
real first event (bench/cold_start.py's `FirstEvents`: a fresh interpreter set up as a Lambda
container of the local runtime, tracing on) against the embedded AWS and the sandboxes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rankr_ghl_tools.bench_loader import load_bench
from rankr_ghl_tools.local.stack import LocalStack

cold_start = load_bench("cold_start")

PYDANTIC_FREE = (cold_start.LEAD_PUSH, cold_start.WORKER, cold_start.AGENCY)


@pytest.fixture(scope="module")
def first_events() -> Iterator[Any]:
    with (
        tempfile.TemporaryDirectory(prefix="rankr-ghl-first-event-") as tmp,
        LocalStack(
            gateway_port=0, invoke_port=0, echo_logs=False, pumps=False, schedules=False,
            log_path=Path(tmp) / "functions.log",
        ) as stack,
    ):  # fmt: skip
        yield cold_start.FirstEvents(stack, Path(tmp), compiled=False)


@pytest.mark.parametrize("function", PYDANTIC_FREE)
def test_the_first_event_does_its_work_without_importing_pydantic(first_events: Any, function: str) -> None:
    run = first_events.run(function)
    assert cold_start.first_event_ok(function, run["result"]), run["result"]
    assert run["traced"], "tracing is on, as deployed"
    assert run["pydantic_loaded"] is False


def test_the_check_sees_pydantic_where_a_first_event_loads_it(first_events: Any) -> None:
    # The control API validates its operations with pydantic models: the same check reports it.
    run = first_events.run(cold_start.CONTROL)
    assert cold_start.first_event_ok(cold_start.CONTROL, run["result"]), run["result"]
    assert run["pydantic_loaded"] is True
