"""Fairness semantics of the SCC search on tiny hand-built graphs."""

from __future__ import annotations

from dataclasses import dataclass

from oomnb.checker.liveness import _bound, _fair_sccs


@dataclass(eq=False)
class FakeT:
    key: str
    fair: str
    kind: str = "cpu"
    lock: str | None = None


class G:
    def __init__(self, out, labels):
        self.out, self.labels = out, labels
        self.kernel = None


def groups(labels):
    gid, out = {}, []
    for t, i, actor, tags in labels:
        if t.fair == "none":
            out.append((None, False))
        else:
            out.append((gid.setdefault((actor, t.fair), len(gid)), t.fair == "strong"))
    return out


def test_weak_group_enabled_everywhere_must_be_taken():
    # 0 <-> 1 by actor a; actor b (weak) enabled in both, leaves the cycle
    labels = [(FakeT("a", "weak"), None, "a", ()), (FakeT("b", "weak"), None, "b", ())]
    out = [[(1, 0), (2, 1)], [(0, 0), (2, 1)], []]
    g = G(out, labels)
    fair = _fair_sccs({0, 1}, g, groups(labels), [True, True])
    assert fair == []


def test_weak_group_enabled_intermittently_need_not_be_taken():
    labels = [(FakeT("a", "weak"), None, "a", ()), (FakeT("b", "weak"), None, "b", ())]
    out = [[(1, 0), (2, 1)], [(0, 0)], []]      # b only enabled in 0
    g = G(out, labels)
    fair = _fair_sccs({0, 1}, g, groups(labels), [True, True])
    assert fair == [{0, 1}]


def test_strong_group_enabled_intermittently_must_be_taken():
    labels = [(FakeT("a", "weak"), None, "a", ()), (FakeT("b", "strong"), None, "b", ())]
    out = [[(1, 0), (2, 1)], [(0, 0)], []]
    g = G(out, labels)
    fair = _fair_sccs({0, 1}, g, groups(labels), [True, True])
    # the 2-cycle is unfair; state 1 alone still has a (weak) a-step enabled
    assert fair == []


def test_stutter_is_fair_when_only_unfair_steps_are_enabled():
    labels = [(FakeT("io", "none"), None, "IO", ())]
    out = [[(1, 0)], []]
    g = G(out, labels)
    assert _fair_sccs({0}, g, groups(labels), [True]) == [{0}]


def test_bound_counts_weighted_steps_and_detects_cycles():
    labels = [(FakeT("reap_attempt", "weak"), None, "r", ()), (FakeT("x", "weak"), None, "x", ())]
    out = [[(1, 0)], [(2, 0)], [(3, 1)], []]
    g = G(out, labels)
    w = {"attempt": lambda lab: 1 if lab[0].key == "reap_attempt" else 0}
    assert _bound(g, {0, 1, 2}, [True, True], w) == {"attempt": 2}
    out2 = [[(1, 0)], [(0, 0)]]
    assert _bound(G(out2, labels), {0, 1}, [True, True], w) == {"attempt": None}
