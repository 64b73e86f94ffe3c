"""The pre-checks read from transition guards and step predicates are
necessary conditions: wherever a transition is enabled (a step predicate
is true) its pre-check passes.  (tests/test_checker_symmetry.py explores
with and without them and requires the same graph and safety results.)"""

from __future__ import annotations

import pytest

from oomnb.checker.explore import explore
from oomnb.checker.guards import guard_of, step_guard_of
from oomnb.kernel import parse_scenario
from oomnb.kernel.properties import EXTRA, PROPERTIES
from oomnb.kernel.transitions import transitions_for
from oomnb.kernel.versions import load_kernel

CASES = [("v4.8", "aio-blocked+suspend+second-oom/2t"), ("v6.18", "dstate-thread+suspend/2t"),
         ("v6.1", "second-oom+process-mrelease/2t"), ("v4.19", "second-oom+mm-sharer/1t")]


def _passes(gd, k, sc, s, i):
    if gd.disabled_for(k, sc):
        return False
    if gd.pcs is not None and i is not None and s.th[i][0] not in gd.pcs:
        return False
    return all(s[f] in vals for f, vals in gd.fields) and all(s[f] for f in gd.truthy) \
        and not any(s[f] for f in gd.falsy)


@pytest.mark.parametrize("version,key", CASES)
def test_transition_prechecks_are_necessary(version, key):
    k, sc = load_kernel(version), parse_scenario(key)
    g = explore(k, sc, PROPERTIES)
    trans = [(t, guard_of(t.fire)) for t in transitions_for(k)]
    assert sum(gd is not None for _, gd in trans) >= len(trans) - 2
    skipped = 0
    for s in g.states:
        for t, gd in trans:
            if gd is None:
                continue
            for i in t.instances(k, sc, s):
                ok = _passes(gd, k, sc, s, i)
                assert ok or not t.fire(k, sc, s, i), (t.key, s)
                skipped += not ok
    assert skipped          # the pre-checks do rule transitions out


@pytest.mark.parametrize("version,key", CASES)
def test_step_prechecks_are_necessary(version, key):
    k, sc = load_kernel(version), parse_scenario(key)
    g = explore(k, sc, PROPERTIES)
    preds = [f for p in PROPERTIES + EXTRA if p.shape == "edge"
             for f in (p.bad_edge, p.antecedent_edge) if f is not None]
    guarded = [(f, step_guard_of(f)) for f in preds if step_guard_of(f) is not None]
    assert len(guarded) >= len(preds) - 1
    true_seen = 0
    for u, edges in enumerate(g.out):
        s = g.states[u]
        for v, lid in edges:
            t, i, actor, tags = g.labels[lid]
            s2 = g.states[v]
            for f, sg in guarded:
                if f(k, sc, s, actor, t, tags, s2):
                    true_seen += 1
                    assert sg.state_ok is None or sg.state_ok(s), (f, s)
                    assert all(x in tags for x in sg.tags), (f, tags)
    assert true_seen


def test_a_source_edited_since_import_is_not_read(tmp_path, monkeypatch):
    import importlib
    import linecache

    mod = tmp_path / "oomnb_guard_probe.py"
    mod.write_text("P = lambda k, sc, s, a, tr, tags, s2: 'deref_mm' in tags\n\n"
                   "def t_probe(k, sc, s, i):\n    if s.pm != 1:\n        return ()\n"
                   "    return [(s, ())]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = importlib.import_module("oomnb_guard_probe")
    assert step_guard_of(probe.P).tags == ("deref_mm",)
    assert guard_of(probe.t_probe).fields
    # the file now says something else at the same lines: not read
    mod.write_text("P = lambda k, sc, s, a, tr, tags, s2: 'walk_vmas' in tags\n\n"
                   "def t_probe(k, sc, s, i):\n    if s.pm != 'x':\n        return ()\n"
                   "    return [(s, ())]\n")
    linecache.clearcache()
    step_guard_of.cache_clear()
    guard_of.cache_clear()
    assert step_guard_of(probe.P) is None
    assert guard_of(probe.t_probe) is None
