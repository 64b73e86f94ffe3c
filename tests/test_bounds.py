"""Bounded termination: ranking functions on every reachable state, the
bound engine, derived time bounds, the retry-loop Markov chain, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from oomnb import model
from oomnb.bounds import derive as D
from oomnb.bounds import engine, markov, measured, rank
from oomnb.kernel import STANDARD, VERSIONS, timing
from oomnb.kernel.transitions import TRANSITIONS

ROOT = Path(__file__).resolve().parent.parent
LIVENESS = ("oom_progress", "reap_progress", "pm_progress", "reaper_done")


def _spec(prop):
    return D.BY_NAME["reaper_done"].prop if prop == "reaper_done" else \
        next(b.prop for b in D.BOUNDS if b.prop.name == prop)


# ------------------------------------------------------------ symbolic claims

def test_every_declared_move_is_decided_by_sympy():
    kinds = Counter()
    for p in rank.proofs():
        assert p["kind"] in ("decreases", "neutral", "increases"), p
        kinds[p["kind"]] += 1
    assert kinds["decreases"] > 30
    # the only increases are kills that queue the victim; a rank that meets
    # one must have a component above it that decreases first
    assert {p["transition"] for p in rank.proofs() if p["kind"] == "increases"} <= \
        {"out_of_memory", "victim_out_of_memory", "memcg_out_of_memory", "thread_mem_cgroup_oom"}


def test_moves_name_existing_transitions():
    keys = {t.key for t in TRANSITIONS}
    for c in rank.COMPONENTS.values():
        for mv in c.moves:
            assert mv.transition in keys, (c.name, mv.transition)


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("sc", STANDARD, ids=lambda s: s.key)
def test_rank_on_every_reachable_state_and_edge(version, sc):
    """The ranking function is evaluated on every reachable state, and every
    explored edge inside each liveness region matches a declared move that
    sympy proves decreasing (or changes nothing, without a fair cycle)."""
    g = model.state_graph(version, sc)
    k = g.kernel
    checked, held = 0, False
    for prop in LIVENESS:
        comps = rank.rank_for(k, prop)
        if not comps:
            continue
        for s in g.states:                       # every reachable state
            v = rank.rank_value(k, s, comps)
            assert all(isinstance(x, int) for x in v)
        d = D.derive(version, sc, prop if prop == "reaper_done" else
                     next(b.name for b in D.BOUNDS if b.prop.name == prop), strict=False)
        if d.verdict != "holds":
            continue
        assert not d.problems, d.problems
        checked += d.checked_edges
        held = True
    assert checked > 0 or not held


def test_planted_rank_error_is_caught(monkeypatch):
    """A ranking function that does not decrease on one transition (the
    HZ/10 sleep valued below the attempt after it) fails the check."""
    g = model.state_graph("v6.18", "mmap-lock-forever+second-oom").raw
    comps = rank.rank_for(g.kernel, "oom_progress")
    _, ok, _, _, _ = D.check_rank(g, _spec("oom_progress"), comps)
    assert ok == []
    monkeypatch.setitem(rank.REAPER.table, "sleep", 2 * (rank.R - rank.n) + 1)
    _, problems, _, _, _ = D.check_rank(g, _spec("oom_progress"), comps)
    assert problems and any(p.startswith("reap_sleep") for p in problems), problems
    with pytest.raises(D.RankError):
        D.derive("v6.18", "mmap-lock-forever+second-oom", "select_again")


def test_undeclared_move_is_caught(monkeypatch):
    """A step no move declares (as a transition added later would be) is reported."""
    moves = [m for m in rank.REAPER.moves if m.transition != "reap_unmap"]
    monkeypatch.setattr(rank.REAPER, "moves", moves)
    g = model.state_graph("v6.18", "fast-exit").raw
    _, problems, _, _, _ = D.check_rank(g, _spec("oom_progress"), ("reaper",))
    assert any("reap_unmap" in p and "no declared move" in p for p in problems), problems


def test_partial_reaps_are_ranked(monkeypatch):
    """A partial reap (an MMU notifier refused: unmap -> sleep) is a declared
    decreasing move: every attempt may unmap again, so the time to unmap grows
    by one unmap per retry; without the move the ranking check reports it."""
    b = D.derive("v6.18", "aio-blocked+second-oom+mmu-notifier", "select_again")
    terms = {str(t) for t in sp.Add.make_args(sp.expand(b.expr))}
    assert "MAX_OOM_REAP_RETRIES*rss_anon/B_reap" in terms, terms
    g = model.state_graph("v6.18", "aio-blocked+second-oom+mmu-notifier").raw
    _, ok, _, _, _ = D.check_rank(g, _spec("oom_progress"), ("reaper",))
    moves = [m for m in rank.REAPER.moves
             if not (m.transition == "reap_unmap" and m.added and m.added[0][0] == "sleep")]
    monkeypatch.setattr(rank.REAPER, "moves", moves)
    _, problems, _, _, _ = D.check_rank(g, _spec("oom_progress"), ("reaper",))
    assert not ok and any("reap_unmap" in p and "sleep" in p for p in problems), problems


# ------------------------------------------------------------ engine

def _toy(edges, n):
    class G:
        pass
    g = G()
    g.out = [[] for _ in range(n)]
    g.labels = []
    for u, v, w in edges:
        g.labels.append(w)
        g.out[u].append((v, len(g.labels) - 1))
    return g


def test_engine_longest_path_and_cycles():
    # 0 -a-> 1 -b-> 3(out); 0 -c-> 2 -c-> 3(out): frontier {a,b} and {c:2}
    g = _toy([(0, 1, "a"), (1, 3, "b"), (0, 2, "c"), (2, 3, "c")], 4)
    allowed = [True] * len(g.labels)
    best = engine.longest(g, {0, 1, 2}, allowed, lambda u, l, v: Counter({g.labels[l]: 1}))
    front = engine.worst(best, [0])
    assert sorted(map(dict, front), key=str) == [{"a": 1, "b": 1}, {"c": 2}]
    # a counted cycle is unbounded; an uncounted one is not
    g2 = _toy([(0, 1, "a"), (1, 0, "z"), (1, 2, "b")], 3)
    w = lambda u, l, v: Counter({g2.labels[l]: 1})   # noqa: E731
    assert isinstance(engine.longest(g2, {0, 1}, [True] * 3, w), engine.Unbounded)
    w0 = lambda u, l, v: Counter() if g2.labels[l] in "az" else Counter({"b": 1})  # noqa: E731
    b2 = engine.longest(g2, {0, 1}, [True] * 3, w0)
    assert engine.worst(b2, [0]) == [Counter({"b": 1})]


# ------------------------------------------------------------ derived bounds

def test_select_again_per_version():
    """v4.5 unbounded with the cycle's reason, v4.8 / v4.9 finite, v6.18 at
    least OOM_REAPER_DELAY + R*HZ/10 jiffies plus R attempts."""
    sc = "mmap-lock-forever+second-oom"
    assert D.derive("v4.5", "aio-blocked+suspend+second-oom", "select_again").infinite
    assert "T_io" in D.derive("v4.5", "aio-blocked+suspend+second-oom", "select_again").reason
    for v in ("v4.8", "v4.9"):
        assert not D.derive(v, sc, "select_again").infinite
    d = D.derive("v6.18", sc, "select_again")
    H, R_, Dl = timing.HZ, timing.MAX_OOM_REAP_RETRIES, timing.OOM_REAPER_DELAY
    rest = sp.expand(d.jiffies() - (Dl + R_ * H / 10 + R_ * H * timing.t_attempt))
    # what is left is non-negative slack and CPU time
    assert rest.free_symbols <= {H, R_, timing.t_slack, timing.t_cpu}
    assert all(c > 0 for c in sp.Poly(rest, *sorted(rest.free_symbols, key=str)).coeffs())
    k = VERSIONS["v6.18"]
    v0 = D.evaluate(k, d.expr, {**{str(s): v for s, v in timing.kernel_values(k).items()},
                                "t_slack": 0, "t_cpu": 0, "t_attempt": 0})
    assert v0 == pytest.approx(3.0)          # 2 s + 1 s at HZ=250


def test_bound_counts_match_checker_step_counts():
    """The checker's step-count bound and the time bound come from one engine:
    the attempts in the time bound equal the checker's attempt count."""
    from oomnb.checker.run import check
    from oomnb.kernel import parse_scenario
    sc = parse_scenario("mmap-lock-forever+second-oom")
    k = VERSIONS["v6.18"]
    v = check(k, sc, graph=model.state_graph(k, sc).raw).verdicts["oom_progress"]
    d = D.derive(k, sc, "select_again")
    att = max(f.get(timing.REAP_ATTEMPT.name, 0) for f in d.frontier)
    assert v.bound["attempt"] == att == k.max_reap_retries


