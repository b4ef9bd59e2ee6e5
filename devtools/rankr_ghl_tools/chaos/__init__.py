"""Helpers of bench/chaos.py: the workload beyond plain traffic (child-write failures, reverts, dropped note webhooks)
and the pure convergence comparisons it measures with."""
