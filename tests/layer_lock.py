"""The layer's hashed lock (layers/rankr_ghl/requirements.txt, written by `make lock`), read as pins."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYER_LOCK = REPO_ROOT / "layers" / "rankr_ghl" / "requirements.txt"
PYPROJECT = REPO_ROOT / "pyproject.toml"
SDK_PAIR = ("boto3", "botocore")

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_entries(text: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) for every requirement of a pip-style hashed lock."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("--hash") else raw.strip()
        if not line:
            continue
        if line.startswith("--hash="):
            assert current is not None, f"hash without a requirement: {raw!r}"
            entries[current][1].append(line.removeprefix("--hash=").rstrip(" \\"))
            continue
        match = _PIN.match(line)
        assert match, f"not an exact pin: {raw!r}"
        current = canonical(match.group(1))
        entries[current] = (match.group(3), [])
    return entries


def locked() -> dict[str, tuple[str, list[str]]]:
    return lock_entries(LAYER_LOCK.read_text())


def pyproject_pins() -> dict[str, str]:
    """Exact (==) pins among pyproject's runtime and dev dependencies."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    specs = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins: dict[str, str] = {}
    for spec in specs:
        match = _PIN.match(spec.replace(" ", ""))
        if match:
            pins[canonical(match.group(1))] = match.group(3)
    return pins
