"""The `make run` scenario: an ordered registry of steps that other flows extend.

Add a step module to this package (any `scenario/<name>.py` is imported by `load_steps()`):

    from rankr_ghl_tools.scenario import ScenarioContext, StepResult, step

    @step("Lead push: 3 leads reach GHL", order=200, needs=("ghl", "rankr"))
    def lead_push(ctx: ScenarioContext) -> StepResult:
        location = ctx.state["location_id"]            # shared with earlier steps
        ...
        return StepResult.success("3 leads pushed, 3 contacts in GHL", counts={"leads": 3})

Order ranges: 0-99 runtime checks, 100-199 foundation (install, GHL contacts, Rankr contacts),
200-299 lead push, 300-399 webhooks, 400-499 reconcile, 500-599 dry run/reports, 900+ summaries.
A step returns a `StepResult` (or raises: that is a failure, shown with its one-line message);
`raise StepSkipped("why")` when a prerequisite is missing (e.g. an earlier step failed).
`needs` names parts of the stack the step requires ("ghl", "rankr"); it is skipped without them.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from rankr_ghl_tools.local.stack import LocalStack


class StepSkipped(Exception):
    """Raised by a step whose prerequisites are missing."""


@dataclass
class StepResult:
    ok: bool
    summary: str
    counts: dict[str, int] = field(default_factory=dict)
    skipped: bool = False

    @classmethod
    def success(cls, summary: str, counts: dict[str, int] | None = None) -> StepResult:
        return cls(True, summary, dict(counts or {}))

    @classmethod
    def failure(cls, summary: str, counts: dict[str, int] | None = None) -> StepResult:
        return cls(False, summary, dict(counts or {}))


StepFunction = Callable[["ScenarioContext"], StepResult]


@dataclass(frozen=True)
class Step:
    name: str
    order: int
    func: StepFunction
    needs: tuple[str, ...] = ()


@dataclass
class StepOutcome:
    step: Step
    result: StepResult
    seconds: float


@dataclass
class ScenarioContext:
    """What steps get: the running stack, a console, and `state` shared between steps."""

    stack: LocalStack
    console: Console | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def say(self, message: str) -> None:
        """A detail line under the current step (never print tokens, e-mails or phones)."""
        if self.console is not None:
            self.console.print(f"    [dim]{message}[/dim]", highlight=False)

    def has(self, part: str) -> bool:
        if part == "ghl":
            return self.stack.ghl is not None
        if part == "rankr":
            return self.stack.rankr is not None
        return part in self.state


_REGISTRY: dict[str, Step] = {}


def step(name: str, *, order: int, needs: Iterable[str] = ()) -> Callable[[StepFunction], StepFunction]:
    """Register a scenario step (idempotent per name, so re-imports do not duplicate it)."""

    def register(func: StepFunction) -> StepFunction:
        _REGISTRY[name] = Step(name, order, func, tuple(needs))
        return func

    return register


def registered_steps() -> list[Step]:
    return sorted(_REGISTRY.values(), key=lambda s: (s.order, s.name))


def load_steps() -> list[Step]:
    """Import every module of this package (each registers its steps) and return them in order."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return registered_steps()


def run_steps(ctx: ScenarioContext, steps: Iterable[Step]) -> list[StepOutcome]:
    outcomes: list[StepOutcome] = []
    console = ctx.console
    for item in steps:
        started = time.monotonic()
        missing = [part for part in item.needs if not ctx.has(part)]
        if missing:
            result = StepResult(True, f"skipped: needs {', '.join(missing)}", skipped=True)
        else:
            try:
                result = item.func(ctx)
            except StepSkipped as skip:
                result = StepResult(True, f"skipped: {skip}", skipped=True)
            except Exception as exc:
                result = StepResult.failure(f"{type(exc).__name__}: {_one_line(str(exc))}")
        outcome = StepOutcome(item, result, time.monotonic() - started)
        outcomes.append(outcome)
        if console is not None:
            mark = (
                "[yellow]–[/yellow]"
                if result.skipped
                else ("[green]✓[/green]" if result.ok else "[red]✗[/red]")
            )
            console.print(
                f"{mark} {item.name}: {result.summary} [dim]({outcome.seconds:.2f}s)[/dim]", highlight=False
            )
    return outcomes


def summary_table(outcomes: list[StepOutcome]) -> Any:
    """A one-screen rich table of the run."""
    from rich.table import Table

    table = Table(title="Scenario summary", show_lines=False)
    table.add_column("", width=1)
    table.add_column("Step")
    table.add_column("Result")
    table.add_column("Counts")
    table.add_column("s", justify="right")
    for outcome in outcomes:
        result = outcome.result
        mark = "–" if result.skipped else ("✓" if result.ok else "✗")
        style = "yellow" if result.skipped else ("green" if result.ok else "red")
        counts = ", ".join(f"{k}={v}" for k, v in result.counts.items())
        table.add_row(
            f"[{style}]{mark}[/{style}]",
            outcome.step.name,
            _one_line(result.summary, 60),
            counts,
            f"{outcome.seconds:.2f}",
        )
    passed = sum(1 for o in outcomes if o.result.ok and not o.result.skipped)
    failed = sum(1 for o in outcomes if not o.result.ok)
    skipped = sum(1 for o in outcomes if o.result.skipped)
    table.caption = f"{passed} passed, {failed} failed, {skipped} skipped"
    return table


def _one_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
