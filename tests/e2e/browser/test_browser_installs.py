"""Installs in a real browser: Debian's Chromium (headless, driven by Playwright) through the local
gateway and the GHL sandbox's consent redirect. Every page is saved under .artifacts/browser/.

The browser keeps the `__Host-` install cookie on http://127.0.0.1 (a trustworthy origin), so these
runs exercise the same cookie check a deployed (https) gateway does.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from e2e_helpers import new_id
from playwright.sync_api import Browser, Page, Route, sync_playwright
from rankr_ghl.connections.install_links import LINK_TTL_S, NONCE_COOKIE, SignedTokens
from rankr_ghl_tools.installs import control_call, mint_install_link

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[3] / ".artifacts" / "browser"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def connection(stack: Any, connection_id: str) -> dict[str, Any] | None:
    table = stack.template.functions["OAuthCallbackFunction"].env["CONNECTIONS_TABLE"]
    item = stack.client("dynamodb").get_item(TableName=table, Key={"connectionId": {"S": connection_id}})
    return {k: next(iter(v.values())) for k, v in item["Item"].items()} if "Item" in item else None


def assert_clean_page(page: Page, *secrets: str) -> None:
    """The outcome is shown at /oauth/done: no code, state or token in the URL or the page."""
    url = urlsplit(page.url)
    assert url.path == "/oauth/done" and not url.query, page.url
    html = page.content()
    assert (
        "<script" not in html
        and "src=" not in html
        and 'href="http' not in html.replace('href="https://app.rankr', "")
    )
    for secret in secrets:
        assert secret not in html and secret not in page.url


def new_location(stack: Any, prefix: str = "locBr", **options: Any) -> str:
    location = new_id(prefix)
    stack.ghl.admin.create_location(location, **options)
    stack.ghl.admin.consent(location_id=location)
    return location


def test_rankr_minted_install_reaches_the_success_page(e2e_stack, page: Page) -> None:
    # A name with markup in it: the page shows it as text, escaped.
    name = f'Dentist <b>{new_id("x")[:6]}</b> & "Sons"'
    location, account = new_location(e2e_stack, name=name), new_id("acctBr")
    page.goto(mint_install_link(e2e_stack, account))
    shot(page, "01-location-install-success")
    assert page.locator("h1").inner_text() == "GoHighLevel connected to Rankr"
    assert f"Location {name} connected" in page.locator("main").inner_text()
    assert page.locator("main b").count() == 0 and "&lt;b&gt;" in page.content()
    assert account not in page.content() and account[-4:] in page.content()  # masked
    assert_clean_page(page)
    record = connection(e2e_stack, location)
    assert record is not None and record["rankrAccountId"] == account


def test_a_token_without_locations_readonly_shows_the_location_id(e2e_stack, page: Page) -> None:
    """GHL refuses GET /locations/{id} to a token without the scope: the install still completes
    and the page names the location by its id."""
    scopes = ["contacts.readonly", "contacts.write", "locations/tasks.readonly"]
    location = new_location(e2e_stack, name="Not Shown Dental", scopes=scopes)
    account = new_id("acctNs")
    page.goto(mint_install_link(e2e_stack, account))
    shot(page, "01b-location-install-without-name-scope")
    assert f"Location {location} connected" in page.locator("main").inner_text()
    assert "Not Shown Dental" not in page.content()
    record = connection(e2e_stack, location)
    assert record is not None and record["rankrAccountId"] == account and record["status"] == "active"


def test_agency_install(e2e_stack, page: Page) -> None:
    company, account = new_id("coBr"), new_id("acctAg")
    locations = [new_id("locAgBr") for _ in range(2)]
    e2e_stack.ghl.admin.create_company(company)
    for location in locations:
        e2e_stack.ghl.admin.create_location(location, company_id=company, installed=True)
    e2e_stack.ghl.admin.consent(company_id=company)
    page.goto(mint_install_link(e2e_stack, account, agency=True))
    shot(page, "02-agency-install-continues")
    assert f"Agency {company} connected. The install continues" in page.content()
    assert_clean_page(page)
    deadline = time.monotonic() + 60  # the queued fan-out connects the locations
    while not all((connection(e2e_stack, loc) or {}).get("status") == "active" for loc in locations):
        assert time.monotonic() < deadline, "the agency's locations were not connected within a minute"
        time.sleep(0.2)
    for location in locations:
        record = connection(e2e_stack, location)
        assert record is not None and record["rankrAccountId"] == account


def test_marketplace_install_then_claim(e2e_stack, page: Page) -> None:
    location, account = new_location(e2e_stack, "locMk"), new_id("acctMk")
    callback = e2e_stack.output_url("OAuthInstallUrl").replace("/oauth/install", "/oauth/callback")
    query = urlencode(
        {
            "response_type": "code",
            "client_id": e2e_stack.ghl.config.client_id,
            "redirect_uri": callback,
            "scope": "contacts.readonly",
        }
    )
    page.goto(f"{e2e_stack.ghl.url}/oauth/chooselocation?{query}")  # started in GHL: no state
    shot(page, "03-marketplace-install-claim-code")
    code = page.locator('code[aria-label="claim code"]').inner_text()
    assert re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", code), code
    assert_clean_page(page)
    assert code not in page.url
    assert not (connection(e2e_stack, location) or {}).get("rankrAccountId")
    claimed = control_call(e2e_stack, {"op": "connection.claim", "rankrAccountId": account, "code": code})
    assert claimed["ok"], claimed
    assert [c["locationId"] for c in claimed["result"]["connections"]] == [location]
    assert connection(e2e_stack, location)["rankrAccountId"] == account  # type: ignore[index]
    again = control_call(e2e_stack, {"op": "connection.claim", "rankrAccountId": new_id("a"), "code": code})
    assert again["error"]["code"] == "invalid_claim_code"
    page.reload()  # the outcome shows once
    shot(page, "03b-marketplace-result-shown-once")
    assert "Nothing to show here" in page.content()


def _signing_key(stack: Any) -> str:
    name = stack.template.secrets["AppSecret"].name
    text = stack.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    return str(json.loads(text)["state_signing_key"])


@pytest.mark.parametrize("kind", ["forged", "expired", "replayed"])
def test_bad_links_get_a_400_page_and_no_redirect(e2e_stack, page: Page, kind: str) -> None:
    location, account = new_location(e2e_stack, "locBad"), new_id("acctBad")
    link = mint_install_link(e2e_stack, account)
    token = parse_qs(urlsplit(link).query)["link"][0]
    base = link.split("?")[0]
    if kind == "forged":
        payload, mac = token.split(".")
        target = f"{base}?link={payload[:-2]}AA.{mac}"
    elif kind == "expired":
        old = SignedTokens(
            _signing_key(e2e_stack), "install-link", ttl_s=LINK_TTL_S, clock=lambda: time.time() - 3600
        )
        stale, _ = old.sign({"v": 1, "id": new_id("l"), "a": account, "u": "Location", "r": None})
        target = f"{base}?link={stale}"
    else:
        page.goto(link)
        assert urlsplit(page.url).path == "/oauth/done"
        e2e_stack.ghl.admin.consent(location_id=location)
        target = link
    before = connection(e2e_stack, location)
    response = page.goto(target)
    shot(page, f"04-link-{kind}")
    assert response is not None and response.status == 400
    assert urlsplit(page.url).path == "/oauth/install"  # no redirect to GHL
    assert {"forged": "not issued by Rankr", "expired": "expired", "replayed": "used already"}[
        kind
    ] in page.content()
    assert connection(e2e_stack, location) == before


def test_callback_in_a_second_browser_without_the_cookie_stores_nothing(e2e_stack, browser: Browser) -> None:
    location, account = new_location(e2e_stack, "locTwo"), new_id("acctTwo")
    first = browser.new_context()
    consent_urls: list[str] = []

    def hold(route: Route) -> None:
        # Profile A opens the link and keeps its install cookie; the consent happens outside it.
        answer = route.fetch(max_redirects=0)
        consent_urls.append(answer.headers["location"])
        cookie = answer.headers["set-cookie"]
        route.fulfill(status=200, body="held", headers={"set-cookie": cookie, "content-type": "text/plain"})

    tab = first.new_page()
    tab.route("**/oauth/install*", hold)
    tab.goto(mint_install_link(e2e_stack, account))
    assert any(c["name"] == NONCE_COOKIE for c in first.cookies()), first.cookies()
    first.close()
    assert consent_urls, "the install did not redirect to GHL"
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        callback = http.get(consent_urls[0]).headers["location"]
    captured = [callback]
    second = browser.new_context()
    try:
        other = second.new_page()
        other.goto(captured[0])
        shot(other, "05-callback-second-browser")
        assert "started in another browser" in other.content()
        assert_clean_page(other, parse_qs(urlsplit(captured[0]).query)["code"][0])
    finally:
        second.close()
    assert connection(e2e_stack, location) is None


def test_relink_attempt_against_a_bound_location_keeps_the_binding(e2e_stack, page: Page) -> None:
    location, owner, intruder = new_location(e2e_stack, "locOwn"), new_id("acctOwn"), new_id("acctIn")
    page.goto(mint_install_link(e2e_stack, owner))
    assert connection(e2e_stack, location)["rankrAccountId"] == owner  # type: ignore[index]
    e2e_stack.ghl.admin.consent(location_id=location)
    page.goto(mint_install_link(e2e_stack, intruder))
    shot(page, "06-relink-refused")
    assert "already linked to another Rankr account" in page.content()
    assert owner not in page.content() and intruder not in page.content()
    assert connection(e2e_stack, location)["rankrAccountId"] == owner  # type: ignore[index]
