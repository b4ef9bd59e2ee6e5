"""bench/cold_start.py's pure parts: the import-cost summary, the sampled trace header, the ok check."""

from __future__ import annotations

import re

from rankr_ghl_tools.bench_loader import load_bench

cold_start = load_bench("cold_start")

IMPORTTIME = """import time: self [us] | cumulative | imported package
import time:      5000 |       5000 | rich
-- clock starts --
import time: self [us] | cumulative | imported package
import time:      1500 |       1500 |   pydantic.main
import time:       500 |       2000 | pydantic
import time:      4000 |       4000 |   rankr_ghl.flows.inbound
import time:       250 |       4250 | rankr_ghl
"""


def test_import_cost_counts_only_what_ran_after_the_clock_started_by_top_level_package() -> None:
    cost = cold_start.import_cost_by_package(IMPORTTIME)
    assert cost == {"rankr_ghl": 4.2, "pydantic": 2.0}  # rich came before the clock: not timed
    assert list(cost) == ["rankr_ghl", "pydantic"]


def test_import_cost_keeps_the_largest_packages() -> None:
    assert list(cold_start.import_cost_by_package(IMPORTTIME, top=1)) == ["rankr_ghl"]


def test_the_trace_header_is_a_sampled_x_ray_header() -> None:
    header = cold_start.trace_header()
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1", header)
    assert header != cold_start.trace_header()


def test_first_event_ok_needs_the_work_done() -> None:
    ok = cold_start.first_event_ok
    assert ok("WebhookIntakeFunction", {"statusCode": 202})
    assert not ok("WebhookIntakeFunction", {"statusCode": 401})
    assert ok("WebhookWorkerFunction", {"batchItemFailures": []})
    assert not ok("WebhookWorkerFunction", {"batchItemFailures": [{"itemIdentifier": "m1"}]})
    assert ok("AgencyInstallFunction", {"batchItemFailures": []})
    assert not ok("AgencyInstallFunction", {"batchItemFailures": [{"itemIdentifier": "m1"}]})
    assert ok("LeadPushFunction", {"results": [{"outcome": "created"}]})
    assert not ok("LeadPushFunction", {"results": [{"outcome": "failed"}]})
    assert not ok("LeadPushFunction", {"results": []})
    assert not ok("ReconcileFunction", None)


def test_packages_the_layer_lock_does_not_pin_are_hidden() -> None:
    lock = "httpx==0.28.1 \\\n    --hash=sha256:abc\nrich==14.0.0 \\\n# click==8.0 is a comment\n"
    assert cold_start.not_in_layer(lock) == ["click", "pygments"]
    assert cold_start.not_in_layer(lock, ("httpx",)) == []


def test_the_deployed_layer_ships_no_httpx_cli() -> None:
    hidden = cold_start.not_in_layer(cold_start.LAYER_LOCK.read_text(encoding="utf-8"))
    assert hidden == list(cold_start.HTTPX_CLI_EXTRAS)
