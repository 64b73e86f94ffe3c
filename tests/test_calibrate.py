"""Calibration from the shipped data: fits that recover planted values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oomnb.calibrate import calibrate, calibrate_data, theil_sen


def test_theil_sen_ignores_one_outlier():
    x = np.arange(10.0)
    y = 2 * x + 1
    y[9] = 100
    assert theil_sen(x, y) == pytest.approx((2.0, 1.0))


def test_calibrate_recovers_planted_parameters():
    rng = np.random.default_rng(1)
    rss_kb = rng.integers(2**17, 2**23, size=30)
    B = 5e9
    dur = 0.003 + rss_kb * 1024 / B
    ep = pd.DataFrame({"machine": "m", "scenario": "aio-blocked", "outcome": "reaped",
                       "anon_rss_kb": rss_kb, "reap_duration": dur,
                       "kill_to_wake": 2.0 + 0.02, "kill_to_reap_start": 2.02 + 1e-4,
                       "kill_to_exit_start": np.nan, "kill_to_free": np.nan, "reap_attempts": 1})
    c = calibrate(ep)
    assert c.get("B_reap", "m").value == pytest.approx(B, rel=1e-6)
    assert c.get("reap_t0", "m").value == pytest.approx(0.003, abs=1e-9)
    assert c.get("t_slack", "m").value == pytest.approx(0.02)
    assert c.get("t_attempt", "m").value == pytest.approx(1e-4)
    assert c.get("p_trylock", "m:aio-blocked").value == 0


def test_shipped_data_calibration_is_deterministic_and_plausible():
    a, b = calibrate_data(), calibrate_data()
    pd.testing.assert_frame_equal(a.df(), b.df())
    v = a.values()
    assert 0 < v["t_slack"] < 0.1            # the 2 s timer fires within 100 ms
    assert 1e9 < v["B_reap"] < 1e11          # GB/s, not MB/s or TB/s
    assert a.get("p_trylock", "all:reaper-trylock-failure").value == 1.0
    assert a.get("p_trylock", "all:fast-exit").value == 0.0


def test_emulated_sets_are_not_calibrated_from():
    from oomnb.calibrate import measured_sets
    sets = measured_sets()
    assert sets and not any("qemu" in s for s in sets)
