"""Token secrets in Secrets Manager (`rankr_ghl.connections.ports.TokenStore`).

One secret per location and per agency: `<TOKEN_SECRET_PREFIX><locationId>` and
`<TOKEN_SECRET_PREFIX>company-<companyId>` (e.g. `rankr-ghl/dev/tokens/loc_123`). Reads go straight to
Secrets Manager (no Powertools 300 s cache: the vault is the cache and must see a rotated pair at
once). Three writes, so that nothing but an install can bring an uninstalled location's secret back:
- `install`: create, replace, or restore one scheduled for deletion (OAuth callback, INSTALL webhook);
- `write`: create or replace; a secret scheduled for deletion stays deleted (`ConnectionUninstalled`);
- `replace`: the vault's rotation: only a live secret is replaced; a missing or deleted one raises
  `ConnectionUninstalled` (after the recovery window an uninstalled secret is gone, and a rotation that
  recreated it would resurrect the location).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from rankr_ghl.connections.errors import ConnectionUninstalled, TokenStorageError
from rankr_ghl.connections.models import COMPANY_PREFIX, TokenBundle

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import TagTypeDef

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
SECRET_DESCRIPTION = "GHL OAuth tokens (rankr-ghl connector)"
SECRET_TAGS: list[TagTypeDef] = [{"Key": "app", "Value": "rankr-ghl"}]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class SecretsManagerTokenStore:
    def __init__(self, prefix: str, client: SecretsManagerClient | None = None) -> None:
        self.prefix = prefix
        self._client = client

    @property
    def client(self) -> SecretsManagerClient:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "secretsmanager",
                config=Config(
                    retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=5
                ),
            )
        return self._client

    def secret_name(self, connection_id: str) -> str:
        if connection_id.startswith(COMPANY_PREFIX):
            raw = connection_id.removeprefix(COMPANY_PREFIX)
            suffix = f"company-{raw}"
        else:
            raw = suffix = connection_id
        if not _ID_RE.match(raw):
            raise ValueError("connection id has characters not allowed in a secret name")
        return f"{self.prefix}{suffix}"

    def read(self, connection_id: str, *, fresh: bool = False) -> TokenBundle | None:
        # Always a direct read (see module docstring), so `fresh` needs no extra work.
        name = self.secret_name(connection_id)
        try:
            response = self.client.get_secret_value(SecretId=name)
        except ClientError as exc:
            # InvalidRequestException: the secret is scheduled for deletion (uninstalled).
            if _code(exc) in {"ResourceNotFoundException", "InvalidRequestException"}:
                return None
            raise TokenStorageError("could not read the token secret", connection_id=connection_id) from exc
        except BotoCoreError as exc:
            raise TokenStorageError("could not read the token secret", connection_id=connection_id) from exc
        text = response.get("SecretString")
        if not text:
            return None
        return TokenBundle.from_secret_json(text)

    def write(self, connection_id: str, bundle: TokenBundle) -> None:
        self._put(connection_id, bundle, create=True, restore=False)

    def install(self, connection_id: str, bundle: TokenBundle) -> None:
        # Most installs store a new secret: one CreateSecret. A name that exists (live, or scheduled
        # for deletion, which CreateSecret refuses) takes the described path below.
        name = self.secret_name(connection_id)
        try:
            self.client.create_secret(
                Name=name,
                SecretString=bundle.to_secret_json(),
                Description=SECRET_DESCRIPTION,
                Tags=SECRET_TAGS,
            )
        except ClientError as exc:
            if _code(exc) not in {"ResourceExistsException", "InvalidRequestException"}:
                raise TokenStorageError(
                    "could not write the token secret", connection_id=connection_id
                ) from exc
        except BotoCoreError as exc:
            raise TokenStorageError("could not write the token secret", connection_id=connection_id) from exc
        else:
            return
        self._put(connection_id, bundle, create=True, restore=True)

    def replace(self, connection_id: str, bundle: TokenBundle) -> None:
        self._put(connection_id, bundle, create=False, restore=False)

    def _put(self, connection_id: str, bundle: TokenBundle, *, create: bool, restore: bool) -> None:
        # Described first: a put on a secret scheduled for deletion must never slip through (moto
        # accepts it), and writes are rare (an install, a daily rotation).
        name = self.secret_name(connection_id)
        payload = bundle.to_secret_json()
        try:
            try:
                deleted = "DeletedDate" in self.client.describe_secret(SecretId=name)
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                if not create:
                    raise self._gone(connection_id) from None
                self._create(name, payload)
                return
            if deleted:
                if not restore:
                    raise self._gone(connection_id)
                self.client.restore_secret(SecretId=name)
            self.client.put_secret_value(SecretId=name, SecretString=payload)
        except (ClientError, BotoCoreError) as exc:
            raise TokenStorageError("could not write the token secret", connection_id=connection_id) from exc

    @staticmethod
    def _gone(connection_id: str) -> ConnectionUninstalled:
        return ConnectionUninstalled(
            "the token secret was deleted (uninstalled); only an install stores it again",
            connection_id=connection_id,
        )

    def _create(self, name: str, payload: str) -> None:
        try:
            self.client.create_secret(
                Name=name, SecretString=payload, Description=SECRET_DESCRIPTION, Tags=SECRET_TAGS
            )
        except ClientError as exc:
            if _code(exc) != "ResourceExistsException":  # created concurrently: overwrite
                raise
            self.client.put_secret_value(SecretId=name, SecretString=payload)

    def _scheduled_for_deletion(self, name: str) -> bool:
        return "DeletedDate" in self.client.describe_secret(SecretId=name)

    def schedule_deletion(self, connection_id: str, recovery_window_days: int) -> None:
        name = self.secret_name(connection_id)
        try:
            self.client.delete_secret(SecretId=name, RecoveryWindowInDays=recovery_window_days)
        except ClientError as exc:
            if _code(exc) in {"ResourceNotFoundException", "InvalidRequestException"}:
                return  # never stored, or already scheduled
            raise TokenStorageError("could not delete the token secret", connection_id=connection_id) from exc
        except BotoCoreError as exc:
            raise TokenStorageError("could not delete the token secret", connection_id=connection_id) from exc

    def is_scheduled_for_deletion(self, connection_id: str) -> bool:
        try:
            return self._scheduled_for_deletion(self.secret_name(connection_id))
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return False
            raise TokenStorageError(
                "could not describe the token secret", connection_id=connection_id
            ) from exc

    def restore(self, connection_id: str, bundle: TokenBundle | None) -> None:
        if bundle is not None:
            self.install(connection_id, bundle)
            return
        try:
            self.client.delete_secret(
                SecretId=self.secret_name(connection_id), ForceDeleteWithoutRecovery=True
            )
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise TokenStorageError(
                    "could not roll back the token secret", connection_id=connection_id
                ) from exc
