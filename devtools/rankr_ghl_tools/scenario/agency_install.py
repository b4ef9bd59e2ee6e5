"""Agency install step: an agency approves the app for its locations in the browser; the real
OAuth callback (through the local gateway) exchanges the company code, stores the company token and
queues the fan-out; AgencyInstallFunction (from AgencyInstallQueue) lists the installed locations,
mints a location token for each and records every connection.

State left for later steps: `agency_company_id`, `agency_location_ids`, `agency_account_id`.
"""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlsplit

from rankr_ghl_tools.agency_installs import agency_progress
from rankr_ghl_tools.installs import mint_install_link, walk_install
from rankr_ghl_tools.scenario import ScenarioContext, StepResult, step

FUNCTION = "OAuthCallbackFunction"
LOCATIONS = 3
FAN_OUT_TIMEOUT_S = 60.0


def _env(ctx: ScenarioContext) -> dict[str, str]:
    assert ctx.stack.template is not None
    return ctx.stack.template.functions[FUNCTION].env


def _connection(ctx: ScenarioContext, connection_id: str) -> dict[str, str]:
    table = _env(ctx)["CONNECTIONS_TABLE"]
    item = (
        ctx.stack.client("dynamodb")
        .get_item(TableName=table, Key={"connectionId": {"S": connection_id}})
        .get("Item", {})
    )
    return {k: str(next(iter(v.values()))) for k, v in item.items()}


@step("Connect: agency install through the OAuth callback", order=150, needs=("ghl",))
def agency_install(ctx: ScenarioContext) -> StepResult:
    ghl = ctx.stack.ghl
    company = f"co{uuid.uuid4().hex[:10]}"
    account = f"acct-agency-{uuid.uuid4().hex[:6]}"
    locations = [f"locAg{uuid.uuid4().hex[:12]}" for _ in range(LOCATIONS)]
    ghl.admin.create_company(company)
    for location in locations:
        ghl.admin.create_location(location, company_id=company, installed=True)
    ghl.admin.consent(company_id=company)  # the agency admin clicks "approve" on chooselocation

    # Rankr asks the control API for an agency install link; the agency admin opens it.
    walk = walk_install(mint_install_link(ctx.stack, account, agency=True))
    if walk.start.status_code != 302:
        return StepResult.failure(f"/oauth/install answered {walk.start.status_code}")
    if walk.consent is None or urlsplit(walk.consent.headers.get("location", "")).path != "/oauth/callback":
        return StepResult.failure("GHL consent did not redirect to /oauth/callback")
    if walk.done is None or walk.done.status_code != 200:
        return StepResult.failure(f"the install ended with HTTP {walk.page.status_code}")

    deadline = time.monotonic() + FAN_OUT_TIMEOUT_S
    while agency_progress(ctx.stack, company).get("status") != "done":
        if time.monotonic() > deadline:
            return StepResult.failure("the agency install's fan-out did not finish within a minute")
        time.sleep(0.2)
    prefix = _env(ctx)["TOKEN_SECRET_PREFIX"]
    secrets = ctx.stack.client("secretsmanager")
    active = 0
    for location in locations:
        record = _connection(ctx, location)
        doc = json.loads(secrets.get_secret_value(SecretId=prefix + location)["SecretString"])
        linked = record.get("rankrAccountId") == account
        if record.get("status") == "active" and linked and doc["access_token"]:
            active += 1
    company_record = _connection(ctx, f"company:{company}")
    if active != LOCATIONS or company_record.get("userType") != "Company":
        return StepResult.failure(f"{active}/{LOCATIONS} locations connected after the agency install")
    ctx.say(f"company {company}: {', '.join(locations)} connected to Rankr account {account}")
    ctx.state.update(agency_company_id=company, agency_location_ids=locations, agency_account_id=account)
    return StepResult.success(
        f"agency {company} installed: the callback queued the fan-out, which connected {LOCATIONS} "
        "locations, one token secret each",
        counts={"agency_installs": 1, "locations_connected": LOCATIONS},
    )
