"""The robust-futex walk and the OOM_REAPER_DELAY (e4a38402c36e, v5.18).

exit_robust_list reads the victim's robust list in its own memory at the
start of exit_mm; if a reaper unmapped that memory first the waiters are
never woken (robust_list_intact).  With the timer as one abstract step the
2 s delay does not guarantee the property; under the timing assumption
``walk-within-delay`` it does, unless a thread is stuck before its walk;
kernels without the delay violate it even when nothing blocks the victim.
The 2025 proposal (``v6.18+robust-futex-delay``) keeps the delay for a
process with a robust list and drops it for the others."""

from __future__ import annotations

import pytest
from checker_common import replay

from oomnb.bounds import derive
from oomnb.checker.run import check
from oomnb.cli import main
from oomnb.kernel import parse_scenario, timing
from oomnb.kernel.properties import ROBUST_LIST_INTACT, scenario_properties
from oomnb.kernel.state import DSTATE, EXITING, HAS_MM
from oomnb.kernel.versions import ALL, load_kernel

PROPOSAL = load_kernel("v6.18+robust-futex-delay")
ASSUMED = "robust-futex+walk-within-delay"


def verdict(k, key, prop="robust_list_intact"):
    sc = parse_scenario(key)
    return check(k, sc, (ROBUST_LIST_INTACT,)).verdicts[prop]


def test_the_scenario_brings_its_property():
    assert scenario_properties(parse_scenario("robust-futex")) == (ROBUST_LIST_INTACT,)
    assert scenario_properties(parse_scenario("fast-exit")) == ()


def test_the_walk_comes_before_exit_mm_gives_up_the_mm():
    """A thread drops its mm (tsk->mm = NULL) only after its own walk."""
    from oomnb.checker.explore import explore
    g = explore(ALL["v6.18"], parse_scenario("robust-futex/2t"))
    walked = 0
    for s in g.states:
        for i, (pc, _, _) in enumerate(s.th):
            if pc not in HAS_MM:
                assert not s.robust >> i & 1, s
            elif pc == EXITING and not s.robust >> i & 1:
                walked += 1
    assert walked          # a thread between its walk and exit_mm exists


def test_untimed_delay_does_not_guarantee_the_walk():
    """6.18 with the timer as an abstract step: it may fire before the walk."""
    k, sc = ALL["v6.18"], parse_scenario("robust-futex")
    v = check(k, sc, (ROBUST_LIST_INTACT,)).verdicts["robust_list_intact"]
    assert v.verdict == "violated"
    keys = [s.key for s in v.steps]
    assert "wake_oom_reaper_timer" in keys and keys[-1] == "reap_unmap"
    assert "exit_robust_list" not in keys
    replay(k, sc, v.steps)


@pytest.mark.parametrize("name", ["v6.1", "v6.18"])
@pytest.mark.parametrize("key", [ASSUMED, ASSUMED + "/2t", ASSUMED + "+suspend"])
def test_delay_guarantees_the_walk_under_the_timing_assumption(name, key):
    assert verdict(ALL[name], key).verdict == "holds"


@pytest.mark.parametrize("name", ["v4.8", "v4.9", "v4.19", "v5.15"])
def test_before_5_18_the_reaper_wins_even_when_nothing_blocks(name):
    """No OOM_REAPER_DELAY: wake_oom_reaper hands the victim over at once."""
    k, sc = ALL[name], parse_scenario(ASSUMED)
    v = check(k, sc, (ROBUST_LIST_INTACT,)).verdicts["robust_list_intact"]
    assert v.verdict == "violated"
    keys = [s.key for s in v.steps]
    assert "wake_oom_reaper_timer" not in keys and "exit_robust_list" not in keys
    replay(k, sc, v.steps)


def test_a_stuck_thread_is_not_covered_by_the_delay():
    """A D-state thread reaches its walk whenever its IO completes."""
    k, sc = ALL["v6.18"], parse_scenario("dstate-thread+" + ASSUMED)
    v = check(k, sc, (ROBUST_LIST_INTACT,)).verdicts["robust_list_intact"]
    assert v.verdict == "violated"
    pre = v.steps[-1].pre
    assert pre.robust >> 1 & 1 and pre.th[1][0] == DSTATE   # the D-state thread has not walked
    replay(k, sc, v.steps)


def test_frozen_sibling_6_12_versus_6_18():
    """A sibling kept in a frozen cgroup (6.12: TIF_MEMDIE-only exemption)
    never reaches its walk; 6.18 thaws the whole group."""
    key = "cgroup-frozen+" + ASSUMED + "/2t"
    assert verdict(load_kernel("v6.12"), key).verdict == "violated"
    assert verdict(ALL["v6.18"], key).verdict == "holds"


@pytest.mark.parametrize("key", [ASSUMED, ASSUMED + "/2t", "cgroup-frozen+" + ASSUMED + "/2t",
                                 "robust-futex"])
def test_proposal_keeps_the_walk_where_6_18_does(key):
    assert verdict(PROPOSAL, key).verdict == verdict(ALL["v6.18"], key).verdict


def test_process_mrelease_is_not_delayed_in_6_18_but_skipped_by_the_proposal():
    key = "process-mrelease+" + ASSUMED
    k = ALL["v6.18"]
    v = verdict(k, key)
    assert v.verdict == "violated" and v.steps[-1].key == "mrelease_reap"
    replay(k, parse_scenario(key), v.steps)
    assert verdict(PROPOSAL, key).verdict == "holds"


