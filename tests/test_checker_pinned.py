"""Memory the reaper unmaps without freeing it (``odirect``: pages pinned by
in-flight direct IO) and reaps that fail part-way (``mmu-notifier``: an MMU
notifier that refuses the non-blocking invalidation, 93065ac753e4, v4.19).

Each test names the bug it would catch; the planted versions of those bugs
(a zap path that frees pinned pages, a reaper that frees them, a
non-blocking invalidation that always succeeds) are run here and flip the
result."""

from __future__ import annotations

import dataclasses

import pytest
from checker_common import replay
from test_model_observations import _agrees

from oomnb import events as ev
from oomnb import model
from oomnb.checker.explore import explore
from oomnb.checker.run import check
from oomnb.kernel import parse_scenario, transitions
from oomnb.kernel.properties import (NO_PREMATURE_KILL, NO_PREMATURE_KILL_STRONG, PROPERTIES,
                                     REAP_PROGRESS)
from oomnb.kernel.state import (MEM_MAPPED, MEM_PARTLY, MEM_REAPED, MMF_SKIP, TP_AIO, TP_NONE)
from oomnb.kernel.versions import ALL, VERSIONS

READINGS = (NO_PREMATURE_KILL, NO_PREMATURE_KILL_STRONG)
ODIRECT = "second-oom+odirect/1t"
MMUN = "second-oom+mmu-notifier/1t"
NONBLOCK = [n for n, k in ALL.items() if k.reaper_mmu_notifier == "nonblock"]


def _readings(k, key):
    r = check(k, parse_scenario(key), READINGS)
    return r.verdicts[NO_PREMATURE_KILL.name], r.verdicts[NO_PREMATURE_KILL_STRONG.name]


def _graph(k, key):
    """An uncached state graph (planted transitions are read at exploration)."""
    return model.StateGraph(explore(k, parse_scenario(key), PROPERTIES))


@pytest.fixture
def plant(monkeypatch):
    """Replace the fire function of some transitions for one test:
    ``plant({key: wrap})`` with ``wrap(fire) -> fire``."""
    def _plant(wraps):
        new = tuple(dataclasses.replace(t, fire=wraps[t.key](t.fire)) if t.key in wraps else t
                    for t in transitions.TRANSITIONS)
        monkeypatch.setattr(transitions, "TRANSITIONS", new)
    return _plant


def _frees_pins(fire):
    """Planted bug: an unmap that frees the pinned pages with the PTEs."""
    def fire2(k, sc, s, i):
        return [(s2._replace(pin=0) if s2.mem != s.mem else s2, tags)
                for s2, tags in fire(k, sc, s, i)]
    return fire2


# --- odirect ------------------------------------------------------------------

def test_reaper_success_lets_a_second_victim_go_while_pinned_pages_are_allocated():
    """v6.18: the reaper unmaps the pinned pages' PTEs, prints "reaped
    process" and sets MMF_OOM_SKIP, so W is selected while the direct IO
    still holds them: [strong] violated, [reapable] holds.  (Catches a model
    where unmapping frees pinned pages, or where [strong] ignores pins.)"""
    k, sc = ALL["v6.18"], parse_scenario(ODIRECT)
    reap, strong = _readings(k, ODIRECT)
    assert reap.verdict == "holds" and strong.verdict == "violated"
    last = strong.steps[-1]
    assert last.key == "out_of_memory" and "w_killed=0->1" in last.changes
    assert last.pre.pin == 1 and last.pre.mem == MEM_REAPED and last.pre.mmf & MMF_SKIP
    assert [st.key for st in strong.steps if st.key in ("reap_unmap", "oom_reap_task")] == \
        ["reap_unmap", "oom_reap_task"]
    replay(k, sc, strong.steps)


def test_the_reap_is_reported_as_a_success():
    g = model.state_graph("v6.18", ODIRECT)
    lines = {(g.states[e.src].pin, n) for e in g.edges() if e.key == "reap_unmap"
             for o in e.observations for n in o.lines}
    assert (1, ev.REAPED) in lines and (1, ev.FINISH_TASK_REAPING) in lines


def _pinned_kill_before_exit_mmap(g) -> bool:
    """W selected while the pages are pinned and the victim has not reached
    exit_mmap: only the reaper's MMF_OOM_SKIP can have let it through."""
    return any("kill_W" in e.tags and g.states[e.src].pin and not g.states[e.src].gave_up
               and g.states[e.src].tpc in (TP_NONE, TP_AIO) for e in g.edges())


def test_planted_reaper_that_frees_pinned_pages(plant):
    k = ALL["v6.18"]
    assert _pinned_kill_before_exit_mmap(_graph(k, ODIRECT))
    plant({"reap_unmap": _frees_pins})
    assert not _pinned_kill_before_exit_mmap(_graph(k, ODIRECT))


def test_planted_zap_path_that_frees_pinned_pages_flips_strong(plant):
    plant({key: _frees_pins for key in ("reap_unmap", "exit_mmap_unmap", "exit_mmap_oom",
                                        "mrelease_reap")})
    for name in ("v4.19", "v6.18"):
        reap, strong = _readings(ALL[name], ODIRECT)
        assert (reap.verdict, strong.verdict) == ("holds", "holds"), name


