"""Helpers of bench/chaos.py: the version-2 workload (child-write failures, reverts, dropped note webhooks)
and the pure convergence comparisons it measures with."""
