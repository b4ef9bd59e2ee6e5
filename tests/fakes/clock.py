"""Clocks for the record fakes: `WallClock` (the default, real time) and `FakeClock`, which moves one
second a write so that every record's modification time is distinct and a test can move time on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> datetime: ...

    def tick(self) -> datetime:
        """The time of a write (a fake clock moves on first)."""
        ...


class WallClock:
    def __call__(self) -> datetime:
        return datetime.now(UTC)

    def tick(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def __call__(self) -> datetime:
        return self.now


def iso(moment: datetime) -> str:
    """Both APIs' wire form: milliseconds and `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
