"""Agency installs on the local stack, for the bench, the tests and the scenario: seed an agency in the
GHL sandbox, then read what the fan-out left (progress, records, token secrets) from the embedded AWS."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

CALLBACK = "OAuthCallbackFunction"


def seed_agency(admin: Any, company: str, location_ids: list[str], *, page_cap: int | None = None) -> None:
    """An agency with these installed locations, consent given; `page_cap`: installedLocations caps
    `limit` there and counts per page (the sandbox's adversarial variants)."""
    admin.create_company(company)
    for location_id in location_ids:
        admin.create_location(location_id, company_id=company, installed=True)
    if page_cap is not None:
        admin.variants(company, installed_locations={"max_limit": page_cap, "count": "page"})
    admin.consent(company_id=company)


def _table(stack: Any) -> str:
    return str(stack.template.functions[CALLBACK].env["CONNECTIONS_TABLE"])


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def agency_progress(stack: Any, company: str) -> dict[str, Any]:
    """The company connection's `agencyInstall` ({} before the callback wrote it)."""
    key = {"connectionId": {"S": f"company:{company}"}}
    item = stack.client("dynamodb").get_item(TableName=_table(stack), Key=key, ConsistentRead=True)
    raw = item.get("Item", {}).get("agencyInstall")
    return dict(_plain(TypeDeserializer().deserialize(raw))) if raw else {}


def agency_records(stack: Any, company: str) -> dict[str, dict[str, Any]]:
    """Every connection record of the agency (byCompany), plain values by connection id."""
    client = stack.client("dynamodb")
    deserializer = TypeDeserializer()
    records: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {
        "TableName": _table(stack),
        "IndexName": "byCompany",
        "KeyConditionExpression": "companyId = :c",
        "ExpressionAttributeValues": {":c": {"S": company}},
    }
    while True:
        page = client.query(**kwargs)
        for item in page["Items"]:
            records[item["connectionId"]["S"]] = {
                k: _plain(deserializer.deserialize(v)) for k, v in item.items()
            }
        if "LastEvaluatedKey" not in page:
            return records
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def location_token_secrets(stack: Any) -> set[str]:
    """The connection ids of every location token secret (agency secrets left out)."""
    prefix = stack.template.functions[CALLBACK].env["TOKEN_SECRET_PREFIX"]
    client = stack.client("secretsmanager")
    ids: set[str] = set()
    kwargs: dict[str, Any] = {"MaxResults": 100, "Filters": [{"Key": "name", "Values": [prefix]}]}
    while True:
        page = client.list_secrets(**kwargs)
        ids.update(s["Name"].removeprefix(prefix) for s in page["SecretList"] if s["Name"].startswith(prefix))
        if not page.get("NextToken"):
            return {i for i in ids if not i.startswith("company-")}
        kwargs["NextToken"] = page["NextToken"]
