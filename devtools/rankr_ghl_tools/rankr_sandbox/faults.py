"""Seeded fault injection for the Rankr sandbox's public API (never for /_admin)."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

# Order matters only for the cumulative draw; the kinds are mutually exclusive per request.
RATE_KEYS = {
    "rate429": "429",
    "rate500": "500",
    "rate502": "502",
    "rate503": "503",
    "rateSlow": "slow",
    "rateDrop": "drop",
    "rateDropAfterCommit": "drop_after_commit",
}


def _camel(key: str) -> str:
    """rate_500 / rate_drop_after_commit / slow_seconds -> rate500 / rateDropAfterCommit / slowSeconds."""
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@dataclass
class FaultSettings:
    rates: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = 5.0
    retry_after_seconds: int = 1
    paths: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {key: self.rates.get(kind, 0.0) for key, kind in RATE_KEYS.items()}
        data["slowSeconds"] = self.slow_seconds
        data["retryAfterSeconds"] = self.retry_after_seconds
        data["paths"] = self.paths
        return data


class FaultInjector:
    """Draws one number per eligible request from a seeded RNG, so a run is reproducible."""

    def __init__(self, seed: int = 0, retry_after_seconds: int = 1) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)
        self._default_retry_after = retry_after_seconds
        self.settings = FaultSettings(retry_after_seconds=retry_after_seconds)

    def configure(self, body: dict[str, Any]) -> FaultSettings:
        """Replace the fault set (an empty body clears it). Raises ValueError on bad input."""
        body = {_camel(k) if "_" in k else k: v for k, v in body.items()}
        known = {*RATE_KEYS, "slowSeconds", "retryAfterSeconds", "paths", "seed"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        rates: dict[str, float] = {}
        for key, kind in RATE_KEYS.items():
            value = float(body.get(key, 0) or 0)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{key} must be between 0 and 1")
            rates[kind] = value
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        paths = body.get("paths")
        if paths is not None and (
            not isinstance(paths, list) or not all(isinstance(p, str) and " " in p for p in paths)
        ):
            raise ValueError("paths must be a list of 'METHOD /template' strings")
        slow = float(body.get("slowSeconds", 5))
        retry_after = int(body.get("retryAfterSeconds", self._default_retry_after))
        if slow < 0 or retry_after < 0:
            raise ValueError("slowSeconds and retryAfterSeconds must be >= 0")
        settings = FaultSettings(rates=rates, slow_seconds=slow, retry_after_seconds=retry_after, paths=paths)
        with self._lock:
            self.settings = settings
            if body.get("seed") is not None:
                self._rng = random.Random(int(body["seed"]))
        return settings

    def reset(self) -> None:
        with self._lock:
            self.settings = FaultSettings(retry_after_seconds=self._default_retry_after)
            self._rng = random.Random(self._seed)

    def draw(self, route_key: str) -> tuple[str | None, FaultSettings]:
        """The fault kind for this request (or None) and the settings it was drawn under."""
        with self._lock:
            settings = self.settings
            if not any(settings.rates.values()):
                return None, settings
            if settings.paths is not None and not any(_matches(route_key, p) for p in settings.paths):
                return None, settings
            roll = self._rng.random()
            cumulative = 0.0
            for kind in RATE_KEYS.values():
                cumulative += settings.rates.get(kind, 0.0)
                if roll < cumulative:
                    return kind, settings
            return None, settings


def _matches(route_key: str, pattern: str) -> bool:
    """`pattern` is "METHOD /template"; `*` as method or a trailing `*` in the path are wildcards."""
    method, _, path = pattern.partition(" ")
    key_method, _, key_path = route_key.partition(" ")
    if method not in ("*", key_method):
        return False
    if path.endswith("*"):
        return key_path.startswith(path[:-1])
    return re.fullmatch(re.escape(path), key_path) is not None
