"""Settings from the environment (template.yaml Globals + per-function variables) and the app secret.

`Settings.from_env()` is the only reader of the environment in the layer: the composition root
(`rankr_ghl.wiring`) builds every service from one `Settings`. It reads upper-case names
(`CONNECTIONS_TABLE`, ...). Names a function does not
get fall back to the template's naming scheme for the stage, so the CLI works with only `STAGE` set.
The app secret (client id/secret, state signing key, Rankr API key) is read with Powertools
Parameters, cached for `max_age` seconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from rankr_ghl.wire_values import SecretStr, lax_bool

# Plain dataclasses, not pydantic models: every handler reads the settings on its first event, and a
# path that builds no other model (a webhook for a location that is not connected) then skips importing
# pydantic and building its first schema, a large part of a cold start.

DEFAULT_GHL_SCOPES = " ".join(
    (
        "contacts.readonly",
        "contacts.write",
        # The location's name on the install's outcome page (GET /locations/{id}).
        "locations.readonly",
        "locations/tasks.readonly",
        "calendars/events.readonly",
        "oauth.readonly",
        "oauth.write",
    )
)


# Mirrors of flows.intake's defaults (config imports no flow): GHL's retry horizon with margin and the
# clock skew allowed ahead of us; the template's Globals Timeout.
DEFAULT_WEBHOOK_RETRY_HORIZON_S = 48 * 3600
DEFAULT_WEBHOOK_CLOCK_SKEW_S = 300
DEFAULT_FUNCTION_TIMEOUT_S = 30.0


def _env_name(field: str) -> str:
    return field.upper()


class ConfigError(ValueError):
    """Missing or malformed configuration; the message names the variable, never a value."""


def _bool(raw: str) -> bool:
    """The spellings pydantic accepts for a bool, around any spaces a variable carries."""
    return lax_bool(raw.strip())


def _optional_float(raw: str) -> float:
    return float(raw.strip())


def _optional_int(raw: str) -> int | None:
    return int(raw.strip()) if raw.strip() else None


def _slice_share(raw: str) -> float:
    value = float(raw.strip())
    if not 0.01 <= value <= 1.0:
        raise ValueError("not a share of the window")
    return value


def _report_horizons(raw: str) -> float:
    value = float(raw.strip())
    if not 1.0 <= value <= 10.0:
        raise ValueError("not a number of horizons")
    return value


def _priority(raw: str) -> str:
    value = raw.strip().lower()
    if value not in {"interactive", "standard", "background"}:
        raise ValueError("not a priority")
    return value


def _utc_time(raw: str) -> str:
    """HH:MM[:SS], validated here so `daily_reset_offset_s` cannot fail later."""
    parts = raw.strip().split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError("not HH:MM[:SS]")
    hours, minutes, seconds = (int(p) for p in (*parts, "0")[:3])
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError("not a time of day")
    return raw.strip()


@dataclass(frozen=True)
class Settings:
    stage: str = "dev"
    connections_table: str = ""
    sync_table: str = ""
    audit_table: str = ""
    idempotency_table: str = ""
    app_secret_id: str = ""
    token_secret_prefix: str = ""
    ghl_api_base_url: str = "https://services.leadconnectorhq.com"
    # Read timeout (s) of GHL API calls; None keeps the client's default (30 s). Chaos runs lower it.
    ghl_timeout_s: float | None = None
    ghl_client_id: str = ""
    ghl_marketplace_url: str = "https://marketplace.gohighlevel.com"
    ghl_scopes: str = DEFAULT_GHL_SCOPES
    oauth_redirect_uri: str = ""
    rankr_api_base_url: str = "https://api.rankr.example/v1"
    rankr_return_url: str = ""
    # Where install links point (empty: derived from OAUTH_REDIRECT_URI), and the return URLs an
    # install link may name (space-separated; RANKR_RETURN_URL is always allowed).
    install_url: str = ""
    install_return_urls: str = ""
    webhook_queue_url: str = ""
    reconcile_queue_url: str = ""
    # The dead-letter queues the control API summarises and replays from.
    webhook_dlq_url: str = ""
    reconcile_dlq_url: str = ""
    lead_push_failure_queue_url: str = ""
    # dlq.replay invokes lead push's `async` alias again with a failure record's request.
    lead_push_async_alias_arn: str = ""
    # Where this function's Lambda client sends Invoke calls: empty on AWS; the local runtime sets
    # AWS_ENDPOINT_URL_LAMBDA to its Invoke API (botocore's service-specific endpoint variable).
    aws_endpoint_url_lambda: str = ""
    agency_install_queue_url: str = ""
    webhook_public_keys: str = ""
    # None keeps the intake's defaults (192 KiB; retry horizon 48 h, clock skew 300 s, dedupe TTL
    # horizon + skew: docs/webhooks.md "Retry horizon").
    webhook_max_body_bytes: int | None = None
    webhook_retry_horizon_s: int | None = None
    webhook_clock_skew_s: int | None = None
    webhook_dedupe_ttl_s: int | None = None
    # The function's Timeout from the template (FUNCTION_TIMEOUT_S); sizes every AWS client's
    # timeouts and retries. None: the template's Globals value.
    function_timeout_s: float | None = None
    audit_retention_days: int | None = None
    lead_push_workers: int | None = None
    # The GHL rate budget shared by every container through the sync-state table (ghl.budget), and
    # this function's priority in it: interactive (lead push), standard, background (reconcile).
    ghl_shared_budget: bool = True
    ghl_budget_priority: str = "standard"
    # How much of the window one reservation takes, and how many horizons ahead a reservation that
    # reports may book (None: ghl.budget's defaults, 0.2 and 5). Bulk work run by several containers
    # at once takes smaller, nearer slices: what a killed container booked stays held for the others
    # until its lease and the latency bound pass (docs/rate-budget.md, "Slices").
    ghl_budget_slice_share: float | None = None
    ghl_budget_report_horizons: float | None = None
    # When GHL's daily request budget starts again (UTC, HH:MM[:SS]); GHL does not document it.
    ghl_daily_reset_utc: str = "00:00"
    # Reconcile deletes per run and location: max(min, fraction x mapped contacts); None: the defaults.
    reconcile_delete_budget_min: int | None = None
    reconcile_delete_budget_fraction: float | None = None

    def __post_init__(self) -> None:
        stage = self.stage
        defaults = {
            "connections_table": f"rankr-ghl-{stage}-connections",
            "sync_table": f"rankr-ghl-{stage}-sync-state",
            "audit_table": f"rankr-ghl-{stage}-audit",
            "idempotency_table": f"rankr-ghl-{stage}-idempotency",
            "app_secret_id": f"rankr-ghl/{stage}/app",
            "token_secret_prefix": f"rankr-ghl/{stage}/tokens/",
        }
        for name, value in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)
        self._validate()

    def _validate(self) -> None:
        """Rules across values, checked once when the container builds its Settings (cold start)."""
        bad = [
            _env_name(name)
            for name in (
                "ghl_timeout_s",
                "webhook_max_body_bytes",
                "webhook_retry_horizon_s",
                "webhook_dedupe_ttl_s",
                "function_timeout_s",
                "audit_retention_days",
                "lead_push_workers",
            )
            if (value := getattr(self, name)) is not None and value <= 0
        ]
        if self.webhook_clock_skew_s is not None and self.webhook_clock_skew_s < 0:
            bad.append(_env_name("webhook_clock_skew_s"))
        if bad:
            raise ConfigError(f"invalid environment variables (must be positive): {', '.join(bad)}")
        if self.webhook_dedupe_ttl_s is not None and self.webhook_dedupe_ttl_s < (
            self.webhook_horizon_s + self.webhook_skew_s
        ):
            raise ConfigError(
                "WEBHOOK_DEDUPE_TTL_S must cover WEBHOOK_RETRY_HORIZON_S + WEBHOOK_CLOCK_SKEW_S"
                " (a replay accepted after its marker expired would be queued twice)"
            )

    @property
    def webhook_horizon_s(self) -> int:
        return self.webhook_retry_horizon_s or DEFAULT_WEBHOOK_RETRY_HORIZON_S

    @property
    def webhook_skew_s(self) -> int:
        return (
            DEFAULT_WEBHOOK_CLOCK_SKEW_S if self.webhook_clock_skew_s is None else self.webhook_clock_skew_s
        )

    @property
    def webhook_dedupe_s(self) -> int:
        return self.webhook_dedupe_ttl_s or self.webhook_horizon_s + self.webhook_skew_s

    @property
    def timeout_s(self) -> float:
        return self.function_timeout_s or DEFAULT_FUNCTION_TIMEOUT_S

    @property
    def daily_reset_offset_s(self) -> int:
        """Seconds after midnight UTC at which GHL's daily budget starts again."""
        hours, minutes, seconds = (int(p) for p in (*self.ghl_daily_reset_utc.split(":"), "0")[:3])
        return hours * 3600 + minutes * 60 + seconds

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.ghl_scopes.split())

    @property
    def install_link_base(self) -> str:
        """The public /oauth/install URL: on the callback's host, where the install cookie lives."""
        redirect = self.oauth_redirect_uri.rstrip("/")
        if redirect.endswith("/oauth/callback"):
            return redirect[: -len("/oauth/callback")] + "/oauth/install"
        return self.install_url

    @property
    def allowed_return_urls(self) -> tuple[str, ...]:
        return tuple(u for u in (self.rankr_return_url, *self.install_return_urls.split()) if u)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Upper-case variable per field; unknown variables are ignored. A value that does not parse
        raises `ConfigError` naming the variable (never the value)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        bad: list[str] = []
        for f in fields(cls):
            name = _env_name(f.name)
            raw = env.get(name)
            if raw is None:
                continue
            try:
                values[f.name] = _PARSERS.get(f.name, str)(raw)
            except ValueError:
                bad.append(name)
        if bad:
            raise ConfigError(f"invalid environment variables: {', '.join(bad)}")
        return cls(**values)


# Fields that are not plain strings.
_PARSERS: dict[str, Callable[[str], Any]] = {
    "ghl_timeout_s": _optional_float,
    "webhook_max_body_bytes": _optional_int,
    "webhook_retry_horizon_s": _optional_int,
    "webhook_clock_skew_s": _optional_int,
    "webhook_dedupe_ttl_s": _optional_int,
    "function_timeout_s": _optional_float,
    "audit_retention_days": _optional_int,
    "lead_push_workers": _optional_int,
    "ghl_shared_budget": _bool,
    "ghl_budget_priority": _priority,
    "ghl_budget_slice_share": _slice_share,
    "ghl_budget_report_horizons": _report_horizons,
    "ghl_daily_reset_utc": _utc_time,
    "reconcile_delete_budget_min": _optional_int,
    "reconcile_delete_budget_fraction": _optional_float,
}


_SECRET_FIELDS = ("client_secret", "state_signing_key", "rankr_api_key")
_NO_SECRET = SecretStr("")  # immutable: one instance serves every default


@dataclass(frozen=True)
class AppSecret:
    """The app secret's JSON (template `AppSecret`)."""

    client_id: str = ""
    client_secret: SecretStr = _NO_SECRET
    state_signing_key: SecretStr = _NO_SECRET
    rankr_api_key: SecretStr = _NO_SECRET

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> AppSecret:
        """From the secret's JSON object; unknown keys are ignored, a non-string value is refused
        (`ConfigError` naming the key, never the value)."""
        values: dict[str, Any] = {}
        for name in ("client_id", *_SECRET_FIELDS):
            if name not in raw:
                continue
            value = raw[name]
            if not isinstance(value, str):
                raise ConfigError(f"the app secret's {name} is not a string")
            values[name] = SecretStr(value) if name in _SECRET_FIELDS else value
        return cls(**values)

    def require(self, *names: str) -> None:
        missing = [n for n in names if not _value(getattr(self, n))]
        if missing:
            raise ConfigError(f"the app secret lacks {', '.join(missing)}; fill it after the first deploy")


def _value(value: Any) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value or "")


def load_app_secret(
    secret_id: str,
    *,
    max_age: int = 300,
    force_fetch: bool = False,
    client_source: Callable[[], Any] | None = None,
) -> AppSecret:
    """`client_source`: the composition root's Secrets Manager client (its timeouts and retries)."""
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    if "secrets" not in DEFAULT_PROVIDERS:
        # Powertools would build its provider on a boto3 Session of its own, re-reading botocore's
        # endpoint and model data (tens of ms of cold start); the default session's client shares it.
        client = client_source() if client_source is not None else boto3.client("secretsmanager")
        DEFAULT_PROVIDERS["secrets"] = parameters.SecretsProvider(boto3_client=client)
    raw = parameters.get_secret(secret_id, transform="json", max_age=max_age, force_fetch=force_fetch)
    if not isinstance(raw, dict):
        raise ConfigError("the app secret is not a JSON object")
    return AppSecret.from_mapping(raw)


__all__ = ["DEFAULT_GHL_SCOPES", "AppSecret", "ConfigError", "SecretStr", "Settings", "load_app_secret"]
