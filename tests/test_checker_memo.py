"""The explorer's compact codes and memoised transitions change nothing.

The graph the explorer builds (states in BFS order, every edge with its
transition, instance and tags) must equal the graph of a plain
breadth-first search written here, which calls every transition's
``fire`` in every state and keys its visited set by the states
themselves.  The memo's read recorder must see a read of a field by every
route a transition could take; a route it missed would let two states
that differ in that field share an effect.
"""

from __future__ import annotations

import pytest

from oomnb.checker import explore as explore_mod
from oomnb.checker.codec import Codec, Overflow
from oomnb.checker.explore import explore
from oomnb.checker.memo import Memo, PredicateMemo
from oomnb.kernel import parse_scenario
from oomnb.kernel.properties import EXTRA, PROPERTIES, scenario_properties
from oomnb.kernel.transitions import NO, initial_state, transitions_for
from oomnb.kernel.versions import load_kernel

CASES = [
    ("v4.8", "aio-blocked+suspend+second-oom/2t"),     # the largest two-thread graph
    ("v4.5", "dstate-thread+suspend/2t"),
    ("v6.18", "aio-blocked+suspend+second-oom/2t"),    # oom_reaper timers (timer instances)
    ("v6.18", "second-oom+memcg-oom+oom-group/1t"),
    ("v6.1", "second-oom+process-mrelease/2t"),
    ("v4.19", "second-oom+mm-sharer/1t"),
    ("v6.18", "aio-blocked+second-oom+mmu-notifier/1t"),
    ("v6.18", "robust-futex+walk-within-delay/2t"),
    ("v6.12", "second-oom+odirect/1t"),
]


def plain_bfs(k, sc):
    """States and edges ``(dst, transition, instance, tags)`` by calling fire everywhere."""
    trans = transitions_for(k)
    s0 = initial_state(k, sc)
    states, index, out = [s0], {s0: 0}, []
    u = 0
    while u < len(states):
        s, edges = states[u], []
        for t in trans:
            for i in t.instances(k, sc, s):
                for s2, tags in t.fire(k, sc, s, i) or ():
                    v = index.get(s2)
                    if v is None:
                        v = index[s2] = len(states)
                        states.append(s2)
                    edges.append((v, t.key, i, tags))
        out.append(edges)
        u += 1
    return states, out


def _edges(g):
    return [[(v, g.labels[lid][0].key, g.labels[lid][1], g.labels[lid][3]) for v, lid in e]
            for e in g.out]


@pytest.mark.parametrize("version,key", CASES)
def test_graph_equals_a_plain_search(version, key):
    k, sc = load_kernel(version), parse_scenario(key)
    g = explore(k, sc, ())          # no invariants: every state is expanded, as in plain_bfs
    states, out = plain_bfs(k, sc)
    assert g.states == states
    assert _edges(g) == out
    assert g.index == {s: n for n, s in enumerate(states)}


@pytest.mark.parametrize("version,key", CASES[:4])
def test_memoised_predicates_agree(version, key):
    k, sc = load_kernel(version), parse_scenario(key)
    g = explore(k, sc, ())
    codec = Codec()
    preds = [f for p in PROPERTIES + EXTRA + scenario_properties(sc)
             for f in (p.bad_state, p.antecedent_state) if f is not None]
    memos = [PredicateMemo(f, k, sc, codec) for f in preds]
    for s in g.states:
        c = codec.encode(s)
        for f, m in zip(preds, memos):
            assert m(s, c) == bool(f(k, sc, s))
    assert all(m.fields for m in memos)      # each read something, and was looked up by it


