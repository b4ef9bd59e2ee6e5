"""Lead push on the local runtime: LocalStack (embedded AWS + GHL sandbox + Lambda Invoke API).

Rankr's side is played by boto3's `lambda.invoke` against the stack's Invoke API, so the request
reaches the real handler (functions/lead_push/app.py) in its own worker processes.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from rankr_ghl.aws.connections_store import DynamoConnectionStore
from rankr_ghl.aws.token_secrets import SecretsManagerTokenStore
from rankr_ghl.connections.models import Connection, TokenBundle, UserType, from_epoch
from rankr_ghl.wire_values import SecretStr
from rankr_ghl_tools.local.stack import LocalStack

FUNCTION = "LeadPushFunction"


@dataclass
class LeadPushEnv:
    stack: LocalStack

    @property
    def alias_arn(self) -> str:
        arn = self.stack.template.outputs.get("LeadPushAliasArn")  # type: ignore[union-attr]
        assert isinstance(arn, str) and arn.endswith(":live"), arn
        return arn

    @property
    def async_alias_arn(self) -> str:
        arn = self.stack.template.outputs.get("LeadPushAsyncAliasArn")  # type: ignore[union-attr]
        assert isinstance(arn, str) and arn.endswith(":async"), arn
        return arn

    @property
    def function_env(self) -> dict[str, str]:
        return dict(self.stack.template.functions[FUNCTION].env)  # type: ignore[union-attr]

    @property
    def ghl(self) -> Any:
        return self.stack.ghl

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{uuid.uuid4().hex[:10]}"

    def install_location(
        self,
        location_id: str | None = None,
        *,
        allow_duplicates: bool = False,
        rankr_account: str | None = None,
    ) -> str:
        """A connected location: sandbox location + stored token pair + connection record."""
        location_id = location_id or self.new_id("loc")
        self.ghl.admin.create_location(location_id, allow_duplicates=allow_duplicates)
        pair = self.ghl.admin.tokens(location_id=location_id)
        now = time.time()
        env = self.function_env
        bundle = TokenBundle(
            access_token=SecretStr(pair["access_token"]),
            refresh_token=SecretStr(pair["refresh_token"]),
            expires_at=now + float(pair["expires_in"]),
            scopes=tuple(str(pair.get("scope", "")).split()),
            user_type=UserType.LOCATION,
            location_id=location_id,
            issued_at=now,
        )
        SecretsManagerTokenStore(
            env["TOKEN_SECRET_PREFIX"], client=self.stack.client("secretsmanager")
        ).write(location_id, bundle)
        DynamoConnectionStore(env["CONNECTIONS_TABLE"], client=self.stack.client("dynamodb")).save(
            Connection(
                connection_id=location_id,
                location_id=location_id,
                user_type=UserType.LOCATION,
                scopes=bundle.scopes,
                installed_at=from_epoch(now),
                token_expires_at=from_epoch(bundle.expires_at),
                rankr_account_id=rankr_account,
            )
        )
        return location_id

    def invoke(
        self, payload: Any, *, invocation_type: str = "RequestResponse", function_name: str | None = None
    ) -> dict[str, Any]:
        """What Rankr does: boto3 lambda.invoke on an alias ARN (default the sync alias)."""
        response = self.stack.client("lambda").invoke(
            FunctionName=function_name or self.alias_arn,
            InvocationType=invocation_type,
            Payload=json.dumps(payload).encode(),
        )
        body = response["Payload"].read()
        result: dict[str, Any] = {
            "StatusCode": response["StatusCode"],
            "FunctionError": response.get("FunctionError"),
        }
        result["body"] = json.loads(body) if body else None
        return result

    def push(self, payload: Any) -> dict[str, Any]:
        result = self.invoke(payload)
        assert result["StatusCode"] == 200 and result["FunctionError"] is None, result
        body = result["body"]
        assert isinstance(body, dict)
        return body

    def contacts(self, location_id: str) -> list[dict[str, Any]]:
        return list(self.ghl.admin.state(location_id)["contacts"])

    def mapping_of(self, location_id: str, lead_id: str) -> str | None:
        from rankr_ghl.aws.sync_state import DynamoMappingStore
        from rankr_ghl.sync.types import Entity

        store = DynamoMappingStore(self.function_env["SYNC_TABLE"], client=self.stack.client("dynamodb"))
        mapping = store.get_by_rankr(location_id, Entity.CONTACT, lead_id)
        return mapping.ghl_id if mapping else None
