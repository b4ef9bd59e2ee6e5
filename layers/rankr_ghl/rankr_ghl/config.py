"""Settings from the environment (template.yaml Globals + per-function variables) and the app secret.

`Settings.from_env()` reads upper-case names (`CONNECTIONS_TABLE`, ...). Names a function does not
get fall back to the template's naming scheme for the stage, so the CLI works with only `STAGE` set.
The app secret (client id/secret, state signing key, Rankr API key) is read with Powertools
Parameters, cached for `max_age` seconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, model_validator

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


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", alias_generator=_env_name, populate_by_name=True)

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

    @model_validator(mode="after")
    def _stage_defaults(self) -> Settings:
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
        return self

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.ghl_scopes.split())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        names = {_env_name(f) for f in cls.model_fields}
        try:
            return cls.model_validate({k: v for k, v in env.items() if k in names})
        except ValidationError as exc:
            bad = ", ".join(str(e["loc"][0]) for e in exc.errors())
            raise ConfigError(f"invalid environment variables: {bad}") from None


class AppSecret(BaseModel):
    """The app secret's JSON (template `AppSecret`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    state_signing_key: SecretStr = SecretStr("")
    rankr_api_key: SecretStr = SecretStr("")

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
    return AppSecret.model_validate(raw)


__all__ = ["DEFAULT_GHL_SCOPES", "AppSecret", "ConfigError", "Settings", "load_app_secret"]
