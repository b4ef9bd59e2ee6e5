"""The honest rate floor shared by every benchmark that reports `efficiency`."""

from __future__ import annotations

import pytest
from rankr_ghl_tools.rate_floor import efficiency, floor_seconds, floor_windows


def test_first_window_is_free() -> None:
    assert floor_windows(600, 100) == pytest.approx(5.0)
    assert floor_seconds(600, 100, 1.0) == pytest.approx(5.0)
    assert floor_seconds(3000, 100, 10.0) == pytest.approx(290.0)


def test_a_partial_last_window_counts_as_its_fraction() -> None:
    assert floor_windows(150, 100) == pytest.approx(0.5)


def test_requests_within_one_window_need_no_waiting() -> None:
    assert floor_windows(100, 100) == 0.0
    assert floor_windows(40, 100) == 0.0
    assert floor_windows(0, 100) == 0.0


def test_efficiency_is_the_floor_over_the_measured_time() -> None:
    assert efficiency(600, 100, 1.0, 5.0) == 1.0
    assert efficiency(600, 100, 1.0, 6.25) == 0.8
    # A floor of N / L windows counts one window too many and would call this run 0.96 efficient.
    assert efficiency(600, 100, 1.0, 6.25) < 600 / 100 / 6.25


def test_efficiency_of_nothing_measured_is_zero() -> None:
    assert efficiency(600, 100, 1.0, 0.0) == 0.0


@pytest.mark.parametrize(("requests", "limit", "window"), [(10, 0, 1.0), (-1, 100, 1.0), (10, 100, 0.0)])
def test_nonsense_inputs_are_refused(requests: int, limit: int, window: float) -> None:
    with pytest.raises(ValueError):
        floor_seconds(requests, limit, window)
