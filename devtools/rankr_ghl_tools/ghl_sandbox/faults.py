"""Fault injection for the resource API (never for /_admin or /oauth/chooselocation)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("429", "500", "502", "503", "slow", "drop", "422created")
_RATE_KEYS = {
    "rate429": "429",
    "rate500": "500",
    "rate502": "502",
    "rate503": "503",
    "rateSlow": "slow",
    "rateDrop": "drop",
    "rate422Created": "422created",
}


@dataclass
class FaultSettings:
    rates: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = 5.0
    paths: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {key: self.rates.get(kind, 0.0) for key, kind in _RATE_KEYS.items()}
        data["slowSeconds"] = self.slow_seconds
        data["paths"] = self.paths
        return data


class FaultInjector:
    """Draws one number per eligible request from a seeded RNG, so a run is reproducible."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.settings = FaultSettings()
        self.injected: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)

    def configure(self, body: dict[str, Any]) -> FaultSettings:
        rates: dict[str, float] = {}
        for key, kind in _RATE_KEYS.items():
            value = float(body.get(key, 0) or 0)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{key} must be between 0 and 1")
            rates[kind] = value
        if sum(rates.values()) > 1.0:
            raise ValueError("fault rates add up to more than 1")
        paths = body.get("paths")
        if paths is not None and (not isinstance(paths, list) or not all(isinstance(p, str) for p in paths)):
            raise ValueError("paths must be a list of 'METHOD /template' strings")
        settings = FaultSettings(rates=rates, slow_seconds=float(body.get("slowSeconds", 5)), paths=paths)
        with self._lock:
            self.settings = settings
            if body.get("seed") is not None:
                self._rng = random.Random(int(body["seed"]))
        return settings

    def reset(self, seed: int) -> None:
        with self._lock:
            self.settings = FaultSettings()
            self._rng = random.Random(seed)
            self.injected = dict.fromkeys(FAULT_KINDS, 0)

    def draw(self, route_key: str, is_create: bool) -> str | None:
        """The fault to inject for this request, or None. `route_key` is "METHOD /template"."""
        with self._lock:
            settings = self.settings
            if not any(settings.rates.values()):
                return None
            if settings.paths is not None and not _path_selected(route_key, settings.paths):
                return None
            roll = self._rng.random()
            cumulative = 0.0
            for kind in FAULT_KINDS:
                cumulative += settings.rates.get(kind, 0.0)
                if roll < cumulative:
                    if kind == "422created" and not is_create:
                        return None
                    self.injected[kind] += 1
                    return kind
            return None


def _path_selected(route_key: str, paths: list[str]) -> bool:
    template = route_key.split(" ", 1)[1]
    return any(p in (route_key, template) for p in paths)