def test_a_proposal_that_never_delays_is_caught():
    """Planted bug: the proposal with OOM_REAPER_DELAY 0 for everyone."""
    mutant = PROPOSAL.derive("never-delays", reaper_delay="0")
    v = verdict(mutant, ASSUMED)
    assert v.verdict == "violated"
    replay(mutant, parse_scenario(ASSUMED), v.steps)
    assert verdict(PROPOSAL, ASSUMED).verdict == "holds"


def test_proposal_queues_at_once_without_a_robust_list():
    """No robust list: no timer is ever armed, the reaper is woken by the kill."""
    from oomnb.checker.explore import explore
    for key, timers in (("fast-exit", False), ("robust-futex", True)):
        g = explore(PROPOSAL, parse_scenario(key))
        assert any(s.rtimers for s in g.states) == timers, key
        assert any(s.rlist for s in g.states)


@pytest.mark.parametrize("key,delayed", [("aio-blocked+second-oom", False),
                                         ("aio-blocked+second-oom+robust-futex", True)])
def test_what_the_proposal_gains_in_time(key, delayed):
    """`oomnb bounds`: kill until the memory is unmapped.  6.18 always waits
    OOM_REAPER_DELAY; the proposal only for a process with a robust list."""
    d18 = derive.derive(ALL["v6.18"], parse_scenario(key), "unmapped")
    dp = derive.derive(PROPOSAL, parse_scenario(key), "unmapped")
    assert d18.verdict == dp.verdict == "holds"
    assert timing.OOM_REAPER_DELAY in d18.expr.free_symbols
    assert (timing.OOM_REAPER_DELAY in dp.expr.free_symbols) == delayed
    if not delayed:
        gap = d18.expr - dp.expr
        assert gap.free_symbols <= {timing.OOM_REAPER_DELAY, timing.HZ, timing.t_slack}


def test_cli_end_to_end(capsys):
    assert main(["check", "--kernel", "v6.18", "--scenario", "robust-futex", "--no-swimlane"]) == 0
    out = capsys.readouterr().out
    assert "robust_list_intact" in out and "Counterexample: v6.18 robust-futex/1t" in out
    assert main(["explain", "exit_robust_list"]) == 0
    out = capsys.readouterr().out
    assert "kernel/futex/core.c:exit_robust_list" in out and "silent step" in out
    assert main(["explain", "v6.18+robust-futex-delay"]) == 0
    assert "reaper_delay_robust_only" in capsys.readouterr().out


def test_the_timing_assumption_needs_the_token():
    from oomnb.errors import OomnbError
    with pytest.raises(OomnbError):
        parse_scenario("walk-within-delay")


def test_symmetry_reduction_keeps_the_robust_bits():
    """State.robust is indexed by thread: the reduced exploration permutes it."""
    from oomnb.checker.explore import explore
    k, sc = ALL["v6.18"], parse_scenario("dstate-thread+" + ASSUMED + "/3t")
    full = check(k, sc, (ROBUST_LIST_INTACT,))
    red = check(k, sc, (ROBUST_LIST_INTACT,), symmetry=True)
    assert explore(k, sc, (ROBUST_LIST_INTACT,), symmetry=True).reduced_states < full.states
    assert (red.states, red.transitions) == (full.states, full.transitions)
    assert red.verdicts["robust_list_intact"].verdict == full.verdicts["robust_list_intact"].verdict
    replay(k, sc, red.verdicts["robust_list_intact"].steps)


@pytest.mark.parametrize("kernel,key", [("v6.18", "robust-futex/2t"),
                                        ("v6.18+robust-futex-delay", "fast-exit"),
                                        ("v6.18+robust-futex-delay", "robust-futex+victim-oom"),
                                        ("v4.9", "second-oom+init-sharer"),
                                        ("v6.18", "second-oom+init-sharer/2t")])
def test_every_edge_observes_what_it_does(kernel, key):
    """The observation check of the standard scenarios, on these mechanisms
    (the undelayed queue is a reaper_wake with a push; the walk is silent)."""
    from test_model_observations import _agrees

    from oomnb import events as ev
    from oomnb import model
    g = model.state_graph(kernel, key)
    k = g.kernel
    seen = set()
    for e in g.edges():
        s, s2 = g.states[e.src], g.states[e.dst]
        if e.key == "exit_robust_list":
            assert not e.observations
        for o in e.observations:
            assert _agrees(k, e, s, s2, o) is None, (e.key, o)
            assert all(ev.EVENTS[n].emitted_by(k) for n in o.lines)
            seen.add((e.key, o.what))
    if kernel == "v6.18+robust-futex-delay" and key == "fast-exit":
        assert ("out_of_memory", ev.REAPER_WAKE) in seen


def test_the_timing_assumption_as_a_formula():
    """walk-within-delay in the delays of oomnb.kernel.timing: satisfiable
    with the 2*HZ timer (v5.18+), false without a delay."""
    import sympy as sp

    from oomnb.kernel.transitions import walk_within_delay_condition
    c = walk_within_delay_condition(ALL["v6.18"])
    assert c.free_symbols == {timing.t_cpu, timing.OOM_REAPER_DELAY, timing.HZ}
    vals = timing.kernel_values(ALL["v6.18"])
    assert c.subs(vals).subs(timing.t_cpu, 0.001) == sp.true
    assert c.subs(vals).subs(timing.t_cpu, 1.5) == sp.false
    for name in ("v4.9", "v4.19", "v5.15"):
        assert walk_within_delay_condition(ALL[name]) == sp.false
