"""`AgencyProgressTally` on ConnectionsTable: an agency install's progress aggregated across its
parallel chunk runs, on the company connection's item.

`agencyInstall` (the map `connection.get` shows) holds the attempt and its counters; the chunk keys
counted so far are a string set beside it (`agencyInstallChunks`, never shown). Every write is one
conditional UpdateItem on the item, so concurrent chunk runs add their counts atomically, a chunk is
counted once whatever its retries, and only the write that finds every chunk counted sets `done`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from rankr_ghl.aws.connections_store import plain_numbers
from rankr_ghl.aws.dynamodb import DynamoDBClientSource, LazyDynamoDBClient
from rankr_ghl.connections.agency_job import (
    AgencyInstallProgress,
    AgencyInstallStatus,
    ChunkCount,
    ListingTotals,
)
from rankr_ghl.connections.errors import ConnectionNotFound, TokenStorageError
from rankr_ghl.connections.status import company_connection_id

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

_SER = TypeSerializer()
_DESER = TypeDeserializer()
CHUNKS_ATTRIBUTE = "agencyInstallChunks"
_NAMES = {"#a": "agencyInstall", "#s": "status", "#t": "attempt", "#c": CHUNKS_ATTRIBUTE}


class DynamoAgencyProgress:
    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        client_source: DynamoDBClientSource | None = None,
    ) -> None:
        self.table_name = table_name
        self._client = LazyDynamoDBClient(client, client_source)

    def _update(self, company_id: str, **params: Any) -> dict[str, Any] | None:
        """The item's `agencyInstall` after the update; None when its condition did not hold."""
        try:
            response = self._client.get().update_item(
                TableName=self.table_name,
                Key={"connectionId": {"S": company_connection_id(company_id)}},
                ReturnValues="ALL_NEW",
                **params,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise TokenStorageError("could not record the agency install", connection_id=company_id) from exc
        except BotoCoreError as exc:
            raise TokenStorageError("could not record the agency install", connection_id=company_id) from exc
        raw = response.get("Attributes", {}).get("agencyInstall")
        return dict(plain_numbers(_DESER.deserialize(raw))) if raw else {}

    def start_attempt(self, company_id: str, progress: AgencyInstallProgress) -> None:
        state = self._update(
            company_id,
            UpdateExpression="SET #a = :p REMOVE #c",
            ConditionExpression="attribute_exists(connectionId)",
            ExpressionAttributeNames={"#a": "agencyInstall", "#c": CHUNKS_ATTRIBUTE},
            ExpressionAttributeValues={":p": _SER.serialize(progress.to_item())},
        )
        if state is None:  # never creates the company connection (an uninstall may have removed it)
            raise ConnectionNotFound("no such agency connection", connection_id=company_id)

    def count_chunk(
        self, company_id: str, attempt: str, chunk_key: str, *, connected: int, skipped: int, now_ms: int
    ) -> dict[str, Any] | None:
        return self._update(
            company_id,
            UpdateExpression=(
                "SET #a.connected = #a.connected + :c, #a.skipped = #a.skipped + :k,"
                " #a.chunksDone = #a.chunksDone + :one, #a.updatedMs = :now, #a.#s = :running ADD #c :keys"
            ),
            ConditionExpression="#a.#t = :t AND #a.#s <> :done AND NOT contains(#c, :key)",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={
                ":c": {"N": str(connected)},
                ":k": {"N": str(skipped)},
                ":one": {"N": "1"},
                ":now": {"N": str(now_ms)},
                ":running": {"S": AgencyInstallStatus.RUNNING.value},
                ":done": {"S": AgencyInstallStatus.DONE.value},
                ":t": {"S": attempt},
                ":key": {"S": chunk_key},
                ":keys": {"SS": [chunk_key]},
            },
        )

    def complete_listing(
        self,
        company_id: str,
        attempt: str,
        totals: ListingTotals,
        *,
        now_ms: int,
    ) -> dict[str, Any] | None:
        return self._update(
            company_id,
            UpdateExpression=(
                "SET #a.locations = :l, #a.chunks = :n, #a.connected = #a.connected + :c, #a.updatedMs = :now"
            ),
            ConditionExpression="#a.#t = :t AND attribute_not_exists(#a.chunks)",
            ExpressionAttributeNames={"#a": "agencyInstall", "#t": "attempt"},
            ExpressionAttributeValues={
                ":l": {"N": str(totals.locations)},
                ":n": {"N": str(totals.chunks)},
                ":c": {"N": str(totals.connected_before)},
                ":now": {"N": str(now_ms)},
                ":t": {"S": attempt},
            },
        )

    def complete_listing_finished(
        self,
        company_id: str,
        attempt: str,
        totals: ListingTotals,
        *,
        last: ChunkCount | None,
        now_ms: int,
    ) -> dict[str, Any] | None:
        update = (
            "SET #a.locations = :l, #a.chunks = :n, #a.chunksDone = :n, #a.connected = #a.connected + :c,"
            " #a.skipped = #a.skipped + :k, #a.#s = :done, #a.updatedMs = :now, #a.#e = :null"
        )
        condition = (
            "#a.#t = :t AND attribute_not_exists(#a.chunks) AND #a.chunksDone = :counted AND #a.#s <> :done"
        )
        values: dict[str, Any] = {
            ":l": {"N": str(totals.locations)},
            ":n": {"N": str(totals.chunks)},
            ":counted": {"N": str(totals.chunks - (1 if last is not None else 0))},
            ":c": {"N": str(totals.connected_before + (last.connected if last is not None else 0))},
            ":k": {"N": str(last.skipped if last is not None else 0)},
            ":done": {"S": AgencyInstallStatus.DONE.value},
            ":now": {"N": str(now_ms)},
            ":null": {"NULL": True},
            ":t": {"S": attempt},
        }
        names = {"#a": "agencyInstall", "#s": "status", "#t": "attempt", "#e": "error"}
        if last is not None:  # counted as count_chunk counts it, in the same write
            names["#c"] = CHUNKS_ATTRIBUTE
            update += " ADD #c :keys"
            condition += " AND NOT contains(#c, :key)"
            values[":keys"] = {"SS": [last.key]}
            values[":key"] = {"S": last.key}
        return self._update(
            company_id,
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def finish(self, company_id: str, attempt: str, chunks: int, now_ms: int) -> bool:
        state = self._update(
            company_id,
            UpdateExpression="SET #a.#s = :done, #a.updatedMs = :now, #a.#e = :null",
            ConditionExpression="#a.#t = :t AND #a.#s <> :done AND #a.chunks = :n AND #a.chunksDone = :n",
            ExpressionAttributeNames={"#a": "agencyInstall", "#s": "status", "#t": "attempt", "#e": "error"},
            ExpressionAttributeValues={
                ":done": {"S": AgencyInstallStatus.DONE.value},
                ":now": {"N": str(now_ms)},
                ":null": {"NULL": True},
                ":t": {"S": attempt},
                ":n": {"N": str(chunks)},
            },
        )
        return state is not None

    def record_status(
        self,
        company_id: str,
        attempt: str,
        status: AgencyInstallStatus,
        now_ms: int,
        error: str | None = None,
    ) -> None:
        self._update(
            company_id,
            UpdateExpression="SET #a.#s = :s, #a.updatedMs = :now, #a.#e = :e",
            ConditionExpression="#a.#t = :t AND #a.#s <> :done",
            ExpressionAttributeNames={"#a": "agencyInstall", "#s": "status", "#t": "attempt", "#e": "error"},
            ExpressionAttributeValues={
                ":s": {"S": status.value},
                ":now": {"N": str(now_ms)},
                ":e": {"S": error} if error is not None else {"NULL": True},
                ":t": {"S": attempt},
                ":done": {"S": AgencyInstallStatus.DONE.value},
            },
        )
