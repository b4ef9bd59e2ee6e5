"""The honest rate floor every benchmark that reports `efficiency` measures itself against.

A window starts full: the first `limit` requests go at once, and each further window admits `limit`
more. N requests at L per window therefore need (N / L - 1) windows of waiting, not N / L: counting
the first window as time spent would overstate efficiency by one window (about 20 % at N = 600,
L = 100). The floor is never negative: N <= L requests need no waiting at all.
"""

from __future__ import annotations


def floor_windows(requests: int, limit: int) -> float:
    """Windows N requests at `limit` per window must wait through: max(N / L - 1, 0)."""
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    if requests < 0:
        raise ValueError(f"requests must not be negative, got {requests}")
    return max(requests / limit - 1.0, 0.0)


def floor_seconds(requests: int, limit: int, window_seconds: float) -> float:
    """The least wall-clock time N requests can take at `limit` per `window_seconds`."""
    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds}")
    return floor_windows(requests, limit) * window_seconds


def efficiency(requests: int, limit: int, window_seconds: float, seconds: float) -> float:
    """floor_seconds / measured seconds (1.0 = at the floor), rounded to 3 places; 0.0 when nothing ran."""
    if seconds <= 0:
        return 0.0
    return round(floor_seconds(requests, limit, window_seconds) / seconds, 3)
