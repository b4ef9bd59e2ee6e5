"""Foundation steps: the local runtime is up, a GHL install through the OAuth code flow, GHL contacts
created/paged/updated/deleted with the real client, and Rankr contacts created and listed.

State left for later steps: `location_id`, `company_id`, `ghl_token_source` (a TokenSource),
`ghl_contact_ids`, `rankr_account_id`, `rankr_contact_ids`.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from rankr_ghl_tools.scenario import ScenarioContext, StepResult, StepSkipped, step

GHL_CONTACTS = 12
GHL_PAGE_SIZE = 5
RANKR_CONTACTS = 3


def _ghl_client(ctx: ScenarioContext) -> Any:
    from rankr_ghl.ghl.client import GHLClient

    client = ctx.state.get("_ghl_client")
    if client is None:
        source = ctx.state.get("ghl_token_source")
        if source is None:
            raise StepSkipped("no GHL install (the install step failed)")
        client = GHLClient(source, base_url=ctx.stack.ghl.url, timeout=10.0)
        ctx.state["_ghl_client"] = client
    return client


@step("Local runtime: resources and endpoints", order=10)
def runtime_up(ctx: ScenarioContext) -> StepResult:
    stack = ctx.stack
    assert stack.template is not None
    tables = set(stack.client("dynamodb").list_tables()["TableNames"])
    queues = set(stack.client("sqs").list_queues().get("QueueUrls", []))
    missing_tables = [t.name for t in stack.template.tables.values() if t.name not in tables]
    missing_queues = [q.name for q in stack.template.queues.values() if q.url not in queues]
    if missing_tables or missing_queues:
        return StepResult.failure(f"missing tables {missing_tables} queues {missing_queues}")
    probe = httpx.get(f"{stack.gateway_url}/__no_such_route__", timeout=5)
    if probe.status_code != 404:
        return StepResult.failure(f"gateway answered {probe.status_code} for an unknown route")
    routes = sum(len(f.routes) for f in stack.template.functions.values())
    functions = len(stack.template.functions)
    return StepResult.success(
        f"{len(tables)} tables, {len(queues)} queues, {routes} routes, {functions} functions",
        counts={"tables": len(tables), "queues": len(queues), "routes": routes},
    )


@step("GHL install (OAuth authorization code)", order=100, needs=("ghl",))
def ghl_install(ctx: ScenarioContext) -> StepResult:
    from rankr_ghl.ghl.oauth import GHLOAuthClient
    from rankr_ghl.ghl.tokens import StaticTokenSource

    sandbox = ctx.stack.ghl
    location_id = f"loc{uuid.uuid4().hex[:12]}"
    company_id = f"cmp{uuid.uuid4().hex[:12]}"
    sandbox.admin.create_location(location_id, company_id=company_id, name="Scenario Dental")
    redirect_uri = f"{ctx.stack.gateway_url}/scenario/callback"
    state = uuid.uuid4().hex
    query = urlencode(
        {
            "response_type": "code",
            "client_id": sandbox.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": sandbox.config.scope,
            "state": state,
            "locationId": location_id,
        }
    )
    consent = httpx.get(f"{sandbox.url}/oauth/chooselocation?{query}", follow_redirects=False, timeout=10)
    if consent.status_code != 302:
        return StepResult.failure(f"chooselocation answered {consent.status_code}, expected a 302 redirect")
    params = parse_qs(urlsplit(consent.headers["location"]).query)
    if params.get("state") != [state] or not params.get("code"):
        return StepResult.failure("redirect lacks the code or echoes another state")
    with GHLOAuthClient(
        sandbox.config.client_id, sandbox.config.client_secret, base_url=sandbox.url
    ) as oauth:
        tokens = oauth.exchange_code(params["code"][0], "Location", redirect_uri)
    if not tokens.access_token or not tokens.refresh_token:
        return StepResult.failure("token exchange returned no token pair")
    if tokens.location_id not in (None, location_id):
        return StepResult.failure(f"token is for location {tokens.location_id}, not {location_id}")
    ctx.state.update(
        location_id=location_id,
        company_id=company_id,
        ghl_token_source=StaticTokenSource(tokens.access_token),
    )
    ctx.say(f"location {location_id}, scopes: {tokens.scope or '-'}")
    return StepResult.success(
        f"location {location_id} installed, token valid {int(tokens.expires_in or 0)}s",
        counts={"installs": 1},
    )


@step("GHL contacts: create", order=110, needs=("ghl",))
def ghl_create_contacts(ctx: ScenarioContext) -> StepResult:
    from rankr_ghl.ghl.models import ContactCreate

    client = _ghl_client(ctx)
    location_id = ctx.state["location_id"]
    ids: list[str] = []
    for index in range(GHL_CONTACTS):
        contact = client.create_contact(
            location_id,
            ContactCreate(
                first_name=f"Pat{index:02d}",
                last_name="Scenario",
                email=f"pat{index:02d}.{uuid.uuid4().hex[:6]}@example.com",
                phone=f"+1555{index:07d}",
                source="make run",
                tags=["scenario"],
            ),
        )
        ids.append(contact.id)
    ctx.state["ghl_contact_ids"] = ids
    return StepResult.success(f"{len(ids)} contacts created in {location_id}", counts={"created": len(ids)})


@step("GHL contacts: page through search", order=120, needs=("ghl",))
def ghl_page_contacts(ctx: ScenarioContext) -> StepResult:
    client = _ghl_client(ctx)
    location_id = ctx.state["location_id"]
    expected = set(ctx.state.get("ghl_contact_ids", []))
    seen: list[str] = []
    pages = 0
    page = 1
    while True:
        result = client.search_contacts_page(location_id, page_limit=GHL_PAGE_SIZE, page=page)
        if not result.contacts:
            break
        pages += 1
        seen.extend(c.id for c in result.contacts)
        if len(result.contacts) < GHL_PAGE_SIZE:
            break
        page += 1
    streamed = {c.id for c in client.iter_search_contacts(location_id, page_limit=GHL_PAGE_SIZE)}
    if len(seen) != len(set(seen)):
        return StepResult.failure(f"paging returned duplicates: {len(seen)} rows, {len(set(seen))} ids")
    if not expected <= set(seen) or streamed != set(seen):
        return StepResult.failure(
            f"paging saw {len(set(seen))} ids, iterator {len(streamed)}, created {len(expected)}"
        )
    return StepResult.success(
        f"{len(seen)} contacts over {pages} pages of {GHL_PAGE_SIZE}",
        counts={"pages": pages, "listed": len(seen)},
    )


@step("GHL contacts: update one", order=130, needs=("ghl",))
def ghl_update_contact(ctx: ScenarioContext) -> StepResult:
    from rankr_ghl.ghl.models import ContactUpdate

    client = _ghl_client(ctx)
    location_id = ctx.state["location_id"]
    ids = ctx.state.get("ghl_contact_ids") or []
    if not ids:
        raise StepSkipped("no contacts were created")
    client.update_contact(location_id, ids[0], ContactUpdate(first_name="Updated", city="Lisbon"))
    fetched = client.get_contact(location_id, ids[0])
    if fetched.first_name != "Updated" or fetched.city != "Lisbon":
        return StepResult.failure(f"read back {fetched.first_name!r}/{fetched.city!r} after the update")
    return StepResult.success(f"contact {ids[0]} renamed and moved, read back", counts={"updated": 1})


@step("GHL contacts: delete one", order=140, needs=("ghl",))
def ghl_delete_contact(ctx: ScenarioContext) -> StepResult:
    from rankr_ghl.ghl.errors import GHLNotFound

    client = _ghl_client(ctx)
    location_id = ctx.state["location_id"]
    ids = ctx.state.get("ghl_contact_ids") or []
    if len(ids) < 2:
        raise StepSkipped("not enough contacts were created")
    victim = ids[-1]
    client.delete_contact(location_id, victim)
    try:
        client.get_contact(location_id, victim)
    except GHLNotFound:
        ctx.state["ghl_contact_ids"] = ids[:-1]
        return StepResult.success(f"contact {victim} deleted; GET now 404", counts={"deleted": 1})
    return StepResult.failure(f"contact {victim} still readable after DELETE")


def _rankr_client(ctx: ScenarioContext) -> Any:
    from rankr_ghl.rankr.client import RankrClient

    client = ctx.state.get("_rankr_client")
    if client is None:
        client = RankrClient(ctx.stack.rankr.url, ctx.stack.rankr.api_key, timeout=10.0)
        ctx.state["_rankr_client"] = client
    return client


@step("Rankr contacts: create (idempotent)", order=160, needs=("rankr",))
def rankr_create_contacts(ctx: ScenarioContext) -> StepResult:
    from rankr_ghl.rankr.contact_models import ContactCreate

    client = _rankr_client(ctx)
    account_id = f"acct-{uuid.uuid4().hex[:10]}"
    ids: list[str] = []
    keys: list[str] = []
    for index in range(RANKR_CONTACTS):
        key = uuid.uuid4().hex
        created = client.create_contact(
            account_id,
            ContactCreate(first_name=f"Lee{index}", last_name="Scenario", source="make run"),
            idempotency_key=key,
        )
        ids.append(created.id)
        keys.append(key)
    replay = client.create_contact(
        account_id,
        ContactCreate(first_name="Lee0", last_name="Scenario", source="make run"),
        idempotency_key=keys[0],
    )
    if replay.id != ids[0]:
        return StepResult.failure(f"replayed create made {replay.id}, expected {ids[0]}")
    ctx.state.update(rankr_account_id=account_id, rankr_contact_ids=ids)
    return StepResult.success(
        f"{len(ids)} contacts in account {account_id}; a replayed key returned the same contact",
        counts={"created": len(ids)},
    )


@step("Rankr contacts: list", order=170, needs=("rankr",))
def rankr_list_contacts(ctx: ScenarioContext) -> StepResult:
    client = _rankr_client(ctx)
    account_id = ctx.state.get("rankr_account_id")
    if account_id is None:
        raise StepSkipped("no Rankr account was created")
    listed = [c.id for c in client.iter_contacts(account_id)]
    expected = ctx.state["rankr_contact_ids"]
    if sorted(listed) != sorted(expected):
        return StepResult.failure(f"listed {len(listed)} contacts, expected {len(expected)}")
    return StepResult.success(f"{len(listed)} contacts listed", counts={"listed": len(listed)})


@step("Local runtime: webhooks delivered, queues drained", order=950)
def runtime_drained(ctx: ScenarioContext) -> StepResult:
    """GHL's webhooks for everything above went through the gateway and the pumps, and settled."""
    stack = ctx.stack
    deliveries: list[dict[str, Any]] = []
    if stack.ghl is not None:
        stack.ghl.admin.flush(timeout_s=30)
        deliveries = stack.ghl.admin.webhook_log()
    stack.drain(timeout=30)
    failed = [d for d in deliveries if d.get("status") not in ("delivered", "dropped")]
    batches = sum(p.batches for p in stack.pumps)
    settled = sum(p.messages_succeeded for p in stack.pumps)
    counts = {
        "webhooks": len(deliveries),
        "webhooks_failed": len(failed),
        "batches": batches,
        "messages": settled,
    }
    if failed:
        statuses = sorted({f"{d.get('status')}/{d.get('httpStatus') or d.get('error')}" for d in failed})
        return StepResult.failure(
            f"{len(failed)} of {len(deliveries)} webhooks not accepted ({statuses})", counts
        )
    return StepResult.success(
        f"{len(deliveries)} webhooks accepted, {settled} queued messages processed in {batches} batches",
        counts,
    )