def test_overflowing_codes_restart_wider(monkeypatch):
    """Widths of one bit overflow at once; the explorer widens them and gets the same graph."""
    k, sc = load_kernel("v6.18"), parse_scenario("dstate-thread+suspend/2t")
    want = explore(k, sc, PROPERTIES)
    seen = []

    def narrow():
        return {f: 1 for f in Codec().widths}
    real_explore = explore_mod._explore

    def spy(*a):
        try:
            return real_explore(*a)
        except Overflow as e:
            seen.append(e.field)
            raise
    monkeypatch.setattr(explore_mod, "default_widths", narrow)
    monkeypatch.setattr(explore_mod, "_explore", spy)
    g = explore(k, sc, PROPERTIES)
    assert seen and "th" in seen
    assert g.states == want.states and g.out == want.out and g.safety == want.safety


# --- the read recorder: one field (mm_users) read by each route ------------------------

def _zero(s):
    return s._replace(mm_users=0)


ROUTES = {
    "attribute": lambda s: s.mm_users,
    "getattr": lambda s: getattr(s, "mm_users"),
    "index": lambda s: s[5],
    "negative index": lambda s: s[5 - len(s)],
    "slice": lambda s: s[4:6][1],
    "unpacking": lambda s: (lambda th, a, b, c, d, mu, *rest: mu)(*s),
    "iteration": lambda s: [x for x in s][5],
    "tuple()": lambda s: tuple(s)[5],
    "list()": lambda s: list(s)[5],
    "_asdict": lambda s: s._asdict()["mm_users"],
    "equality": lambda s: int(s == _zero(s)),
    "inequality": lambda s: int(s != _zero(s)),
    "hash": lambda s: int(hash(s) == hash(_zero(s))),
    "ordering": lambda s: int(s < _zero(s)),
    "contains": lambda s: int(2 in s[5:6]),
    "count": lambda s: s.count(2),
    "after _replace": lambda s: s._replace(killed=1).mm_users,
    "after two _replace": lambda s: s._replace(killed=1)._replace(mmf=1)[5],
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_recorder_sees_every_route(route):
    read = ROUTES[route]

    def fire(k, sc, s, i):
        return [(s._replace(oom_victims=read(s)), NO)]
    k, sc = load_kernel("v6.18"), parse_scenario("aio-blocked/1t")
    base = initial_state(k, sc)
    codec = Codec()
    m = Memo(fire, k, sc, None, codec)
    for users in (1, 2, 3, 2, 1):
        s = base._replace(mm_users=users)
        c = codec.encode(s)
        e = m.table.get(c & m.key)
        if e is None:
            e = m.record(s, c)
        got = [(build(s, vals), tags) for _, _, build, vals, tags in e]
        assert got == fire(k, sc, s, None), route
        want = fire(k, sc, s, None)[0][0]
        clear, bits = e[0][0], e[0][1]
        assert (c & clear) | bits == codec.encode(want), route


def test_recording_in_two_threads_at_once():
    """Thread A's transition reads a field while thread B is in the middle of recording
    its own: each memo ends up keyed by exactly the fields its own transition read."""
    import threading
    k, sc = load_kernel("v6.18"), parse_scenario("aio-blocked/1t")
    s = initial_state(k, sc)
    codec = Codec()
    b_started, a_read = threading.Event(), threading.Event()

    def fire_a(k, sc, s, i):
        assert b_started.wait(10)
        users = s.mm_users                  # read while B records
        a_read.set()
        return [(s._replace(oom_victims=users), NO)]

    def fire_b(k, sc, s, i):
        b_started.set()
        killed = s.killed
        assert a_read.wait(10)
        return [(s._replace(oom_victims=killed), NO)]
    ma, mb = Memo(fire_a, k, sc, None, codec), Memo(fire_b, k, sc, None, codec)
    c = codec.encode(s)
    ta = threading.Thread(target=ma.record, args=(s, c))
    tb = threading.Thread(target=mb.record, args=(s, c))
    ta.start()
    tb.start()
    ta.join()
    tb.join()
    field = {f: n for n, f in enumerate(s._fields)}
    assert ma.fields == {field["mm_users"]} and mb.fields == {field["killed"]}
