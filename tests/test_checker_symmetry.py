"""The explorer's speed-ups change nothing: the guard pre-checks and the
symmetry reduction over interchangeable threads give the same graph and
the same verdicts as the plain exploration (state counts of the quotient
are reported separately)."""

from __future__ import annotations

import pytest

from oomnb.checker import symmetry as sym
from oomnb.checker.explore import explore
from oomnb.checker.run import check
from oomnb.kernel import STANDARD, VERSIONS, parse_scenario
from oomnb.kernel.properties import PROPERTIES
from oomnb.kernel.state import HAS_MM

#: the standard scenarios with a third thread (the cheap ones for every version)
THREE = ("fast-exit/3t", "mmap-lock-forever+second-oom/3t", "dstate-thread+second-oom/3t",
         "aio-blocked+suspend+second-oom/3t")
SLOW = {("v4.8", "aio-blocked+suspend+second-oom/3t"),       # 234k states: `oomnb bench check`
        ("v6.18", "aio-blocked+suspend+second-oom/3t")}


def edge_set(g):
    return {(g.states[u], g.labels[lid][0].key, g.labels[lid][1], g.labels[lid][2],
             frozenset(g.labels[lid][3]), g.states[v]) for u, o in enumerate(g.out) for v, lid in o}


def verdicts(r):
    return {p: v.verdict for p, v in r.verdicts.items()}


@pytest.mark.parametrize("sc", STANDARD, ids=lambda s: s.key)
def test_guard_prechecks_change_nothing(sc):
    for k in VERSIONS.values():
        a = explore(k, sc, PROPERTIES, guards=False)
        b = explore(k, sc, PROPERTIES)
        assert a.states == b.states and edge_set(a) == edge_set(b), k.name
        assert a.safety == b.safety and a.antecedent == b.antecedent


@pytest.mark.parametrize("key", THREE)
@pytest.mark.parametrize("version", list(VERSIONS))
def test_symmetry_reduction_same_graph_and_verdicts(version, key):
    if (version, key) in SLOW:
        pytest.skip("large; covered by `oomnb bench check`")
    k, sc = VERSIONS[version], parse_scenario(key)
    full = explore(k, sc, PROPERTIES)
    red = explore(k, sc, PROPERTIES, symmetry=True)
    assert red.reduced_states is not None and red.reduced_states <= full.n_states
    # the unfolded quotient is the full graph: same states, same labelled edges
    assert set(red.states) == set(full.states) and red.n_states == full.n_states
    assert edge_set(red) == edge_set(full)
    assert red.max_depth == full.max_depth

    # safety verdicts straight from the quotient (no unfolding)
    q = explore(k, sc, PROPERTIES, symmetry=True, unfold=False)
    assert q.n_states == red.reduced_states
    assert {n: h is None for n, h in q.safety.items()} == {n: h is None
                                                          for n, h in full.safety.items()}
    assert q.antecedent == full.antecedent
    if full.n_states > 15000:       # same graph, so same verdicts; liveness on it is slow here
        return
    a = check(k, sc, PROPERTIES, graph=full)
    b = check(k, sc, PROPERTIES, graph=red)
    assert verdicts(a) == verdicts(b)
    # counterexamples from the reduced run have the same length (BFS-shortest)
    for p in a.verdicts:
        if a.verdicts[p].verdict == "violated" and p in full.safety:
            assert len(a.verdicts[p].steps) == len(b.verdicts[p].steps), p



@pytest.mark.parametrize("version", list(VERSIONS))
def test_losing_the_mm_is_final(version):
    """The reduction forgets the order of threads without ->mm: sound only
    if no step gives a thread its mm back."""
    k, sc = VERSIONS[version], parse_scenario("aio-blocked+suspend+second-oom+victim-oom/2t")
    if version == "v4.8":
        sc = parse_scenario("aio-blocked+second-oom+victim-oom/2t")
    g = explore(k, sc)
    for u, o in enumerate(g.out):
        a = g.states[u]
        for v, _ in o:
            b = g.states[v]
            for j in range(len(a.th)):
                assert a.th[j][0] in HAS_MM or b.th[j][0] not in HAS_MM, (version, j)


def test_canonical_form_is_a_class_function():
    """Every member of an orbit has the same canonical form, and the
    permutation returned maps the state onto it."""
    k, sc = VERSIONS["v6.18"], parse_scenario("aio-blocked+suspend+second-oom/3t")
    g = explore(k, sc)
    seen = {}
    for s in g.states:
        c, m = sym.canon(s)
        assert sym.apply(m, s) == c
        assert sym.canon(c)[0] == c
        seen.setdefault(c, set()).add(s)
    assert len(seen) < g.n_states
    for c, orbit in seen.items():
        for s in orbit:
            if s.th[1][0] not in HAS_MM and s.th[2][0] not in HAS_MM:
                sw = sym.apply((0, 2, 1), s)
                assert sym.canon(sw)[0] == c


def test_threads_keep_real_indices_in_counterexamples():
    """A counterexample from the reduced run replays with real thread indices."""
    from checker_common import replay
    k, sc = VERSIONS["v4.9"], parse_scenario("dstate-thread+second-oom/3t")
    r = check(k, sc, PROPERTIES, symmetry=True)
    bad = [v for v in r.verdicts.values() if v.verdict == "violated"]
    assert bad
    for v in bad:
        replay(k, sc, v.steps)


def test_order_of_mm_holders_is_kept():
    """v4.8 re-kills a group whose leader has left exit_mm: find_lock_task_mm
    then picks the first thread that still has ->mm, so merging states that
    differ only in the order of the mm holders would change the graph
    (sorting every thread instead of keeping that order adds states here)."""
    k, sc = VERSIONS["v4.8"], parse_scenario("aio-blocked+second-oom/3t")
    full = explore(k, sc)
    red = explore(k, sc, symmetry=True)
    assert red.reduced_states < full.n_states
    assert (red.n_states, red.n_edges) == (full.n_states, full.n_edges)
