"""Every explored edge of every standard (version, scenario) shows only
what that version can emit, and each observation agrees with the state
change of its step (so a transition that tags the wrong branch fails)."""

from __future__ import annotations

import pytest

from oomnb import events as ev
from oomnb import model
from oomnb.kernel import STANDARD, VERSIONS
from oomnb.kernel.state import EXITING, POST, R_ATTEMPT, R_DONE, R_SLEEP, R_UNMAP, RELEASED

VERSIONS_ALL = [*VERSIONS, "v6.12"]
CASES = [(v, sc.key) for sc in STANDARD for v in VERSIONS_ALL]


def _agrees(k, e, s, s2, o) -> str | None:
    """None if observation ``o`` of edge ``e`` fits the state change."""
    w = o.what
    if w == ev.KILL:
        t = int(o.subject[1:])
        if not s2.killed or not s2.th[t][2]:
            return "kill without a killed, marked thread"
    elif w == ev.KILL_OTHER:
        if not (s2.w_killed and not s.w_killed):
            return "kill_other without W being killed"
    elif w == ev.REAPER_WAKE:
        if not k.has_reaper or len(s2.rlist) != len(s.rlist) + 1:
            return "reaper_wake without a push on oom_reaper_list"
    elif w == ev.REAP_START:
        if (s.rpc, s2.rpc) != (R_ATTEMPT, R_UNMAP):
            return "reap_start without the attempt getting to unmap"
    elif w == ev.REAP_SKIP:
        if s.rpc != R_ATTEMPT or s2.rpc not in (R_SLEEP, R_DONE):
            return "reap_skip where the attempt did not give up"
    elif w == ev.REAP_FINISH:
        if s.rpc != R_UNMAP:
            return "reap_finish outside the unmap"
    elif w in (ev.REAP_UNABLE, ev.REAP_GIVING_UP):
        if s.rpc != R_DONE or s.ratt <= k.max_reap_retries:
            return "unable to reap before the retries ran out"
    elif w in (ev.EXIT_START, ev.MM_RELEASED, ev.FREE):
        want = {ev.EXIT_START: EXITING, ev.MM_RELEASED: POST, ev.FREE: RELEASED}[w]
        t = int(o.subject[1:])
        if s2.th[t][0] != want or s.th[t][0] == want:
            return f"{w} without thread {o.subject} getting there"
    else:
        return f"unknown observation {w}"
    return None


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(c))
def test_every_edge_observes_what_the_version_emits(case):
    v, key = case
    g = model.state_graph(v, next(s for s in STANDARD if s.key == key))
    k = g.kernel
    rel = ev.release(k.release)
    seen = set()
    n = 0
    for e in g.edges():
        n += 1
        s, s2 = g.states[e.src], g.states[e.dst]
        for o in e.observations:
            assert o.what in ev.OBSERVATIONS
            bad = _agrees(k, e, s, s2, o)
            assert bad is None, f"{v} {key} {e.key}: {bad} ({o})"
            for line in o.lines:
                evt = ev.EVENTS[line]
                assert evt.emitted_by(k), f"{v} cannot emit {line}"
                if evt.kind == "tracepoint":
                    assert rel >= (4, 13), f"{line} before v4.13"
                if line in (ev.REAPED, ev.REAP_UNABLE_LINE):
                    assert k.has_reaper
                if line != ev.SCHED_PROCESS_EXIT:
                    assert evt.observation in (o.what, ev.KILL) or o.what == ev.KILL_OTHER, \
                        f"{line} stands for {evt.observation}, emitted for {o.what}"
            seen.add(o.what)
    assert n == g.n_edges
    if not k.has_reaper:
        assert not seen & {ev.REAPER_WAKE, ev.REAP_START, ev.REAP_FINISH, ev.REAP_SKIP}
    assert ev.KILL in seen


def test_branches_give_the_kernel_lines():
    """6.18: a failed trylock is skip_task_reaping, a reap start+finish; the
    2 s timer is the wake; v4.9 emits printk lines only; v4.8 gives up."""
    g = model.state_graph("v6.18", "mmap-lock-forever+second-oom")
    lines = {(e.key, n) for e in g.edges() for o in e.observations for n in o.lines}
    assert ("reap_attempt", ev.SKIP_TASK_REAPING) in lines
    assert ("wake_oom_reaper_timer", ev.WAKE_REAPER) in lines
    assert ("oom_reap_task", ev.REAP_UNABLE_LINE) in lines
    assert not any(n == ev.WAKE_REAPER and key != "wake_oom_reaper_timer" for key, n in lines)
    g = model.state_graph("v4.9", "aio-blocked+suspend+second-oom")
    names = {n for e in g.edges() for o in e.observations for n in o.lines}
    assert names <= {ev.KILLED, ev.REAPED, ev.REAP_UNABLE_LINE, ev.SCHED_PROCESS_EXIT,
                     ev.SCHED_PROCESS_FREE}
    g = model.state_graph("v4.8", "mmap-lock-forever+second-oom")
    whats = {o.what for e in g.edges() for o in e.observations}
    assert ev.REAP_GIVING_UP in whats and ev.REAP_UNABLE in whats


def test_sched_process_exit_moves_between_6_12_and_6_18():
    for v, before in (("v6.12", False), ("v6.18", True)):
        g = model.state_graph(v, "fast-exit")
        obs = [o for e in g.edges() for o in e.observations if ev.SCHED_PROCESS_EXIT in o.lines]
        assert obs and all((o.what == ev.EXIT_START) == before for o in obs), v
