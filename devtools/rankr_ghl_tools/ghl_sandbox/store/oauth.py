"""OAuth: authorization codes, token pairs, refresh rotation, location tokens, installs."""

from __future__ import annotations

import time
from typing import Any

from ..util import (
    iso_ms,
    new_token,
    now_ms,
)
from .locations import LocationStore
from .records import (
    INVALID_GRANT,
    AccessToken,
    ApiError,
    AuthCode,
    RefreshRecord,
    drop_none,
    forbidden,
    int_param,
    oauth_error,
    unprocessable,
)


class OAuthStore(LocationStore):
    # ------------------------------------------------------------------ tokens

    def _token_scopes(self, location_id: str | None, scopes: frozenset[str] | None) -> frozenset[str] | None:
        """A token's scopes: those asked for, else the location's, else None (every scope of the app)."""
        if scopes is not None:
            return scopes
        loc = self.locations.get(location_id or "")
        return loc.scopes if loc is not None else None

    def _scope_text(self, scopes: frozenset[str] | None) -> str:
        return self.config.scope if scopes is None else " ".join(sorted(scopes))

    def _issue_access(
        self, user_type: str, location_id: str | None, company_id: str | None, scopes: frozenset[str] | None
    ) -> str:
        token = new_token("sbx-at")
        self.access_tokens[token] = AccessToken(
            user_type, location_id, company_id, time.time() + float(self.config.access_token_ttl_s), scopes
        )
        return token

    def _issue_pair(
        self,
        user_type: str,
        location_id: str | None,
        company_id: str | None,
        scopes: frozenset[str] | None = None,
    ) -> dict[str, Any]:
        scopes = self._token_scopes(location_id, scopes)
        access = self._issue_access(user_type, location_id, company_id, scopes)
        refresh = new_token("sbx-rt")
        self.refresh_tokens[refresh] = RefreshRecord(user_type, location_id, company_id, scopes=scopes)
        response: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.config.access_token_ttl_s),
            "refresh_token": refresh,
            "scope": self._scope_text(scopes),
            "userType": user_type,
            "companyId": company_id,
            "userId": f"user-{company_id}",
            "planId": self.config.plan_id,
        }
        if user_type == "Location":
            response["locationId"] = location_id
            response["isBulkInstallation"] = False
        else:
            company_locs = [loc.id for loc in self.locations.values() if loc.company_id == company_id]
            response["approvedLocations"] = company_locs
            response["isBulkInstallation"] = True
            response["installToFutureLocations"] = True
            response["approveAllLocations"] = True
        return drop_none(response)

    def admin_tokens(
        self, location_id: str | None, company_id: str | None, scopes: frozenset[str] | None = None
    ) -> dict[str, Any]:
        with self.lock:
            if location_id:
                loc = self.locations.get(location_id) or self.upsert_location({"locationId": location_id})
                loc.installed = True
                return self._issue_pair("Location", loc.id, loc.company_id, scopes)
            if company_id:
                company = self.ensure_company(company_id)
                company.installed = True
                return self._issue_pair("Company", None, company.id, scopes)
            raise ApiError(400, "locationId or companyId is required")

    def expire_tokens(self, location_id: str | None, company_id: str | None) -> int:
        with self.lock:
            count = 0
            for token in self.access_tokens.values():
                if (location_id and token.user_type == "Location" and token.location_id == location_id) or (
                    company_id and token.user_type == "Company" and token.company_id == company_id
                ):
                    token.expires_at = 0.0
                    count += 1
            return count

    def revoke(self, location_id: str | None, company_id: str | None) -> None:
        """Uninstall: every token of the subject stops working."""
        with self.lock:
            for table in (self.access_tokens, self.refresh_tokens):
                for key in [
                    k
                    for k, v in table.items()
                    if (location_id and v.user_type == "Location" and v.location_id == location_id)
                    or (company_id and v.user_type == "Company" and v.company_id == company_id)
                ]:
                    del table[key]

    def authenticate(self, token: str) -> AccessToken | None:
        with self.lock:
            record = self.access_tokens.get(token)
            if record is None or record.expires_at <= time.time():
                return None
            return record

    def consent(self, location_hint: str | None, redirect_uri: str | None) -> str:
        """Automatic consent of /oauth/chooselocation: returns an authorization code."""
        with self.lock:
            cfg = self.config
            if location_hint:
                subject = ("Location", location_hint)
            elif self.consent_override:
                subject = self.consent_override
            elif cfg.auto_consent_location_id:
                subject = ("Location", cfg.auto_consent_location_id)
            elif cfg.auto_consent_company_id:
                subject = ("Company", cfg.auto_consent_company_id)
            elif len(self.locations) == 1:
                subject = ("Location", next(iter(self.locations)))
            else:
                raise ApiError(400, "No location to consent for: configure auto_consent_location_id")
            if subject[0] == "Location":
                loc = self.locations.get(subject[1]) or self.upsert_location({"locationId": subject[1]})
                code_record = AuthCode("Location", loc.id, loc.company_id, redirect_uri, time.time() + 600)
            else:
                company = self.ensure_company(subject[1])
                code_record = AuthCode("Company", None, company.id, redirect_uri, time.time() + 600)
            code = new_token("sbx-code")
            self.codes[code] = code_record
            return code

    def exchange_code(self, form: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            self.auth_code_grants += 1
            code = self.codes.get(form.get("code") or "")
            if code is None or code.used or code.expires_at < time.time():
                raise oauth_error("Invalid grant: authorization code is invalid")
            if code.redirect_uri and form.get("redirect_uri") and form["redirect_uri"] != code.redirect_uri:
                raise oauth_error("Invalid grant: redirect_uri does not match", "invalid_grant")
            user_type = form.get("user_type") or code.user_type
            if user_type != code.user_type:
                raise ApiError(400, "Invalid parameter: user_type", error="invalid_request")
            code.used = True
            if code.user_type == "Location" and code.location_id in self.locations:
                loc = self.locations[code.location_id]
                loc.installed = True
                loc.installed_at = now_ms()
            return self._issue_pair(code.user_type, code.location_id, code.company_id)

    def refresh(self, form: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            self.refresh_grants += 1
            record = self.refresh_tokens.get(form.get("refresh_token") or "")
            if record is None:
                self.refresh_grants_by_subject["unknown"] += 1
                raise oauth_error(INVALID_GRANT)
            subject = record.location_id if record.user_type == "Location" else f"company:{record.company_id}"
            self.refresh_grants_by_subject[subject or "unknown"] += 1
            if form.get("user_type") and form["user_type"] != record.user_type:
                raise ApiError(400, "Invalid parameter: user_type", error="invalid_request")
            if record.user_type == "Location":
                loc = self.locations.get(record.location_id or "")
                # GHL: "Once the location becomes active again, the same refresh token can be used".
                if loc is not None and not loc.active:
                    raise ApiError(
                        400,
                        "Location is not active",
                        error="invalid_request",
                        error_description="Location is not active",
                    )
            now = time.time()
            if record.used_at is not None:
                if record.replacement is not None and now - record.used_at <= float(
                    self.config.refresh_grace_s
                ):
                    return dict(record.replacement)
                raise oauth_error(INVALID_GRANT)
            pair = self._issue_pair(record.user_type, record.location_id, record.company_id, record.scopes)
            record.used_at = now
            record.replacement = pair
            self.refresh_rotations += 1
            return dict(pair)

    def location_token(self, company_token: AccessToken, form: dict[str, str]) -> dict[str, Any]:
        company_id, location_id = form.get("companyId"), form.get("locationId")
        missing = [
            name for name, value in (("companyId", company_id), ("locationId", location_id)) if not value
        ]
        if missing:
            raise unprocessable([f"{name} should not be empty" for name in missing])
        with self.lock:
            if company_id != company_token.company_id:
                raise forbidden()
            loc = self.locations.get(location_id or "")
            if loc is None or loc.company_id != company_id:
                raise ApiError(400, "Location not found for this company")
            if not loc.installed:
                raise ApiError(400, "The app is not installed on this location")
            access = self._issue_access("Location", loc.id, loc.company_id, loc.scopes)
            return {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": int(self.config.access_token_ttl_s),
                "scope": self._scope_text(loc.scopes),
                "locationId": loc.id,
                "planId": self.config.plan_id,
                "userId": f"user-{company_id}",
                "appId": self.config.app_id,
                "versionId": self.config.app_version_id,
            }

    def installed_locations(self, company_token: AccessToken, query: dict[str, str]) -> dict[str, Any]:
        missing = [name for name in ("companyId", "appId") if not query.get(name)]
        if missing:
            raise unprocessable([f"{name} should not be empty" for name in missing])
        if query["appId"] != self.config.app_id:
            raise ApiError(400, "Invalid appId")
        skip, limit = int_param(query, "skip", 0), int_param(query, "limit", 20)
        variants = self.variants_for(company_token.company_id)
        if variants.installed_locations_max_limit is not None:
            limit = min(limit, variants.installed_locations_max_limit)  # capped silently
        with self.lock:
            if query["companyId"] != company_token.company_id:
                raise forbidden()
            locs = [loc for loc in self.locations.values() if loc.company_id == query["companyId"]]
            if query.get("isInstalled") in ("true", "false"):
                wanted = query["isInstalled"] == "true"
                locs = [loc for loc in locs if loc.installed == wanted]
            if query.get("locationId"):
                locs = [loc for loc in locs if loc.id == query["locationId"]]
            if query.get("query"):
                needle = query["query"].lower()
                locs = [loc for loc in locs if needle in loc.name.lower()]
            page = locs[skip : skip + limit]
            return {
                "locations": [
                    drop_none(
                        {
                            "_id": loc.id,
                            "name": loc.name,
                            "address": loc.address,
                            "isInstalled": loc.installed,
                            "versionId": self.config.app_version_id if loc.installed else None,
                            "installedAt": iso_ms(loc.installed_at) if loc.installed else None,
                        }
                    )
                    for loc in page
                ],
                "count": len(page) if variants.installed_locations_count == "page" else len(locs),
                "installToFutureLocations": True,
            }
