"""Helpers shared by the GHL sandbox tests (imported by module name; the folder is not a package)."""

from __future__ import annotations

from typing import Any

import httpx
from rankr_ghl_tools.ghl_sandbox import GHLSandbox

CONTACTS_VERSION = "2021-07-28"
CALENDARS_VERSION = "2021-04-15"


def api_client(sb: GHLSandbox, token: str, version: str = CONTACTS_VERSION, **kwargs: Any) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}", "Version": version}
    return httpx.Client(base_url=sb.url, headers=headers, timeout=kwargs.pop("timeout", 10.0), **kwargs)
