"""The container's garbage-collector policy: every handler imports this module first.

A cold start builds about 100,000 objects that live as long as the container (modules, classes,
botocore's service models, pydantic's validators, the X-Ray and Powertools globals) and makes little
cyclic garbage (garbage without cycles is freed at once by reference counting). With CPython's
default thresholds the cold start runs about 50 young and 5 middle-generation collections over these
objects while they are being built, and every later middle or full collection walks them again.

So the first collection waits until the young generation holds COLD_START_YOUNG_THRESHOLD objects,
more than any handler's cold start builds: the cold start runs none. That first collection (in a
later invocation, or in a first event that allocates more) walks everything once; what survives it
is frozen (`gc.freeze`: never walked again) and the default thresholds come back. Over the
container's life the collector does less work than by default, none of it during the cold start.
The cyclic garbage a cold start leaves waits for that first collection: a few megabytes at most.
"""

from __future__ import annotations

import gc
from typing import Any

COLD_START_YOUNG_THRESHOLD = 200_000

_state: dict[str, Any] = {"default_thresholds": None, "settled": False}


def _settle_after_first_collection(phase: str, info: dict[str, int]) -> None:
    """The first collection's end: freeze its survivors, restore the default thresholds. A no-op
    afterwards (the callback stays listed: removing it while the collector calls its callbacks
    would make it skip the next one)."""
    if phase != "stop" or _state["settled"]:
        return
    _state["settled"] = True
    gc.freeze()
    gc.set_threshold(*_state["default_thresholds"])


def apply() -> None:
    """Hold collections off until COLD_START_YOUNG_THRESHOLD young objects (once per process)."""
    if _state["default_thresholds"] is not None:
        return
    _state["default_thresholds"] = gc.get_threshold()
    gc.set_threshold(COLD_START_YOUNG_THRESHOLD)
    gc.callbacks.append(_settle_after_first_collection)


apply()
