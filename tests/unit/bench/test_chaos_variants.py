"""bench/chaos.py --variants: the run goes under pick_variants(seed), with search lag kept on."""

from __future__ import annotations

from rankr_ghl_tools.chaos.config import ChaosConfig, variant_pick
from rankr_ghl_tools.ghl_sandbox import pick_variants


def _seed_where(condition: object) -> int:
    return next(seed for seed in range(200) if condition(pick_variants(seed)))  # type: ignore[operator]


def test_the_pick_becomes_the_runs_switches_and_its_search_order() -> None:
    seed = _seed_where(lambda pick: pick["search_order"] != "ignored")
    config = ChaosConfig(verbose=False)
    pick = variant_pick(config, seed)
    assert config.variants == pick
    assert config.search_order == pick["search_order"] == pick_variants(seed)["search_order"]
    assert {k: v for k, v in pick.items() if not k.startswith("search_lag")} == {
        k: v for k, v in pick_variants(seed).items() if not k.startswith("search_lag")
    }


def test_a_pick_without_search_lag_keeps_the_benchs_lag() -> None:
    seed = _seed_where(lambda pick: not pick["search_lag_s"])
    config = ChaosConfig(verbose=False)
    pick = variant_pick(config, seed)
    assert pick["search_lag_s"] == config.search_lag_s == ChaosConfig().search_lag_s > 0


def test_a_pick_with_search_lag_runs_with_that_lag() -> None:
    seed = _seed_where(lambda pick: pick["search_lag_s"] and pick["search_lag_s"] != 2.0)
    config = ChaosConfig(verbose=False)
    variant_pick(config, seed)
    assert config.search_lag_s == pick_variants(seed)["search_lag_s"]
