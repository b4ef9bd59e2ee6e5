"""bench/chaos.py --variants: the run goes under pick_variants(seed), with search lag kept on."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from rankr_ghl_tools.ghl_sandbox import pick_variants

BENCH = Path(__file__).resolve().parents[3] / "bench" / "chaos.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rankr_ghl_chaos_bench_variants", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


chaos = _bench()


def _seed_where(condition: object) -> int:
    return next(seed for seed in range(200) if condition(pick_variants(seed)))  # type: ignore[operator]


def test_the_pick_becomes_the_runs_switches_and_its_search_order() -> None:
    seed = _seed_where(lambda pick: pick["search_order"] != "ignored")
    config = chaos.ChaosConfig(verbose=False)
    pick = chaos.variant_pick(config, seed)
    assert config.variants == pick
    assert config.search_order == pick["search_order"] == pick_variants(seed)["search_order"]
    assert {k: v for k, v in pick.items() if not k.startswith("search_lag")} == {
        k: v for k, v in pick_variants(seed).items() if not k.startswith("search_lag")
    }


def test_a_pick_without_search_lag_keeps_the_benchs_lag() -> None:
    seed = _seed_where(lambda pick: not pick["search_lag_s"])
    config = chaos.ChaosConfig(verbose=False)
    pick = chaos.variant_pick(config, seed)
    assert pick["search_lag_s"] == config.search_lag_s == chaos.ChaosConfig().search_lag_s > 0


def test_a_pick_with_search_lag_runs_with_that_lag() -> None:
    seed = _seed_where(lambda pick: pick["search_lag_s"] and pick["search_lag_s"] != 2.0)
    config = chaos.ChaosConfig(verbose=False)
    chaos.variant_pick(config, seed)
    assert config.search_lag_s == pick_variants(seed)["search_lag_s"]
