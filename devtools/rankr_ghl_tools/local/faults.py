"""One seeded fault injector for both sandboxes' public APIs (never for their /_admin endpoints).

Each sandbox names the fault kinds it can apply (`rate429` -> "429", ...); the injector draws one number
per eligible request from a seeded RNG, so a run is reproducible, and counts what it injected.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

COMMON_RATE_KEYS: dict[str, str] = {
    "rate429": "429",
    "rate500": "500",
    "rate502": "502",
    "rate503": "503",
    "rateSlow": "slow",
    "rateDrop": "drop",
}


def camel_case(key: str) -> str:
    """rate_500 / rate_drop_after_commit / slow_seconds -> rate500 / rateDropAfterCommit / slowSeconds."""
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@dataclass
class FaultSettings:
    rate_keys: Mapping[str, str]
    rates: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = 5.0
    retry_after_seconds: int = 1
    paths: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {key: self.rates.get(kind, 0.0) for key, kind in self.rate_keys.items()}
        data["slowSeconds"] = self.slow_seconds
        data["retryAfterSeconds"] = self.retry_after_seconds
        data["paths"] = self.paths
        return data


class FaultInjector:
    """`draw(route_key)` answers the fault kind for one request ("METHOD /template"), or None.

    `create_only` kinds (a create that answers an error but was applied) apply only to create routes.
    """

    def __init__(
        self,
        rate_keys: Mapping[str, str],
        *,
        seed: int = 0,
        retry_after_seconds: int = 1,
        create_only: frozenset[str] = frozenset(),
    ) -> None:
        self.rate_keys = dict(rate_keys)
        self._create_only = create_only
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)
        self._default_retry_after = retry_after_seconds
        self.settings = FaultSettings(self.rate_keys, retry_after_seconds=retry_after_seconds)
        self.injected: dict[str, int] = dict.fromkeys(self.rate_keys.values(), 0)

    def configure(self, body: dict[str, Any]) -> FaultSettings:
        """Replace the fault set (an empty body clears it). Raises ValueError on bad input."""
        body = {camel_case(k) if "_" in k else k: v for k, v in body.items()}
        known = {*self.rate_keys, "slowSeconds", "retryAfterSeconds", "paths", "seed"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        rates: dict[str, float] = {}
        for key, kind in self.rate_keys.items():
            value = float(body.get(key, 0) or 0)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{key} must be between 0 and 1")
            rates[kind] = value
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        paths = body.get("paths")
        if paths is not None and (not isinstance(paths, list) or not all(isinstance(p, str) for p in paths)):
            raise ValueError("paths must be a list of 'METHOD /template' strings")
        slow = float(body.get("slowSeconds", 5))
        retry_after = int(body.get("retryAfterSeconds", self._default_retry_after))
        if slow < 0 or retry_after < 0:
            raise ValueError("slowSeconds and retryAfterSeconds must be >= 0")
        settings = FaultSettings(
            self.rate_keys, rates=rates, slow_seconds=slow, retry_after_seconds=retry_after, paths=paths
        )
        with self._lock:
            self.settings = settings
            if body.get("seed") is not None:
                self._rng = random.Random(int(body["seed"]))
        return settings

    def reset(self, seed: int | None = None) -> None:
        with self._lock:
            self._seed = self._seed if seed is None else seed
            self.settings = FaultSettings(self.rate_keys, retry_after_seconds=self._default_retry_after)
            self._rng = random.Random(self._seed)
            self.injected = dict.fromkeys(self.rate_keys.values(), 0)

    def draw(self, route_key: str, *, is_create: bool = False) -> tuple[str | None, FaultSettings]:
        """The fault kind for this request (or None) and the settings it was drawn under."""
        with self._lock:
            settings = self.settings
            if not any(settings.rates.values()):
                return None, settings
            if settings.paths is not None and not any(path_matches(route_key, p) for p in settings.paths):
                return None, settings
            roll = self._rng.random()
            cumulative = 0.0
            for kind in self.rate_keys.values():
                cumulative += settings.rates.get(kind, 0.0)
                if roll < cumulative:
                    if kind in self._create_only and not is_create:
                        return None, settings
                    self.injected[kind] += 1
                    return kind, settings
            return None, settings


def path_matches(route_key: str, pattern: str) -> bool:
    """`pattern` is "METHOD /template" or "/template"; `*` as method or a trailing `*` are wildcards."""
    key_method, _, key_path = route_key.partition(" ")
    method, _, path = pattern.partition(" ") if " " in pattern else ("*", "", pattern)
    if method not in ("*", key_method):
        return False
    if path.endswith("*"):
        return key_path.startswith(path[:-1])
    return key_path == path
