"""E2E fixtures (flows through the local runtime) and the session-wide secrets-in-logs watch.

- `e2e_stack` (session): one LocalStack (embedded AWS + GHL and Rankr sandboxes + gateway + pumps +
  Invoke API) with handler logs captured to a file. Tests install their own locations (unique ids).
- `leak_watch` (session): see e2e_leak_watch.py. Every LocalStack started during e2e tests is watched
  (handler output + secrets harvested); test-process logs and captured output of e2e tests are too.
  `test_no_secrets_in_logs.py` is moved after every other e2e test and asserts nothing leaked.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_leak_watch import LeakWatch, WatchLogHandler
from rankr_ghl_tools.local import stack as stack_module
from rankr_ghl_tools.local import workers as workers_module

E2E_DIR = Path(__file__).resolve().parent
LEAK_TEST_FILE = "test_no_secrets_in_logs.py"
IAM_TEST_FILE = "test_iam_calls.py"
LAST_TEST_FILES = (LEAK_TEST_FILE, IAM_TEST_FILE)  # each judges every other e2e test, in this order

_WATCH = LeakWatch(Path(tempfile.mkdtemp(prefix="rankr-ghl-e2e-")) / "captured.log")


def _in_e2e(path: Any) -> bool:
    try:
        return E2E_DIR in Path(str(path)).resolve().parents
    except OSError:
        return False


# -- hooks: wrap the local runtime once so every stack of the session is watched ----------------------
def _install_wrappers() -> None:
    fanout_call = workers_module.LogFanout.__call__
    if getattr(fanout_call, "_leak_watched", False):
        return

    def watched_call(self: Any, logical_id: str, line: str) -> None:
        _WATCH.record(f"handler:{logical_id}", line)
        fanout_call(self, logical_id, line)

    watched_call._leak_watched = True  # type: ignore[attr-defined]
    workers_module.LogFanout.__call__ = watched_call  # type: ignore[method-assign]

    original_start = stack_module.LocalStack.start
    original_stop = stack_module.LocalStack.stop

    def watched_start(self: Any) -> Any:
        result = original_start(self)
        if _WATCH.active:
            _WATCH.stacks.append(self)
        return result

    def watched_stop(self: Any) -> None:
        if self in _WATCH.stacks and getattr(self, "_started", False):
            _WATCH.harvest(self)  # the sandboxes' tokens vanish with them
        original_stop(self)

    stack_module.LocalStack.start = watched_start  # type: ignore[method-assign]
    stack_module.LocalStack.stop = watched_stop  # type: ignore[method-assign]


_LOG_HANDLER = WatchLogHandler(_WATCH)


_ROOT: list[Path] = [Path.cwd()]


def pytest_configure(config: pytest.Config) -> None:
    _ROOT[0] = config.rootpath
    _WATCH.open()
    _install_wrappers()
    logging.getLogger().addHandler(_LOG_HANDLER)
    logging.getLogger(os.environ.get("POWERTOOLS_SERVICE_NAME", "rankr-ghl")).addHandler(_LOG_HANDLER)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_LOG_HANDLER)
    _WATCH.close()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[Any]) -> None:
    """Run the leak check, then the IAM check, after every other e2e test (they judge what those did)."""
    last = [
        item for name in LAST_TEST_FILES for item in items if _in_e2e(item.path) and item.path.name == name
    ]
    if not last:
        return
    rest = [item for item in items if item not in last]
    last_e2e = max((i for i, item in enumerate(rest) if _in_e2e(item.path)), default=-1)
    items[:] = rest[: last_e2e + 1] + last + rest[last_e2e + 1 :]


_SESSION_STACKS: list[Any] = []  # stopped when the e2e items end: later suites must not see their env


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    previous = _WATCH.active
    _WATCH.active = _in_e2e(item.path)
    try:
        yield
    finally:
        _WATCH.active = previous
        if _in_e2e(item.path) and (nextitem is None or not _in_e2e(nextitem.path)):
            while _SESSION_STACKS:
                _SESSION_STACKS.pop().stop()  # idempotent; restores AWS_ENDPOINT_URL & co.


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not _in_e2e(_ROOT[0] / report.nodeid.split("::")[0]):
        return
    was, _WATCH.active = _WATCH.active, True
    try:
        for name, content in report.sections:
            for line in content.splitlines():
                _WATCH.record(f"pytest:{report.when}:{name}", line)
    finally:
        _WATCH.active = was


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def leak_watch() -> LeakWatch:
    return _WATCH


@pytest.fixture(scope="session")
def e2e_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack_module.LocalStack]:
    log_path = tmp_path_factory.mktemp("e2e-stack") / "functions.log"
    with stack_module.LocalStack(
        gateway_port=0,
        invoke_port=0,
        schedules=False,
        echo_logs=False,
        log_path=log_path,
    ) as stack:
        assert stack.ghl is not None and stack.rankr is not None, stack.notes
        stack.log_file = log_path  # type: ignore[attr-defined]
        _SESSION_STACKS.append(stack)
        yield stack
