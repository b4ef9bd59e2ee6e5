"""Lead-push step: leads pushed from Rankr (boto3 `lambda.invoke` on the alias, as Rankr does) appear
in GHL with their tags; pushing them again creates nothing.

State left for later steps: `lead_push_location_id`, `lead_push_account_id`, `lead_push_contact_ids`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from rankr_ghl_tools.scenario import ScenarioContext, StepResult, step
from rankr_ghl_tools.scenario.webhooks import connect_location

FUNCTION = "LeadPushFunction"


def _invoke(ctx: ScenarioContext, payload: dict[str, Any]) -> dict[str, Any]:
    template = ctx.stack.template
    assert template is not None
    alias_arn = template.outputs.get("LeadPushAliasArn") or template.functions[FUNCTION].alias_arn
    response = ctx.stack.client("lambda").invoke(
        FunctionName=alias_arn, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
    )
    body = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError") or not isinstance(body, dict):
        raise RuntimeError(f"lead push failed: {response.get('FunctionError')} {body}")
    return body


@step("Lead push: leads from Rankr appear in GHL with their tags", order=200, needs=("ghl", "rankr"))
def lead_push(ctx: ScenarioContext) -> StepResult:
    location_id, account_id = connect_location(ctx.stack, account_id=f"acct-{uuid.uuid4().hex[:8]}")
    run = uuid.uuid4().hex[:6]
    leads: list[dict[str, Any]] = [
        {"leadId": f"lead-{run}-1", "firstName": "Ada", "lastName": "Lovelace",
         "email": f"ada.{run}@example.com", "phone": "+1 415 555 0101", "tags": ["rankr", "webinar"]},
        {"leadId": f"lead-{run}-2", "name": "Grace Hopper", "email": f"grace.{run}@example.com",
         "tags": ["rankr"], "note": {"body": "Asked for a demo"}, "task": {"title": "Call back"}},
        {"leadId": f"lead-{run}-3", "firstName": "Walk-in", "lastName": "Visitor", "tags": ["walk-in"]},
    ]  # fmt: skip
    # A lead is a Rankr contact: it exists in Rankr before Rankr pushes it (its id is the leadId).
    rankr = ctx.stack.rankr
    assert rankr is not None
    for lead in leads:
        fields = {k: lead[k] for k in ("firstName", "lastName", "email", "phone", "tags") if k in lead}
        if "name" in lead:
            fields["firstName"], _, fields["lastName"] = lead["name"].partition(" ")
        lead["leadId"] = rankr.admin.create(account_id, "contact", fields)["id"]
    first = _invoke(ctx, {"rankrAccountId": account_id, "leads": leads})
    results = first["results"]
    failed = [r for r in results if r["outcome"] != "created"]
    if failed:
        return StepResult.failure(f"{len(failed)} lead(s) not created: {failed[0].get('error')}")
    contacts = {c["id"]: c for c in ctx.stack.ghl.admin.state(location_id)["contacts"]}
    missing_tags = []
    for lead, result in zip(leads, results, strict=True):
        contact = contacts.get(result["ghlContactId"])
        wanted = {t.lower() for t in lead["tags"]}
        if contact is None or not wanted <= set(contact.get("tags", [])):
            missing_tags.append(lead["leadId"])
        else:
            ctx.say(f"{lead['leadId']} -> {result['ghlContactId']} tags {sorted(contact['tags'])}")
    if missing_tags:
        return StepResult.failure(f"not in GHL with their tags: {', '.join(missing_tags)}")
    again = _invoke(ctx, {"rankrAccountId": account_id, "leads": leads})
    after = len(ctx.stack.ghl.admin.state(location_id)["contacts"])
    if after != len(contacts) or again["results"] != results:
        return StepResult.failure(f"pushing again changed GHL: {len(contacts)} -> {after} contacts")
    ctx.state.update(
        lead_push_location_id=location_id,
        lead_push_account_id=account_id,
        lead_push_contact_ids=[r["ghlContactId"] for r in results],
    )
    return StepResult.success(
        f"{len(leads)} leads pushed to {location_id}, in GHL with their tags; a re-push created nothing",
        counts={"leads_pushed": len(leads), "contacts_created": len(results)},
    )
