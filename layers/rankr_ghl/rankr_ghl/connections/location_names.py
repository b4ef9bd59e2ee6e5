"""The installed location's name for the install's outcome page (GET /locations/{id}).

The app requests `locations.readonly` for it (docs/control-api.md, Installs). The name is a courtesy:
the install is already stored when it is asked for, so the lookup is bounded (NAME_LOOKUP_S, no retry
past it) and any failure (a token without the scope: 401/403, a timeout, GHL down) falls back to the
location id.
"""

from __future__ import annotations

from typing import Protocol

from rankr_ghl import deadlines
from rankr_ghl.ghl.errors import GHLError
from rankr_ghl.observability import logger

NAME_LOOKUP_S = 3.0


class LocationNames(Protocol):
    def location_name(self, location_token: str, location_id: str) -> str | None: ...


def location_name_or_none(
    names: LocationNames, location_token: str, location_id: str, budget_s: float = NAME_LOOKUP_S
) -> str | None:
    try:
        with deadlines.deadline_in(budget_s):
            return names.location_name(location_token, location_id)
    except GHLError as exc:
        logger.info("location name unavailable", extra={"status": exc.status, "error": type(exc).__name__})
        return None
