"""`CountingClient`: a real boto3 client that counts the operations made through it, so an
integration test can prove how many round trips an adapter makes against the embedded AWS."""

from __future__ import annotations

from collections import Counter
from typing import Any


class CountingClient:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self._client, name)
