"""The layer `sam build` produced holds exactly the locked distributions (run by `make check-layer`)."""

from __future__ import annotations

import email.parser
from pathlib import Path

from cfnlint.decode import decode
from layer_lock import REPO_ROOT, SDK_PAIR, canonical, locked, pyproject_pins

BUILD_DIR = REPO_ROOT / ".aws-sam" / "build"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def built_layer_dirs() -> list[Path]:
    template, errors = decode(str(BUILD_DIR / "template.yaml"))
    assert template is not None and not errors, f"no built template under {BUILD_DIR}: run `make build`"
    return [
        BUILD_DIR / str(resource["Properties"]["ContentUri"]) / "python"
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    ]


def installed_distributions(site: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for metadata in site.glob("*.dist-info/METADATA"):
        headers = email.parser.Parser().parsestr(metadata.read_text(), headersonly=True)
        found[canonical(headers["Name"])] = headers["Version"]
    return found


def tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def test_built_layer_matches_the_lock() -> None:
    expected = {name: version for name, (version, _) in locked().items()}
    [site] = built_layer_dirs()
    assert installed_distributions(site) == expected


def test_built_layer_ships_the_tested_sdk_pair() -> None:
    pins = pyproject_pins()
    [site] = built_layer_dirs()
    built = installed_distributions(site)
    assert {name: built.get(name) for name in SDK_PAIR} == {name: pins[name] for name in SDK_PAIR}


def test_built_layer_fits_lambda_unzipped_limit() -> None:
    [site] = built_layer_dirs()
    assert tree_size(site.parent) < LAMBDA_UNZIPPED_LIMIT
