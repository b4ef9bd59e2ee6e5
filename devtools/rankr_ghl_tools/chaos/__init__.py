"""The chaos bench's parts (bench/chaos.py runs them): its settings, the local runtime, leads and
changes, the adversarial workload, waiting for the queues, and the convergence checks."""
