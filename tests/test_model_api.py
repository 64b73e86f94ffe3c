"""The model as a library: state graphs, replay, time data, scenario map."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from oomnb import model
from oomnb.checker.run import check
from oomnb.collect.runner import SCENARIOS as COLLECTOR_SCENARIOS
from oomnb.kernel import VERSIONS, load_kernel, parse_scenario
from oomnb.kernel import timing
from oomnb.kernel.transitions import TRANSITIONS


def test_state_graph_matches_the_checker_and_networkx():
    g = model.state_graph("v6.18", "aio-blocked+suspend+second-oom")
    r = check(VERSIONS["v6.18"], parse_scenario("aio-blocked+suspend+second-oom"))
    assert (len(g), g.n_edges) == (r.states, r.transitions)
    G = g.to_networkx()
    assert G.number_of_nodes() == len(g) and G.number_of_edges() == g.n_edges
    attrs = next(iter(G.edges(data=True)))[2]
    assert {"transition", "actor", "observations", "lines", "delay"} <= set(attrs)
    assert model.state_graph("v6.18", "aio-blocked+suspend+second-oom") is g   # cached


def test_replay_of_a_counterexample_and_a_wrong_step():
    r = check(VERSIONS["v4.8"], parse_scenario("aio-blocked+suspend+second-oom"))
    steps = r.verdicts["disable_contract[tif]"].steps
    end, trail = model.replay("v4.8", "aio-blocked+suspend+second-oom", steps)
    assert end == steps[-1].post and len(trail) == len(steps)
    pairs = [(s.key, s.instance) for s in steps]
    end2, _ = model.replay("v4.8", "aio-blocked+suspend+second-oom", pairs)
    assert end2 == end
    with pytest.raises(model.ReplayError) as ei:
        model.replay("v4.8", "aio-blocked+suspend+second-oom", [("reap_unmap", None)])
    assert ei.value.n == 1 and ("alloc_may_oom", None) in ei.value.enabled


def test_time_is_data_on_the_kernel():
    k618, k49 = VERSIONS["v6.18"], VERSIONS["v4.9"]
    by = {t.key: t for t in TRANSITIONS}
    d = by["wake_oom_reaper_timer"].delay
    assert d.cls == "timer"
    assert d.value(k618, {}) == pytest.approx(2.0)               # 2*HZ jiffies at any HZ
    assert d.value(k618.derive("hz1000", hz=1000), {}) == pytest.approx(2.0)
    assert timing.jiffies(k49, k49.reaper_delay) == 0
    sleep = by["reap_sleep"].delay
    assert sp.simplify(sleep.expr(k618) - (timing.HZ / 10 / timing.HZ + timing.t_slack)) == 0
    assert sleep.value(k618, {}) == pytest.approx(0.1)
    assert by["aio_complete"].delay.cls == "io" and by["aio_complete"].delay.expr(k49) == timing.T_io
    unmap = by["reap_unmap"].delay
    assert unmap.value(k618, {"rss_anon": 2**30, "B_reap": 2**31}) == pytest.approx(0.5)
    rng = np.random.default_rng(0)
    laws = {"timer_slack": lambda r, n: np.zeros(n), "rss_anon": lambda r, n: np.full(n, 1e9),
            "reap_throughput": lambda r, n: np.full(n, 1e10)}
    assert np.allclose(d.sample(k618, rng, 3, laws), 2.0)
    assert np.allclose(unmap.sample(k618, rng, 3, laws), 0.1)
    assert k618.max_reap_retries == 10 and k618.freeze_timeout_msecs == 20000
    # a derived version with fewer retries changes the exploration
    few = k618.derive("v6.18-r2", max_reap_retries=2)
    a = model.state_graph(k618, "mmap-lock-forever+second-oom")
    b = model.state_graph(few, "mmap-lock-forever+second-oom")
    assert len(b) < len(a)


def test_every_collector_scenario_is_mapped():
    assert set(COLLECTOR_SCENARIOS) <= set(model.SCENARIOS)
    for name, m in model.SCENARIOS.items():
        assert m.note
        if m.model is not None:
            assert m.scenario() == parse_scenario(m.model)
    assert model.model_scenario("dstate-thread").threads == 2
    assert model.model_scenario("no-such-scenario") is None


def test_versions_have_releases_and_user_files_inherit_them(tmp_path):
    for v, k in VERSIONS.items():
        assert k.release and v.endswith(k.release)
    f = tmp_path / "p.py"
    f.write_text("from oomnb.kernel.versions import V4_9\nKERNEL = V4_9.derive('x', reaper_mmget_gate=False)\n")
    assert load_kernel(str(f)).release == "4.9"
