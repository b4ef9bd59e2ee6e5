"""Agency installs on the local runtime: the real callback queues the listing run on AgencyInstallQueue,
which queues chunk jobs that the pumped AgencyInstallFunction runs in parallel containers against the
GHL sandbox (installedLocations capped at 20 per page, `count` per page); the process making the
install's 150th secret write, whichever it is, is killed and its job resumes from the queue; a
second install creates nothing twice. Progress shows in the control API and the CLI."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from rankr_ghl_tools import faults
from rankr_ghl_tools.agency_installs import (
    agency_progress,
    agency_records,
    location_token_secrets,
    seed_agency,
)
from rankr_ghl_tools.ghl_sandbox import SandboxConfig
from rankr_ghl_tools.installs import control_call, mint_install_link, walk_install
from rankr_ghl_tools.local import stack as stack_module

pytestmark = pytest.mark.integration

LOCATIONS = 520  # three jobs of 200: the listing runs ahead of minting, so one goes to a chunk job
CRASH_AFTER_SECRETS = 450  # counted across the fan-out's processes


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("agency-fan-out")
    with stack_module.LocalStack(
        gateway_port=0,
        invoke_port=0,
        rankr_sandbox=False,
        schedules=False,
        echo_logs=False,
        log_path=workdir / "functions.log",
        concurrency=2,
        time_scale=0.01,  # a killed run's message is back after 30 s x 0.01
        ghl_sandbox_config=SandboxConfig(rate_limit_max=100, rate_limit_interval_ms=1000),
        extra_env={
            faults.CRASH_AGENCY_INSTALL_AFTER_ENV: str(CRASH_AFTER_SECRETS),
            faults.CRASH_ONCE_MARKER_ENV: str(workdir / "crashed"),
        },
    ) as s:
        s.crash_marker = workdir / "crashed"
        s.functions_log = workdir / "functions.log"
        yield s


def table(stack) -> str:
    return stack.template.functions["OAuthCallbackFunction"].env["CONNECTIONS_TABLE"]


def wait_done(stack, company: str, timeout_s: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while (progress := agency_progress(stack, company)).get("status") != "done":
        assert time.monotonic() < deadline, f"fan-out not done: {progress}"
        time.sleep(0.2)
    return progress


def agency(stack, account: str) -> tuple[str, list[str]]:
    company = f"coFan{uuid.uuid4().hex[:8]}"
    locations = [f"locFan{uuid.uuid4().hex[:10]}" for _ in range(LOCATIONS)]
    seed_agency(stack.ghl.admin, company, locations, page_cap=20)
    page = walk_install(mint_install_link(stack, account, agency=True)).page
    assert page.status_code == 200 and "The install continues" in page.text, page.text[:300]
    return company, locations


def test_a_killed_fan_out_resumes_and_a_second_install_creates_nothing_twice(stack, monkeypatch, capsys):
    account = f"acctFan{uuid.uuid4().hex[:6]}"
    company, locations = agency(stack, account)
    progress = wait_done(stack, company)
    assert stack.crash_marker.exists(), "the first fan-out run was not killed midway"
    assert progress["connected"] == LOCATIONS and progress["locations"] == LOCATIONS
    assert progress["chunksDone"] == progress["chunks"] and progress["skipped"] == 0
    runs = [
        json.loads(line[line.index("{") :])
        for line in stack.functions_log.read_text().splitlines()
        if line.startswith("AgencyInstallFunction {") and '"agency install run"' in line
    ]
    assert any(run.get("chunk") is not None for run in runs), "no chunk job ran"
    found = agency_records(stack, company)
    secrets = location_token_secrets(stack)
    for location in locations:
        assert found[location]["status"] == "active" and found[location]["rankrAccountId"] == account
        assert found[location]["tokenSource"] == "company" and location in secrets
    assert {s for s in secrets if s.startswith("locFan")} <= set(found)  # never a secret without a record

    # A second install of the same agency: the fan-out runs again and creates nothing twice.
    stats = stack.ghl.admin.stats()["requests"]
    minted_before = stats.get("POST /oauth/locationToken", 0)
    installed_at = {loc: found[loc]["installedAt"] for loc in locations}
    stack.ghl.admin.consent(company_id=company)
    page = walk_install(mint_install_link(stack, account, agency=True)).page
    assert "The install continues" in page.text
    time.sleep(0.5)
    second = wait_done(stack, company)
    assert second["connected"] == LOCATIONS and second["requestedMs"] > progress["requestedMs"]
    assert stack.ghl.admin.stats()["requests"].get("POST /oauth/locationToken", 0) == minted_before
    again = agency_records(stack, company)
    assert {loc: again[loc]["installedAt"] for loc in locations} == installed_at
    assert location_token_secrets(stack) == secrets

    # Progress in the control API (connections.list of the account) ...
    listed = control_call(stack, {"op": "connections.list", "rankrAccountId": account})
    [agency_view] = [c for c in listed["result"]["connections"] if c["connectionId"] == f"company:{company}"]
    assert agency_view["agencyInstall"]["status"] == "done"
    assert agency_view["agencyInstall"]["connected"] == LOCATIONS
    # ... and in the CLI.
    from rankr_ghl import wiring
    from rankr_ghl.config import Settings
    from rankr_ghl_tools.cli import main

    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.aws_endpoint_url)
    wiring.install(wiring.Root(Settings(connections_table=table(stack))))
    try:
        assert main(["connections", "list", "--company", company, "--json"]) == 0
    finally:
        wiring.reset()
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert rows[0]["connection_id"] == f"company:{company}"
    assert rows[0]["agency_install"]["status"] == "done" and len(rows) == LOCATIONS + 1


def test_no_secret_without_a_record(stack):
    known = set()
    kwargs: dict = {"TableName": table(stack)}
    while True:
        page = stack.client("dynamodb").scan(**kwargs)
        known.update(i["connectionId"]["S"] for i in page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert location_token_secrets(stack) - known == set()
