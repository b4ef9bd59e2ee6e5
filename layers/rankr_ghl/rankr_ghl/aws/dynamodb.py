"""The DynamoDB client every table adapter uses, and how an adapter receives it.

An adapter takes either a ready client or a `DynamoDBClientSource` (a factory it calls on its first
request), so the composition root can hand one lazily built client to every store of a container:
each extra boto3 client costs cold start, and a store that is never used never builds one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

DynamoDBClientSource = Callable[[], "DynamoDBClient"]

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
