"""The simulator: semantics of the timed race, laws, schema, exports, sweeps."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from oomnb import events as ev
from oomnb import model, sim
from oomnb.errors import OomnbError
from oomnb.sim import engine, laws as lawmod, output
from oomnb.trace.episodes import EPISODE_COLUMNS
from oomnb.trace.perfetto import check_nesting

CONST = {"timer_slack": "const:0", "cpu": "const:0.001", "reap_attempt": "const:0.001",
         "signal_latency": "const:1.0", "aio_io": "never", "reap_throughput": "const:1G",
         "exit_throughput": "const:1G", "rss_anon": "const:1G"}


def _sim(k, sc, n, seed=0, laws=None, **kw):
    return sim.simulate(k, sc, n, seed, laws=laws, calibrated=False, **kw)


def test_law_specs_parse_and_reject():
    rng = np.random.default_rng(0)
    assert lawmod.parse("const:1G")(rng, 2).tolist() == [2.0 ** 30] * 2
    assert np.isinf(lawmod.parse("never")(rng, 1)[0])
    b = lawmod.parse("bernoulli:0.25,never")(rng, 4000)
    assert 0.2 < np.isinf(b).mean() < 0.3
    for bad in ("bogus:1", "uniform:2,1", "const:", "bernoulli:2,const:1", "data"):
        with pytest.raises(OomnbError):
            lawmod.parse(bad)
    with pytest.raises(OomnbError):
        lawmod.resolve({"no_such_law": "const:1"})
    pickle.loads(pickle.dumps(lawmod.resolve(calibration=sim.calibration())))


def test_wheel_granularity_follows_calc_wheel_index():
    # level n holds deltas below 63 << 3n, granularity 8**n jiffies
    assert [lawmod.wheel_granularity(j) for j in (1, 25, 62, 63, 500, 503, 504, 5000)] == \
        [1, 1, 1, 8, 8, 8, 64, 512]


def test_reaper_timer_keeps_running_while_the_victim_exits():
    """The victim's exit steps fire between the kill and the timer; the
    2 s clock set at the kill must not be redrawn by them."""
    eps = _sim("v6.18", "aio-blocked", 50, laws=CONST)
    d = eps.mark(ev.REAPER_WAKE) - eps.mark(ev.KILL)
    assert np.allclose(d, 2.0)
    assert (eps.mark(ev.EXIT_START) - eps.mark(ev.KILL) == pytest.approx(1.0))


def test_same_seed_same_episodes_and_ties_are_deterministic():
    a = _sim("v6.18", "aio-blocked+second-oom", 300, seed=7, laws={"aio_io": "const:3"})
    b = _sim("v6.18", "aio-blocked+second-oom", 300, seed=7, laws={"aio_io": "const:3"})
    c = _sim("v6.18", "aio-blocked+second-oom", 300, seed=8, laws={"aio_io": "const:3"})
    assert np.array_equal(a.first, b.first) and np.array_equal(a.final, b.final)
    assert not np.array_equal(a.first, c.first)
    # all-constant laws: every episode has the same times (ties broken the same way)
    t = _sim("v4.9", "aio-blocked+second-oom", 20, laws={**CONST, "aio_io": "const:3"}, seed=3)
    assert (t.first == t.first[0]).all()


def test_done_when_v618_median_and_v49_never_unmaps_before_io():
    from oomnb import trace
    ep = trace.df_episodes([str(trace.data_dir())])
    measured = ep[ep.scenario == "aio-blocked"].kill_to_reap_start.dropna().astype(float).median()
    s = sim.summary(sim.simulate("v6.18", "aio-blocked", 1000, 0))
    assert abs(s["latency_s"]["kill_to_reap_start"]["median"] - measured) < 0.1 * measured
    e49 = sim.simulate("v4.9", "aio-blocked", 1000, 0)
    assert np.isfinite(e49.mark("unmapped")).all()
    assert (e49.mark("unmapped") >= e49.mark("io_done")).all()
    # the model permits the other order: a victim slower to reach exit_aio
    # than the reaper's first attempt (after the killer's jiffy under
    # oom_lock) is reaped by v4.9 before the IO completes
    slow = sim.simulate("v4.9", "aio-blocked", 200, 0, laws={"signal_latency": "const:0.02"})
    assert (slow.mark("unmapped") < slow.mark("io_done")).all()
    # and v6.18 does unmap before the IO completes (the reaper's job)
    e618 = sim.simulate("v6.18", "aio-blocked", 1000, 0, laws={"aio_io": "const:5"})
    assert (e618.mark("unmapped") < e618.mark("io_done")).all()


@pytest.mark.parametrize("version", ["v4.5", "v4.8", "v4.9", "v6.18"])
def test_simulated_episodes_conform_to_their_own_version(version):
    """Every simulated episode's steps replay through the model of its
    version, and the events table holds exactly the lines the replay's
    observations emit, in order."""
    sc = "aio-blocked+second-oom"
    eps = sim.simulate(version, sc, 12, 1, laws={"aio_io": "const:3"}, record=True, horizon=6)
    evt = sim.events_table(eps)
    for i in range(eps.n):
        steps = sim.recorded_steps(eps, i)
        _, trail = model.replay(version, sc, steps)
        want = [n for _, obs in trail for o in obs for n in o.lines]
        got = evt[evt.run == f"{eps.compiled.scenario.name}-{i}"].kind.tolist()
        assert got == want
        assert all(ev.observation_of(k) is not None for k in got)


def test_simulated_episodes_in_the_readers_schema():
    eps = sim.simulate("v6.18", "aio-blocked", 30, 2, record=True)
    ep = sim.episodes_table(eps)
    assert list(ep.columns) == EPISODE_COLUMNS
    assert len(ep) == 30 and set(ep.outcome) == {"reaped"}
    lat = ep.kill_to_reap_start.astype(float)
    assert lat.between(2.0, 2.1).all()
    assert (ep.anon_rss_kb.astype(float) == 2 ** 20).all()


def test_perfetto_one_track_per_actor_slices_nest(tmp_path):
    eps = sim.simulate("v6.18", "aio-blocked+second-oom", 4, 1, record=True, laws={"aio_io": "const:3"})
    out = tmp_path / "sim.json"
    n = sim.write_perfetto([sim.timeline(eps, i) for i in range(4)], out)
    evs = json.loads(out.read_text())["traceEvents"]
    assert n == sum(e["ph"] == "X" for e in evs) > 0
    names = {}
    for e in evs:
        if e["ph"] == "M" and e["name"] == "thread_name":
            names.setdefault(e["pid"], []).append(e["args"]["name"])
    assert all(len(v) == len(set(v)) for v in names.values())
    assert any("oom_reaper" in v for v in names.values())
    by = {}
    for e in evs:
        if e["ph"] == "X":
            by.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["dur"]))
    assert all(check_nesting(v) for v in by.values())
    assert not check_nesting([(0, 10), (5, 10)])     # the check can fail


def test_ascii_timelines_fit_72_columns():
    tls = [sim.timeline(sim.simulate(v, "aio-blocked+second-oom", 1, 0, record=True,
                                     laws={"aio_io": "const:3"}, horizon=6), 0)
           for v in ("v4.5", "v6.18")]
    txt = sim.ascii_timelines(tls)
    assert max(len(x) for x in txt.splitlines()) <= 72
    assert "v6.18" in txt and "K" in txt


def test_sweep_same_rows_inline_and_in_processes():
    pts = sim.grid(["v4.9", "v6.18"], ["aio-blocked"], rss=["256M", "1G"])
    a = sim.sweep(pts, runs=200, seed=5, calibration=sim.calibration(), processes=1)
    b = sim.sweep(pts, runs=200, seed=5, calibration=sim.calibration(), processes=2)
    pd.testing.assert_frame_equal(a, b)
    assert a.kill_to_unmapped_median.iloc[1] > a.kill_to_unmapped_median.iloc[0]


def test_sweep_on_a_dask_local_cluster_matches():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    pts = sim.grid(["v6.18"], ["mmap-lock"], p_trylock=[0.0, 1.0])
    a = sim.sweep(pts, runs=200, seed=9, calibration=sim.calibration(), processes=1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cl, distributed.Client(cl) as client:
        b = sim.sweep(pts, runs=200, seed=9, calibration=sim.calibration(), dask=client)
    pd.testing.assert_frame_equal(a, b)
    assert a.unable_to_reap_rate.tolist() == [0.0, 1.0]


def test_cli_simulate_json_and_errors(capsys):
    from oomnb.cli import main
    assert main(["simulate", "--kernel", "v6.18", "--scenario", "aio-blocked", "--runs", "200",
                 "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["runs"] == 200 and "kill_to_reap_start" in s["measured_v6_18"]
    assert main(["simulate", "--law", "nope=const:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown law" in err


def test_calibrated_laws_recover_a_planted_machine():
    from oomnb.calibrate import calibrate
    rng = np.random.default_rng(4)
    n = 24
    rss_kb = rng.integers(2 ** 17, 2 ** 23, size=n).astype(float)
    slack = rng.uniform(0, 0.032, n) + 0.005            # wheel phase + 5 ms lag
    ep = pd.DataFrame({"machine": "m", "scenario": "aio-blocked", "outcome": "reaped",
                       "anon_rss_kb": rss_kb, "reap_duration": 0.01 + rss_kb * 1024 / 5e9,
                       "kill_to_wake": 2.0 + slack, "kill_to_reap_start": 2.0 + slack + 1e-4,
                       "kill_to_exit_start": 0.004, "kill_to_free": 3.0, "reap_attempts": 1})
    cal = calibrate(ep)
    assert cal.get("t_softirq", "m").value == pytest.approx(0.005, abs=0.004)
    lw = lawmod.resolve(calibration=cal, machine="m")
    assert lw["reap_throughput"].kind == "fit" and lw["timer_slack"].kind == "wheel"
    d = lw["reap_throughput"].durations(np.random.default_rng(0), np.full(100, 2.0 ** 30))
    assert d == pytest.approx(0.01 + 2 ** 30 / 5e9, rel=1e-6)
    assert np.median(lw["signal_latency"](np.random.default_rng(0), 100)) == pytest.approx(0.004)
    assert lw["aio_io"].median() == pytest.approx(3.0)     # kill->free, no exit tail fitted