def test_io_completion_frees_and_is_not_fair():
    """Once the IO completes the strong reading is the plain one; the
    completion is an IO step and never forced by fairness."""
    t = transitions.BY_KEY["dio_complete"]
    assert t.is_io and t.fair == "none" and t.delay.cls == "io"
    g = model.state_graph("v6.18", ODIRECT)
    assert any(e.key == "dio_complete" and g.states[e.dst].w_killed == 0 for e in g.edges())
    assert all(not e.observations for e in g.edges() if e.key == "dio_complete")


# --- mmu-notifier ----------------------------------------------------------------

def _always_succeeds(name):
    """Planted bug: the non-blocking invalidation never refuses."""
    return ALL[name].derive(name + "+nonblock-always-ok", reaper_mmu_notifier="none")


@pytest.mark.parametrize("name", NONBLOCK)
def test_partial_reaps_exhaust_the_reaper_without_lock_contention(name):
    """No lock is held, yet the reaper fails MAX_OOM_REAP_RETRIES times,
    prints "unable to reap" and sets MMF_OOM_SKIP; W is then selected while
    part of the reapable memory is mapped (the kill the gave-up exemption of
    both readings allows).  Planted: a non-blocking path that always
    succeeds never gets there."""
    def seen(k):
        g = _graph(k, MMUN)
        unable = any(o.what == ev.REAP_UNABLE for e in g.edges() for o in e.observations)
        partly_kill = any("kill_W" in e.tags and g.states[e.src].mem == MEM_PARTLY
                          for e in g.edges())
        return unable, partly_kill
    assert seen(ALL[name]) == (True, True)
    assert seen(_always_succeeds(name)) == (False, False)
    reap, strong = _readings(ALL[name], MMUN)
    assert reap.verdict == strong.verdict == "holds"


def test_a_partial_reap_prints_no_reaped_line():
    g = model.state_graph("v6.18", MMUN)
    partial = [e for e in g.edges() if e.key == "reap_unmap" and g.states[e.dst].mem == MEM_PARTLY]
    assert partial
    for e in partial:
        assert [n for o in e.observations for n in o.lines] == [ev.FINISH_TASK_REAPING]
        assert [o.what for o in e.observations] == [ev.REAP_FINISH]
        assert g.states[e.src].mem in (MEM_MAPPED, MEM_PARTLY)


def test_the_notifier_is_gone_once_exit_mmap_starts():
    """exit_mmap's mmu_notifier_release comes first: no reap fails after it,
    and v4.19's own __oom_reap_task_mm in exit_mmap unmaps everything."""
    for name in ("v4.19", "v6.18"):
        g = model.state_graph(name, MMUN)
        assert all(g.states[e.src].tpc in (TP_NONE, TP_AIO) for e in g.edges()
                   if e.key == "reap_unmap" and g.states[e.dst].mem == MEM_PARTLY)
    g = model.state_graph("v4.19", MMUN)
    assert all(g.states[e.dst].mem != MEM_PARTLY for e in g.edges() if e.key == "exit_mmap_oom")


@pytest.mark.parametrize("name", ["v4.8", "v4.9"])
def test_old_reapers_call_no_notifier(name):
    """4.8.17/4.9 __oom_reap_task(_mm) calls no MMU notifier: the token
    changes nothing (the same graph as without it)."""
    a = check(ALL[name], parse_scenario(MMUN))
    b = check(ALL[name], parse_scenario("second-oom/1t"))
    assert (a.states, a.transitions) == (b.states, b.transitions)
    assert {p: v.verdict for p, v in a.verdicts.items()} == \
        {p: v.verdict for p, v in b.verdicts.items()}


def test_refusing_notifier_and_blocked_exit_break_reap_progress():
    """v6.18 reaps a victim blocked in exit_aio (reap_progress holds); with a
    refusing notifier the reaper gives up and the notifier's VMA stays mapped
    until an IO completion that may never come: violated.  Planted: an
    always-succeeding non-blocking path holds again."""
    key = "aio-blocked+second-oom+mmu-notifier/1t"
    for k, want in ((ALL["v6.18"], "violated"), (_always_succeeds("v6.18"), "holds")):
        r = check(k, parse_scenario(key), (REAP_PROGRESS,))
        assert r.verdicts[REAP_PROGRESS.name].verdict == want, k.name
    assert check(ALL["v6.18"], parse_scenario("aio-blocked+second-oom/1t"),
                 (REAP_PROGRESS,)).verdicts[REAP_PROGRESS.name].verdict == "holds"


# --- both ----------------------------------------------------------------------

@pytest.mark.parametrize("key", [ODIRECT, MMUN, "aio-blocked+second-oom+mmu-notifier+odirect/1t"])
@pytest.mark.parametrize("name", [*VERSIONS, "v4.19", "v5.15", "v6.1"])
def test_every_edge_observes_what_the_version_emits(name, key):
    g = model.state_graph(name, key)
    k = g.kernel
    for e in g.edges():
        for o in e.observations:
            bad = _agrees(k, e, g.states[e.src], g.states[e.dst], o)
            assert bad is None, f"{name} {key} {e.key}: {bad} ({o})"
            assert all(ev.EVENTS[n].emitted_by(k) for n in o.lines)


def test_tokens_parse_and_name():
    sc = parse_scenario("mmu-notifier+odirect+second-oom")
    assert sc.odirect and sc.mmu_notifier and sc.key == "second-oom+odirect+mmu-notifier/1t"
    assert parse_scenario(sc.key) == sc
