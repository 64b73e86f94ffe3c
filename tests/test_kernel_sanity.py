"""Random walks through the model (hypothesis) checking bookkeeping that
every correct version must keep, and that the safety predicates can
fire: each invariant is shown to detect a hand-made bad state."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from oomnb.kernel import VERSIONS, initial_state, parse_scenario, successors
from oomnb.kernel.properties import BY_NAME
from oomnb.kernel.state import HAS_MM, IN_MMPUT, KWORKER, MMPUT, R_UNMAP, TP_DONE, TP_NONE

SCENARIOS = ["aio-blocked+suspend+second-oom+threads=2", "mmap-lock+second-oom",
             "dstate-thread+second-oom+suspend", "victim-oom+threads=3+aio-blocked",
             "cgroup-frozen+threads=3+suspend"]


def _check(k, sc, s):
    n_users = sum(1 for t in s.th if t[0] in HAS_MM or t[0] == MMPUT)
    if k.reaper_mmget_gate and s.rpc == R_UNMAP:
        n_users += 1
    assert s.mm_users == n_users
    assert s.mm_count >= 0
    if k.oom_victims_per_group:
        assert s.oom_victims == s.sig_victims
    else:
        assert s.oom_victims == sum(t[1] for t in s.th)
    if k.signal_oom_victims:
        assert s.sig_victims == s.oom_victims
    if s.town >= 0 and s.town != KWORKER:
        assert s.th[s.town][0] == IN_MMPUT
    if s.town < 0:
        assert s.tpc in (TP_NONE, TP_DONE)
    assert s.rrefs == len(s.rlist) + len(s.rtimers) + (1 if s.rtask >= 0 else 0)
    assert 0 <= s.ratt <= 11
    if s.sig_freed:
        assert all(t[0] == 9 for t in s.th)


@settings(max_examples=60, deadline=None)
@given(version=st.sampled_from(sorted(VERSIONS)), scen=st.sampled_from(SCENARIOS),
       choices=st.lists(st.integers(0, 1000), min_size=10, max_size=120))
def test_random_walk_bookkeeping(version, scen, choices):
    k = VERSIONS[version]
    sc = parse_scenario(scen)
    s = initial_state(k, sc)
    _check(k, sc, s)
    for c in choices:
        succ = successors(k, sc, s)
        if not succ:
            break
        t, i, s, tags = succ[c % len(succ)]
        _check(k, sc, s)
        if "deref_mm" in tags:
            assert s.mm_count > 0 or t.key in ("free_signal_struct",)


def test_invariants_detect_bad_states():
    k = VERSIONS["v4.8"]
    sc = parse_scenario("threads=2")
    s = initial_state(k, sc)
    acc = BY_NAME["oom_victims_accounting"]
    q = BY_NAME["reaper_queue_integrity"]
    assert not acc.bad_state(k, sc, s) and not q.bad_state(k, sc, s)
    assert acc.bad_state(k, sc, s._replace(oom_victims=1))
    assert q.bad_state(k, sc, s._replace(rlist=(0, 1, 0), rrefs=3))
    assert q.bad_state(k, sc, s._replace(rlist=(0,), rrefs=2))       # a leaked reference


def test_bookkeeping_in_every_reachable_state():
    """The same bookkeeping, exhaustively, over four scenarios x the standard
    versions, 6.12 and the candidate fixes of 6.18."""
    from oomnb.checker.explore import explore
    from oomnb.kernel import load_kernel
    kernels = dict(VERSIONS) | {v: load_kernel(v) for v in
                                ("v6.12", "v6.18+group-oom-victims", "v6.18+tif-exempt")}
    for v, k in kernels.items():
        for scen in ("aio-blocked+suspend+second-oom", "victim-oom+threads=2",
                     "dstate-thread+second-oom+aio-blocked", "cgroup-frozen+suspend+threads=2"):
            sc = parse_scenario(scen)
            g = explore(k, sc)
            for s in g.states:
                _check(k, sc, s)
