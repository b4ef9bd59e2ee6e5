"""GHL (GoHighLevel / LeadConnector) API v2 client: typed models, errors, rate limits, OAuth.

Submodules are imported explicitly (``from rankr_ghl.ghl.client import GHLClient``) so that a
handler that only verifies webhook signatures does not pay for httpx and pydantic models.
"""
