"""Browser install end to end through the local gateway: /oauth/install -> GHL sandbox chooselocation
(auto consent) -> /oauth/callback -> tokens in Secrets Manager, records in ConnectionsTable."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from rankr_ghl_tools.installs import mint_install_link, open_callback, walk_install
from rankr_ghl_tools.local import stack as stack_module
from rankr_ghl_tools.local.pumps import lambda_sqs_record

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("oauth-logs") / "functions.log"
    with stack_module.LocalStack(
        gateway_port=0,
        invoke_port=0,
        rankr_sandbox=False,
        pumps=False,
        schedules=False,
        echo_logs=False,
        log_path=log_path,
        concurrency=1,
    ) as s:
        s.log_file = log_path
        yield s


def follow_install(stack, query: dict[str, str]) -> httpx.Response:
    """Rankr mints a link (control API), a browser opens it; the outcome page at /oauth/done."""
    link = mint_install_link(stack, query["rankr_account"], agency=query.get("agency") == "true")
    walk = walk_install(link)
    assert walk.start.status_code == 302, walk.start.text
    assert urlsplit(walk.start.headers["location"]).path == "/v2/oauth/chooselocation"
    assert walk.consent is not None and walk.consent.status_code == 302
    callback = walk.consent.headers["location"]
    assert callback.startswith(f"{stack.gateway_url}/oauth/callback?")
    assert "state" in parse_qs(urlsplit(callback).query)
    assert walk.callback is not None and walk.callback.status_code == 303
    assert walk.callback.headers["location"] == f"{stack.gateway_url}/oauth/done"
    assert walk.done is not None
    return walk.done


def secret_json(stack, name: str) -> dict:
    return json.loads(stack.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])


def connection_item(stack, connection_id: str) -> dict:
    table = stack.template.functions["OAuthCallbackFunction"].env["CONNECTIONS_TABLE"]
    item = stack.client("dynamodb").get_item(TableName=table, Key={"connectionId": {"S": connection_id}})[
        "Item"
    ]
    return {k: next(iter(v.values())) for k, v in item.items()}


def assert_no_leak(stack, *values: str) -> None:
    text = stack.log_file.read_text()
    assert "install completed" in text  # the function's Powertools logs are really in this file
    for value in values:
        assert value and value not in text


def test_location_install_end_to_end(stack):
    loc = f"loc{uuid.uuid4().hex[:10]}"
    stack.ghl.admin.create_location(loc)
    stack.ghl.admin.consent(location_id=loc)
    page = follow_install(stack, {"rankr_account": "acct_e2e"})
    assert page.status_code == 200, page.text
    assert f"Location {loc} connected" in page.text
    prefix = stack.template.functions["OAuthCallbackFunction"].env["TOKEN_SECRET_PREFIX"]
    doc = secret_json(stack, prefix + loc)
    assert doc["refresh_token"] and doc["location_id"] == loc
    assert doc["access_token"] not in page.text
    item = connection_item(stack, loc)
    assert item["status"] == "active"
    assert item["rankrAccountId"] == "acct_e2e"
    assert item["userType"] == "Location"
    r = httpx.get(
        f"{stack.ghl.url}/contacts/",
        params={"locationId": loc, "limit": 1},
        headers={"Authorization": f"Bearer {doc['access_token']}", "Version": "2021-07-28"},
    )
    assert r.status_code == 200
    assert_no_leak(stack, doc["access_token"], doc["refresh_token"], stack.ghl.config.client_secret)


def test_agency_bulk_install_end_to_end(stack):
    company = f"co{uuid.uuid4().hex[:10]}"
    locations = [f"loc{uuid.uuid4().hex[:10]}" for _ in range(3)]
    stack.ghl.admin.create_company(company)
    for loc in locations:
        stack.ghl.admin.create_location(loc, company_id=company, installed=True)
    stack.ghl.admin.consent(company_id=company)
    page = follow_install(stack, {"rankr_account": "acct_agency", "agency": "true"})
    assert page.status_code == 200, page.text
    assert f"Agency {company} connected. The install continues" in page.text
    run_queued_fan_out(stack)
    prefix = stack.template.functions["OAuthCallbackFunction"].env["TOKEN_SECRET_PREFIX"]
    company_doc = secret_json(stack, f"{prefix}company-{company}")
    assert company_doc["user_type"] == "Company" and company_doc["refresh_token"]
    assert connection_item(stack, f"company:{company}")["userType"] == "Company"
    leaked = [company_doc["access_token"], company_doc["refresh_token"]]
    for loc in locations:
        doc = secret_json(stack, prefix + loc)
        assert doc["refresh_token"] is None and doc["company_id"] == company
        item = connection_item(stack, loc)
        assert item["tokenSource"] == "company" and item["rankrAccountId"] == "acct_agency"
        leaked.append(doc["access_token"])
    assert_no_leak(stack, *leaked, stack.ghl.config.client_secret)


def run_queued_fan_out(stack) -> None:
    """This stack runs no queue pumps: hand the queued fan-out job to AgencyInstallFunction."""
    queue = stack.template.queues["AgencyInstallQueue"]
    sqs = stack.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=queue.url, MaxNumberOfMessages=1, WaitTimeSeconds=1, AttributeNames=["All"]
    ).get("Messages", [])
    assert len(messages) == 1
    result = stack.invoke("AgencyInstallFunction", {"Records": [lambda_sqs_record(messages[0], queue)]})
    assert result.ok and result.json() == {"batchItemFailures": []}, result.payload[:500]
    sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=messages[0]["ReceiptHandle"])


def test_bad_state_is_a_clear_400_page(stack):
    r = open_callback(f"{stack.gateway_url}/oauth/callback?code=whatever&state=forged.state")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert "not valid" in r.text


def test_missing_code_is_a_clear_400_page(stack):
    r = open_callback(f"{stack.gateway_url}/oauth/callback")
    assert r.status_code == 400
    assert "authorization code" in r.text


def test_install_without_a_minted_link_is_refused(stack):
    r = httpx.get(f"{stack.gateway_url}/oauth/install", params={"rankr_account": "acct_any"})
    assert r.status_code == 400 and "location" not in r.headers
