"""Python client of the Rankr sandbox's /_admin HTTP API (see INTERFACE.md)."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx


class RankrSandboxAdmin:
    def __init__(self, url: str, *, timeout: float = 120.0) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/") + "/_admin", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _post(self, action: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.post(f"/{action}", json=body or {})
        response.raise_for_status()
        return response.json()

    def _get(self, action: str, params: dict[str, str] | None = None) -> Any:
        response = self._http.get(f"/{action}", params=params)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._post("reset")

    def seed(
        self,
        account_id: str,
        contacts: int,
        *,
        tasks_per_contact: int = 0,
        notes_per_contact: int = 0,
        with_email: bool = True,
        with_phone: bool = True,
        tags: list[str] | None = None,
    ) -> list[str]:
        body = {
            "accountId": account_id,
            "contacts": contacts,
            "tasksPerContact": tasks_per_contact,
            "notesPerContact": notes_per_contact,
            "withEmail": with_email,
            "withPhone": with_phone,
            "tags": tags or [],
        }
        return list(self._post("seed", body)["contactIds"])

    def create(
        self,
        account_id: str,
        entity: str,
        fields: dict[str, Any],
        *,
        contact_id: str | None = None,
        id: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"accountId": account_id, "entity": entity, "fields": fields}
        if contact_id is not None:
            body["contactId"] = contact_id
        if id is not None:
            body["id"] = id
        result: dict[str, Any] = self._post("create", body)
        return result

    def bulk_contacts(self, account_id: str, contacts: list[dict[str, Any]]) -> list[str]:
        return list(self._post("bulk", {"accountId": account_id, "contacts": contacts})["contactIds"])

    def edit(
        self, account_id: str, entity: str, id: str, changes: dict[str, Any], *, contact_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"accountId": account_id, "entity": entity, "id": id, "changes": changes}
        if contact_id is not None:
            body["contactId"] = contact_id
        result: dict[str, Any] = self._post("edit", body)
        return result

    def delete(
        self, account_id: str, entity: str, id: str, *, contact_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"accountId": account_id, "entity": entity, "id": id}
        if contact_id is not None:
            body["contactId"] = contact_id
        result: dict[str, Any] = self._post("delete", body)
        return result

    def state(self, account_id: str | None = None, *, include_deleted: bool = True) -> dict[str, Any]:
        params = {"includeDeleted": "true" if include_deleted else "false"}
        if account_id is not None:
            params["accountId"] = account_id
        result: dict[str, Any] = self._get("state", params)
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("stats")
        return result

    def reset_stats(self) -> None:
        self._post("stats/reset")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the fault set, e.g. `set_faults(rate_503=0.5, paths=["POST /v1/accounts/{accountId}/*"])`.

        Keys may be snake_case (`rate_drop_after_commit`) or the camelCase of the admin API.
        """
        result: dict[str, Any] = self._post("faults", faults)
        return result

    def get_faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("faults")
        return result

    def clear_faults(self) -> None:
        self._post("faults", {})
