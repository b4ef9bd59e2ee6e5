"""Locations, companies and their rate-limit settings."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..ratelimit import RateLimitSettings
from .base import StoreBase
from .records import (
    ApiError,
    CompanyState,
    LocationState,
    parse_rate,
)


class LocationStore(StoreBase):
    def ensure_company(self, company_id: str, name: str | None = None) -> CompanyState:
        with self.lock:
            company = self.companies.get(company_id)
            if company is None:
                company = CompanyState(id=company_id, name=name or f"Company {company_id}")
                self.companies[company_id] = company
            elif name:
                company.name = name
            return company

    def upsert_location(self, body: dict[str, Any]) -> LocationState:
        location_id = body.get("locationId")
        if not isinstance(location_id, str) or not location_id:
            raise ApiError(400, "locationId is required")
        priority = body.get("duplicatePriority", ["email", "phone"])
        if (
            not isinstance(priority, list)
            or not priority
            or any(p not in ("email", "phone") for p in priority)
        ):
            raise ApiError(400, "duplicatePriority must be a non-empty list of 'email'/'phone'")
        rate = parse_rate(body.get("rateLimit"))
        scopes = body.get("scopes")
        if scopes is not None and (
            not isinstance(scopes, list) or not all(isinstance(x, str) for x in scopes)
        ):
            raise ApiError(400, "scopes must be a list of scope names, or null for every scope")
        with self.lock:
            loc = self.locations.get(location_id)
            company_id = body.get("companyId") or (loc.company_id if loc else f"company-{location_id}")
            self.ensure_company(company_id)
            if loc is None:
                loc = LocationState(
                    id=location_id, company_id=company_id, name=body.get("name") or location_id
                )
                self.locations[location_id] = loc
            loc.company_id = company_id
            if body.get("name"):
                loc.name = body["name"]
            if "address" in body:
                loc.address = str(body["address"])
            if "allowDuplicates" in body:
                loc.allow_duplicates = bool(body["allowDuplicates"])
            loc.duplicate_priority = list(priority)
            if rate is not None:
                loc.rate = rate
            if "active" in body:
                loc.active = bool(body["active"])
            if "installed" in body:
                loc.installed = bool(body["installed"])
            if "scopes" in body:
                loc.scopes = None if body["scopes"] is None else frozenset(body["scopes"])
            return loc

    def upsert_company(self, body: dict[str, Any]) -> CompanyState:
        company_id = body.get("companyId")
        if not isinstance(company_id, str) or not company_id:
            raise ApiError(400, "companyId is required")
        rate = parse_rate(body.get("rateLimit"))
        with self.lock:
            company = self.ensure_company(company_id, body.get("name"))
            if rate is not None:
                company.rate = rate
            if "installed" in body:
                company.installed = bool(body["installed"])
            return company

    def location_profile(self, location_id: str) -> dict[str, Any]:
        """A location as GET /locations/{locationId} answers it (GetLocationByIdSchema's fields the
        sandbox keeps)."""
        with self.lock:
            loc = self.get_location(location_id)
            return {"id": loc.id, "companyId": loc.company_id, "name": loc.name, "address": loc.address}

    def location_view(self, loc: LocationState) -> dict[str, Any]:
        return {
            "locationId": loc.id,
            "companyId": loc.company_id,
            "name": loc.name,
            "allowDuplicates": loc.allow_duplicates,
            "duplicatePriority": loc.duplicate_priority,
            "active": loc.active,
            "installed": loc.installed,
            "rateLimit": self.rate_settings_for(loc.id).to_dict(),
            "scopes": None if loc.scopes is None else sorted(loc.scopes),
        }

    def rate_settings_for(self, resource_id: str) -> RateLimitSettings:
        cfg = self.config
        default = RateLimitSettings(cfg.rate_limit_max, cfg.rate_limit_interval_ms, cfg.daily_limit)
        with self.lock:
            loc = self.locations.get(resource_id)
            company = self.companies.get(resource_id)
            settings = (loc.rate if loc else company.rate if company else None) or default
        reset_offset = self.variants_for(resource_id).daily_reset_offset_s
        return dataclasses.replace(settings, daily_reset_offset_s=reset_offset)