def test_patch_file_gets_bounds():
    k = VERSIONS["v6.18"].derive("v6.18-no-delay", reaper_delay="0")
    d = D.derive(k, "mmap-lock-forever+second-oom", "select_again")
    assert timing.OOM_REAPER_DELAY not in d.expr.free_symbols


# ------------------------------------------------------------ retry loop

def test_markov_closed_forms_match_fundamental_matrix():
    loop = markov.retry_loop(VERSIONS["v6.18"])
    sol = markov.solve_chain(10)
    assert sp.simplify(sol["p_unable"] - loop.p_unable.subs(markov.R, 10)) == 0
    EN = loop.expected_attempts.args[1][0] if isinstance(loop.expected_attempts, sp.Piecewise) \
        else loop.expected_attempts
    assert sp.simplify(sol["expected_attempts"] - EN.subs(markov.R, 10)) == 0
    # the by-parts expected latency equals the sum over the distribution
    f1 = sp.lambdify(list(sorted(loop.expected_latency.free_symbols, key=str)),
                     loop.expected_latency)
    tot = loop.expected_latency_sum.args[1][0]
    rng = np.random.default_rng(7)
    for _ in range(5):
        vals = {s: float(rng.uniform(0.1, 0.9)) for s in loop.expected_latency.free_symbols}
        vals[markov.R] = 7
        assert float(tot.subs(vals)) == pytest.approx(
            f1(*[vals[s] for s in sorted(loop.expected_latency.free_symbols, key=str)]))


