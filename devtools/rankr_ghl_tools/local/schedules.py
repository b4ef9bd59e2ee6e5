"""Fire the template's schedules (EventBridge Scheduler `rate(...)`, `cron(...)`, `at(...)`).

Time runs `speedup` times faster than the wall clock: with speedup=60, `rate(15 minutes)` fires every
15 s. A firing is an async invoke of the target with the schedule's Input as the event, exactly what
EventBridge Scheduler does for a Lambda target (then Lambda's async retries apply).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rankr_ghl_tools.local.template import ScheduleSpec

_RATE_RE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_AT_RE = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}  # AWS: 1 = Sunday


class UnsupportedSchedule(ValueError):
    pass


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """One cron field -> the allowed values (None = any)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for item in text.split(","):
        if any(c in item for c in "LW#"):
            raise UnsupportedSchedule(f"cron field {text!r}: L, W and # are not supported locally")
        part, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    upper = text.upper()
    if names and upper in names:
        return names[upper]
    return int(text)


@dataclass(frozen=True)
class Cron:
    minutes: set[int] | None
    hours: set[int] | None
    days: set[int] | None
    months: set[int] | None
    weekdays: set[int] | None  # 1 = Sunday
    years: set[int] | None

    @classmethod
    def parse(cls, body: str) -> Cron:
        parts = body.split()
        if len(parts) != 6:
            raise UnsupportedSchedule(f"cron({body}) needs 6 fields")
        return cls(
            _field(parts[0], 0, 59),
            _field(parts[1], 0, 23),
            _field(parts[2], 1, 31),
            _field(parts[3], 1, 12, _MONTHS),
            _field(parts[4], 1, 7, _DAYS),
            _field(parts[5], 1970, 2199),
        )

    def next_after(self, moment: datetime) -> datetime:
        t = (moment + timedelta(minutes=1)).replace(second=0, microsecond=0)
        limit = moment + timedelta(days=366 * 5)
        while t < limit:
            if self.years is not None and t.year not in self.years:
                t = datetime(t.year + 1, 1, 1, tzinfo=t.tzinfo)
                continue
            if self.months is not None and t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            weekday = (t.isoweekday() % 7) + 1  # Sunday -> 1
            if (self.days is not None and t.day not in self.days) or (
                self.weekdays is not None and weekday not in self.weekdays
            ):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if self.hours is not None and t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if self.minutes is not None and t.minute not in self.minutes:
                t += timedelta(minutes=1)
                continue
            return t
        raise UnsupportedSchedule("cron expression never fires")


def next_fire(expression: str, after: datetime) -> datetime | None:
    """The first firing strictly after `after` (UTC), or None when there is none."""
    rate = _RATE_RE.match(expression)
    if rate:
        unit = rate.group(2).rstrip("s")
        return after + timedelta(seconds=int(rate.group(1)) * _UNIT_S[unit])
    at = _AT_RE.match(expression)
    if at:
        moment = datetime.fromisoformat(at.group(1)).replace(tzinfo=UTC)
        return moment if moment > after else None
    if expression.startswith("cron(") and expression.endswith(")"):
        return Cron.parse(expression[5:-1]).next_after(after)
    raise UnsupportedSchedule(f"schedule expression {expression!r} not understood")


def schedule_event(spec: ScheduleSpec) -> Any:
    """The event the Scheduler passes to a Lambda target: the Input, parsed."""
    if spec.input is None:
        return {}
    try:
        return json.loads(spec.input)
    except ValueError:
        return spec.input


class ScheduleRunner:
    """Background thread firing enabled schedules on a sped-up clock."""

    def __init__(
        self,
        schedules: list[ScheduleSpec],
        fire: Callable[[ScheduleSpec], None],
        *,
        speedup: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be > 0")
        self.fire = fire
        self.speedup = speedup
        self.clock = clock
        self._start_real = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)
        self.next_due: dict[str, datetime] = {}
        self.fired: dict[str, int] = {}
        self.skipped: dict[str, str] = {}  # name -> why it cannot run locally
        self.specs = {s.name: s for s in schedules if s.enabled}
        now = self.virtual_now()
        for spec in self.specs.values():
            try:
                due = next_fire(spec.expression, now)
            except UnsupportedSchedule as exc:
                self.skipped[spec.name] = str(exc)
                continue
            if due is not None:
                self.next_due[spec.name] = due

    def virtual_now(self) -> datetime:
        real = self.clock()
        return datetime.fromtimestamp(self._start_real + (real - self._start_real) * self.speedup, tz=UTC)

    def start(self) -> ScheduleRunner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.virtual_now()
            for name, due in list(self.next_due.items()):
                if due <= now:
                    self.fired[name] = self.fired.get(name, 0) + 1
                    spec = self.specs[name]
                    try:
                        self.fire(spec)
                    except Exception:
                        import traceback

                        traceback.print_exc()
                    base = max(due, now) if spec.expression.startswith("cron") else due
                    following = next_fire(spec.expression, base)
                    if following is None:
                        del self.next_due[name]
                    else:
                        self.next_due[name] = following
            if self.next_due:
                soonest = min(self.next_due.values())
                wait = (soonest - self.virtual_now()).total_seconds() / self.speedup
                self._stop.wait(min(max(wait, 0.01), 1.0))
            else:
                self._stop.wait(1.0)
