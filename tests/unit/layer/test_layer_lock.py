"""The layer lock pins every runtime dependency with hashes, and boto3/botocore as the tests run them."""

from __future__ import annotations

import tomllib
from importlib.metadata import version

import pytest
from layer_lock import PYPROJECT, SDK_PAIR, canonical, lock_entries, locked, pyproject_pins


def test_lock_pins_the_sdk_pair_the_tests_run() -> None:
    pins, lock = pyproject_pins(), locked()
    for name in SDK_PAIR:
        assert name in pins, f"pyproject.toml must pin {name} exactly (==)"
        assert lock[name][0] == pins[name], f"{name}: lock {lock[name][0]} != pyproject {pins[name]}"
        assert version(name) == pins[name], f"the test venv runs {name} {version(name)}, not {pins[name]}"
    assert pins["boto3"] == pins["botocore"], "boto3 and botocore are released as one pair"


def test_every_runtime_dependency_is_locked_with_hashes() -> None:
    lock = locked()
    for spec in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]:
        name = canonical(spec.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip())
        assert name in lock, f"{name} is a runtime dependency but not in the lock: run `make lock`"
    for name, (_, hashes) in lock.items():
        assert hashes and all(h.startswith("sha256:") and len(h) == 71 for h in hashes), name


def test_lock_reader_rejects_ranges_and_reads_hashes() -> None:
    text = "boto3==1.2.3 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via x\nsix==1.0\n"
    assert lock_entries(text) == {"boto3": ("1.2.3", ["sha256:" + "a" * 64]), "six": ("1.0", [])}
    with pytest.raises(AssertionError, match="not an exact pin"):
        lock_entries("cryptography>=43\n")