@pytest.mark.parametrize("prob", [0.3, 0.7, 0.95])
def test_markov_against_monte_carlo(prob):
    k = VERSIONS["v6.18"]
    prm = {str(s): float(v) for s, v in timing.kernel_values(k).items()}
    prm.update(t_slack=0.02, t_attempt=1e-4, rss_anon=2**30, B_reap=5e9)
    loop = markov.retry_loop(k)
    num = markov.numbers(loop, prm, [prob])
    n = 200_000
    mc = markov.monte_carlo(prm, prob, n, seed=20161007)
    pu = num["p_unable"][0]
    assert pu == pytest.approx(prob ** 10)
    assert abs(mc["p_unable"] - pu) < 5 * math.sqrt(pu * (1 - pu) / n) + 1e-12
    assert abs(mc["expected_attempts"] - num["expected_attempts"][0]) < \
        5 * mc["attempts"].std() / math.sqrt(n)
    assert abs(mc["expected_latency"] - num["expected_latency"][0]) < \
        5 * mc["latency"].std() / math.sqrt(n)
    # the 99th percentile of kill -> the attempt that ends the loop
    assert np.quantile(mc["start"], 0.99, method="inverted_cdf") == \
        pytest.approx(num["quantile_latency"][0])


# ------------------------------------------------------------ measurements

def test_every_measured_latency_under_the_v618_bound():
    df = measured.measured()
    s = measured.summary(df)
    assert s["latencies"]["kill_to_reap_start"] >= 20 and s["latencies"]["kill_to_unable"] >= 1
    assert s["all_under"], df[~df["all_ok"]]


# ------------------------------------------------------------ CLI

def _oomnb(*args):
    return subprocess.run([sys.executable, "-m", "oomnb", *args], capture_output=True, text=True,
                          cwd=ROOT)


def test_cli_json_headline_and_patch_file():
    r = _oomnb("bounds", "--json", "--bound", "select_again", "--scenario",
               "mmap-lock-forever+second-oom", "--scenario", "aio-blocked")
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)["versions"]
    assert v["v4.5"]["select_again"]["infinite"]
    assert not v["v4.8"]["select_again"]["infinite"] and not v["v4.9"]["select_again"]["infinite"]
    assert v["v6.18"]["select_again"]["value_s"] >= 3.0
    assert "MAX_OOM_REAP_RETRIES" in v["v6.18"]["select_again"]["formula"]
    r = _oomnb("bounds", "--kernel", str(ROOT / "tests/mutants/m7_no_reap_queued.py"),
               "--bound", "select_again", "--scenario", "fast-exit")
    assert r.returncode == 0, r.stderr
    assert "select again" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (("--param", "HZ"), "NAME=VALUE"),
    (("--param", "HZ=fast"), "not a number"),
    (("--kernel", "nope.py"), "nope.py"),
    (("--machine", "nosuch"), "nosuch"),
])
def test_cli_errors_one_line(args, needle):
    r = _oomnb("bounds", *args, "--bound", "select_again", "--scenario", "fast-exit")
    assert r.returncode != 0
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr
