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

# Plain dataclasses, not pydantic models: every handler reads the settings on its first event, and a
# path that builds no other model (a webhook for a location that is not connected) then skips importing
# pydantic and building its first schema, a large part of a cold start.

DEFAULT_GHL_SCOPES = " ".join(
    (
        "contacts.readonly",
        "contacts.write",
        "locations/tasks.readonly",
        "calendars/events.readonly",
        "oauth.readonly",
        "oauth.write",
    )
)


def _env_name(field: str) -> str:
    return field.upper()


class ConfigError(ValueError):
    """Missing or malformed configuration; the message names the variable, never a value."""


_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _bool(raw: str) -> bool:
    """The spellings pydantic accepts for a bool (what these settings were parsed with before)."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("not a boolean")


def _optional_float(raw: str) -> float:
    return float(raw.strip())


def _optional_int(raw: str) -> int | None:
    return int(raw.strip()) if raw.strip() else None


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
    webhook_queue_url: str = ""
    reconcile_queue_url: str = ""
    webhook_public_keys: str = ""
    allow_legacy_rsa_signature: bool = False
    webhook_rsa_public_key: str = ""
    # None keeps the intake's defaults (192 KiB, 300 s, 24 h).
    webhook_max_body_bytes: int | None = None
    webhook_timestamp_window_s: int | None = None
    webhook_dedupe_ttl_s: int | None = None
    audit_retention_days: int | None = None
    lead_push_workers: int | None = None
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

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.ghl_scopes.split())

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
    "allow_legacy_rsa_signature": _bool,
    "webhook_max_body_bytes": _optional_int,
    "webhook_timestamp_window_s": _optional_int,
    "webhook_dedupe_ttl_s": _optional_int,
    "audit_retention_days": _optional_int,
    "lead_push_workers": _optional_int,
    "reconcile_delete_budget_min": _optional_int,
    "reconcile_delete_budget_fraction": _optional_float,
}


class SecretStr:
    """A secret value that never shows in a repr, a log line or an error (same API as pydantic's
    `SecretStr`: `get_secret_value()`)."""

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')" if self._value else "SecretStr('')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


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


def load_app_secret(secret_id: str, *, max_age: int = 300, force_fetch: bool = False) -> AppSecret:
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    if "secrets" not in DEFAULT_PROVIDERS:
        # Powertools would build its provider on a boto3 Session of its own, re-reading botocore's
        # endpoint and model data (tens of ms of cold start); the default session's client shares it.
        DEFAULT_PROVIDERS["secrets"] = parameters.SecretsProvider(boto3_client=boto3.client("secretsmanager"))
    raw = parameters.get_secret(secret_id, transform="json", max_age=max_age, force_fetch=force_fetch)
    if not isinstance(raw, dict):
        raise ConfigError("the app secret is not a JSON object")
    return AppSecret.from_mapping(raw)


__all__ = ["DEFAULT_GHL_SCOPES", "AppSecret", "ConfigError", "SecretStr", "Settings", "load_app_secret"]
