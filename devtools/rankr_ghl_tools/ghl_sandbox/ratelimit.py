"""GHL-style rate limits: a burst window and a daily cap per app per resource (location or company)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class RateLimitSettings:
    max: int
    interval_ms: int
    daily: int
    # The daily budget starts again this many seconds after midnight UTC (variant daily_reset_utc).
    daily_reset_offset_s: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"max": self.max, "interval_ms": self.interval_ms, "daily": self.daily}


@dataclass
class _Bucket:
    window_start: float = 0.0
    window_count: int = 0
    stamps: deque[float] = field(default_factory=deque)
    day: int = -1
    day_count: int = 0


@dataclass
class RateDecision:
    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    """Thread-safe; only allowed requests consume budget (a 429 does not)."""

    def __init__(self, algorithm: str = "fixed") -> None:
        self.algorithm = algorithm
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

    def check(self, key: str, settings: RateLimitSettings) -> RateDecision:
        now = time.monotonic()
        interval = settings.interval_ms / 1000.0
        day = int((time.time() - settings.daily_reset_offset_s) // 86400)
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket())
            if bucket.day != day:
                bucket.day, bucket.day_count = day, 0
            if self.algorithm == "sliding":
                while bucket.stamps and bucket.stamps[0] <= now - interval:
                    bucket.stamps.popleft()
                used = len(bucket.stamps)
            else:
                if now - bucket.window_start >= interval:
                    bucket.window_start, bucket.window_count = now, 0
                used = bucket.window_count
            allowed = used < settings.max and bucket.day_count < settings.daily
            if allowed:
                used += 1
                bucket.day_count += 1
                if self.algorithm == "sliding":
                    bucket.stamps.append(now)
                else:
                    bucket.window_count += 1
            headers = {
                "X-RateLimit-Limit-Daily": str(settings.daily),
                "X-RateLimit-Daily-Remaining": str(max(0, settings.daily - bucket.day_count)),
                "X-RateLimit-Interval-Milliseconds": str(settings.interval_ms),
                "X-RateLimit-Max": str(settings.max),
                "X-RateLimit-Remaining": str(max(0, settings.max - used)),
            }
            return RateDecision(allowed, headers)
