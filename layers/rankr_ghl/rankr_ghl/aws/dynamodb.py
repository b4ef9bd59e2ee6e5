"""The DynamoDB client every table adapter uses, how an adapter receives it, and batched writes.

An adapter takes either a ready client or a `DynamoDBClientSource` (a factory it calls on its first
request), so the composition root can hand one lazily built client to every store of a container:
each extra boto3 client costs cold start, and a store that is never used never builds one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

DynamoDBClientSource = Callable[[], "DynamoDBClient"]

BATCH_ATTEMPTS = 5  # rounds for the keys/items a batch call leaves unprocessed
BATCH_WRITE_MAX = 25  # DynamoDB's BatchWriteItem limit
BATCH_GET_MAX = 100  # DynamoDB's BatchGetItem limit

# Lead push writes from a pool of worker threads; botocore's default pool (10) would make them queue.
MAX_POOL_CONNECTIONS = 32


def new_dynamodb_client() -> DynamoDBClient:
    """A client with bounded retries and timeouts (honours AWS_ENDPOINT_URL through botocore)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        config=Config(
            retries={"mode": "standard", "max_attempts": 4},
            connect_timeout=3,
            read_timeout=5,
            max_pool_connections=MAX_POOL_CONNECTIONS,
        ),
    )


class LazyDynamoDBClient:
    """Holds an adapter's client: the one it was given, else the source's, fetched on first use."""

    __slots__ = ("_client", "_source")

    def __init__(self, client: DynamoDBClient | None, source: DynamoDBClientSource | None) -> None:
        self._client = client
        self._source = source

    def get(self) -> DynamoDBClient:
        if self._client is None:
            self._client = (self._source or new_dynamodb_client)()
        return self._client


def write_batches(client: DynamoDBClient, table_name: str, requests: Sequence[Any], *, what: str) -> None:
    """BatchWriteItem in chunks of 25, re-sending what DynamoDB leaves unprocessed (with backoff);
    raises RuntimeError when some requests are still unprocessed after `BATCH_ATTEMPTS` rounds."""
    write_batch_items(client, [(table_name, request) for request in requests], what=what)


def write_batch_items(client: DynamoDBClient, requests: Sequence[tuple[str, Any]], *, what: str) -> None:
    """`write_batches` for (table name, request) pairs of one or more tables (one call can write to
    several tables: fewer round trips when a step writes to two)."""
    pending = list(requests)
    while pending:
        chunk, pending = pending[:BATCH_WRITE_MAX], pending[BATCH_WRITE_MAX:]
        items: dict[str, list[Any]] = {}
        for table_name, request in chunk:
            items.setdefault(table_name, []).append(request)
        for attempt in range(BATCH_ATTEMPTS):
            resp = client.batch_write_item(RequestItems=items)
            items = {name: list(left) for name, left in (resp.get("UnprocessedItems") or {}).items() if left}
            if not items:
                break
            time.sleep(0.02 * (2**attempt))
        else:
            left = sum(len(requests) for requests in items.values())
            raise RuntimeError(f"{what} not written: DynamoDB left {left} items unprocessed")
