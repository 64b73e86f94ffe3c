"""The timed race over the model, many episodes at once.

Semantics (a generalized semi-Markov process over the explored state
graph of :func:`oomnb.model.state_graph`):

* every **event** is a transition instance ``(transition key, instance)``
  of the model; in a state, the events with an outgoing edge are enabled;
* when an event becomes enabled it gets a **clock**: now plus a duration
  drawn from its :class:`~oomnb.kernel.timing.Delay` (``Delay.sample``
  with the laws of :mod:`oomnb.sim.laws`);
* the clock keeps running while the event stays enabled (the
  ``OOM_REAPER_DELAY`` timer runs while the victim exits); an event that
  is disabled loses its clock; the event that fired draws a new one if it
  is still enabled;
* the earliest clock fires; ties go to the lower ``(priority, sequence)``
  (priority: the order of :data:`oomnb.kernel.transitions.TRANSITIONS`;
  sequence: the order clocks were set, as in SimPy's event queue), and a
  step with several successors picks one uniformly;
* an episode ends when no clock is finite or the next one is past the
  horizon.

Three refinements of the declared delays, read from the state: an
``unmap`` step finds nothing to unmap once the memory is gone (it takes
a ``cpu`` step); a ``lock`` delay belongs to the lock's holder (its
release), a task that waits for the lock waits through its guard and then
takes a ``cpu`` step; and where the reaper takes ``oom_lock`` (v4.7 to
v4.18) its first attempt waits out the jiffy the killer sleeps under that
lock (:data:`OOM_LOCK_SLEEP`).

:func:`compile_graph` turns a state graph into arrays; :func:`run` draws
every episode's clocks with numpy, one step of all live episodes at a
time, from one seeded generator (the same seed gives the same episodes).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from .. import events as ev
from ..kernel import timing
from ..kernel.properties import NO_PREMATURE_KILL
from ..kernel.state import MEM_STILL_MAPPED, MMF_SKIP, RELEASED
from ..kernel.transitions import TRANSITIONS

#: first-time markers: the observations, then state predicates
STATE_MARKS = ("unmapped", "may_select", "mmf_skip", "freed", "io_done", "lock_free", "w_killed")
MARKS = tuple(ev.OBSERVATIONS) + STATE_MARKS
MARK = {m: i for i, m in enumerate(MARKS)}
_PRIO = {t.key: i for i, t in enumerate(TRANSITIONS)}


def _state_marks(k, sc, s) -> int:
    bits = 0
    preds = {
        "unmapped": s.mem not in MEM_STILL_MAPPED,
        "may_select": bool(s.killed) and not k.oom_abort(k, s),
        "mmf_skip": bool(s.mmf & MMF_SKIP),
        "freed": all(t[0] == RELEASED for t in s.th),
        "io_done": not s.io,
        "lock_free": not s.lockf,
        "w_killed": bool(s.w_killed),
    }
    for name, on in preds.items():
        if on:
            bits |= 1 << MARK[name]
    return bits


def _edge_marks(e) -> int:
    bits = 0
    for o in e.observations:
        if o.what == ev.KILL and not o.subject.startswith("T"):
            continue
        bits |= 1 << MARK[o.what]
    return bits


@dataclass
class Compiled:
    """A state graph as arrays (``N`` states, ``E`` events, ``K`` successors)."""

    kernel: object
    scenario: object
    graph: object
    events: list                 # [(transition key, instance)]
    en: np.ndarray               # bool [N, E]
    succ: np.ndarray             # int32 [N, E, K] next state
    nsucc: np.ndarray            # int8 [N, E]
    edge: np.ndarray             # int32 [N, E, K] index into edges
    delay_id: np.ndarray         # int16 [N, E] index into delays
    delays: list                 # [Delay]
    prio: np.ndarray             # int64 [E]
    edges: list                  # [oomnb.model.Edge]
    edge_marks: np.ndarray       # int64 [n_edges] bits of MARKS
    edge_attempt: np.ndarray     # int8 [n_edges] a reap attempt
    edge_premature: np.ndarray   # int8 [n_edges] no_premature_kill's bad edge
    state_marks: np.ndarray      # int64 [N]
    info: dict = field(default_factory=dict)

    @property
    def E(self) -> int:
        return len(self.events)


#: v4.5-v4.18 out_of_memory sleeps schedule_timeout_killable(1) after a kill
#: with oom_lock still held by its caller (mm/oom_kill.c:out_of_memory; moved
#: out from under the lock by 9bfe5ded054b, v4.19); the v4.7-v4.18 reaper
#: takes oom_lock for each attempt, so its first attempt waits that jiffy.
OOM_LOCK_SLEEP = timing.TIMER("schedule_timeout_killable(1) under oom_lock",
                              jiffies_attr="alloc_retry_sleep")


def _delay_for(e, s, k) -> timing.Delay:
    d = e.delay
    if e.key == "reap_attempt" and k.reaper_oom_lock and s.ratt == 0 and s.killed:
        return OOM_LOCK_SLEEP
    if d.cls == "unmap" and s.mem not in MEM_STILL_MAPPED:
        return timing.CPU
    if d.cls == "lock" and e.transition.actor != "lock_holder":
        return timing.CPU
    return d


@functools.lru_cache(maxsize=64)
def _compile(k, sc) -> Compiled:
    from ..model import state_graph
    g = state_graph(k, sc)
    N = len(g)
    edges = list(g.edges())
    ekeys = sorted({(e.key, e.instance) for e in edges},
                   key=lambda x: (_PRIO[x[0]], -1 if x[1] is None else x[1]))
    eidx = {x: i for i, x in enumerate(ekeys)}
    E = len(ekeys)
    out = {}
    for j, e in enumerate(edges):
        out.setdefault((e.src, eidx[(e.key, e.instance)]), []).append(j)
    K = max((len(v) for v in out.values()), default=1)
    en = np.zeros((N, E), bool)
    succ = np.zeros((N, E, K), np.int32)
    edge = np.zeros((N, E, K), np.int32)
    nsucc = np.zeros((N, E), np.int8)
    delay_id = np.zeros((N, E), np.int16)
    delays, did = [], {}
    for (u, ei), js in out.items():
        en[u, ei] = True
        nsucc[u, ei] = len(js)
        for q, j in enumerate(js):
            succ[u, ei, q] = edges[j].dst
            edge[u, ei, q] = j
        d = _delay_for(edges[js[0]], g.states[u], k)
        if d not in did:
            did[d] = len(delays)
            delays.append(d)
        delay_id[u, ei] = did[d]
    em = np.array([_edge_marks(e) for e in edges], np.int64)
    att = np.array([e.key == "reap_attempt" for e in edges], np.int8)
    prem = np.array([bool(NO_PREMATURE_KILL.bad_edge(k, sc, g.states[e.src], e.actor, e.transition,
                                                     e.tags, g.states[e.dst])) for e in edges],
                    np.int8)
    sm = np.array([_state_marks(k, sc, s) for s in g.states], np.int64)
    prio = np.array([_PRIO[x[0]] for x in ekeys], np.int64)
    return Compiled(k, sc, g, ekeys, en, succ, nsucc, edge, delay_id, delays, prio, edges, em, att,
                    prem, sm, {"states": N, "edges": len(edges), "events": E})


def compile_graph(kernel, scenario) -> Compiled:
    """The explored state graph of ``kernel`` in ``scenario`` (names,
    ``FILE.py`` or objects) as arrays; cached per process."""
    from ..model import _kernel, _scenario
    return _compile(_kernel(kernel), _scenario(scenario))


@dataclass
class Episodes:
    """What :func:`run` returns: per-episode marks and, if recorded, steps."""

    compiled: Compiled
    laws: dict
    seed: int
    n: int
    horizon: float
    first: np.ndarray            # float [n, len(MARKS)] first time of each mark (inf: never)
    attempts: np.ndarray         # int [n] reap attempts
    premature: np.ndarray        # int [n] premature second kills
    end: np.ndarray              # float [n] time of the last step
    final: np.ndarray            # int [n] final state
    settled: np.ndarray          # bool [n] no finite clock left (ended by itself, not by the horizon)
    steps: int
    rss: np.ndarray              # float [n] the victim's anonymous RSS (bytes)
    trail: tuple = ()            # recorded: (episode, edge, time, time its clock was set)

    def mark(self, name: str) -> np.ndarray:
        return self.first[:, MARK[name]]


def _samplers(c: Compiled, laws: dict):
    k = c.kernel
    out = []
    for d in c.delays:
        lw = dict(laws)
        if d.cls == "timer" and "timer_slack" in laws and hasattr(laws["timer_slack"], "with_jiffies"):
            j = float(d.timer_jiffies(k).subs(timing.HZ, k.hz))
            lw["timer_slack"] = laws["timer_slack"].with_jiffies(j, k.hz)
        out.append((d, lw))
    return out


def run(c: Compiled, laws: dict, n: int, seed: int = 0, *, horizon: float = 60.0,
        record: bool = False, progress=None) -> Episodes:
    """Simulate ``n`` episodes of ``c`` with ``laws`` (``{name: law}``,
    :func:`oomnb.sim.laws.resolve`); ``record`` keeps every step (for the
    events tables, timelines and Perfetto)."""
    rng = np.random.default_rng(seed)
    k = c.kernel
    E, M = c.E, len(MARKS)
    samplers = _samplers(c, laws)
    rss = np.asarray(laws["rss_anon"](rng, n), float)
    s = np.zeros(n, np.int32)
    C = np.full((n, E), np.inf)
    seq = np.zeros((n, E), np.int64)
    armed = np.zeros((n, E)) if record else None
    first = np.full((n, M), np.inf)
    bitv = np.int64(1) << np.arange(M, dtype=np.int64)
    attempts = np.zeros(n, np.int32)
    premature = np.zeros(n, np.int32)
    end = np.zeros(n)
    counter = 0
    trail = []
    big = np.int64(1) << 62
    prio = c.prio << 40

    def schedule(idx, st, mask, now):
        nonlocal counter
        rows, cols = np.nonzero(mask)
        if not rows.size:
            return
        d = c.delay_id[st[rows], cols]
        vals = np.empty(rows.size)
        for di in np.unique(d):
            sel = d == di
            delay, lw = samplers[di]
            m = int(sel.sum())
            if delay.cls == "unmap":
                r = rss[idx[rows[sel]]]
                if getattr(lw.get(delay.law), "kind", "") == "fit":    # throughput against RSS
                    vals[sel] = lw[delay.law].durations(rng, r)
                    continue
                lw = dict(lw)
                lw["rss_anon"] = lambda _rng, _n, r=r: r
            vals[sel] = delay.sample(k, rng, m, lw)
        C[idx[rows], cols] = now[rows] + vals
        if record:
            armed[idx[rows], cols] = now[rows]
        seq[idx[rows], cols] = counter + np.arange(rows.size)
        counter += rows.size

    m0 = c.state_marks[0]
    first[:, (m0 & bitv) != 0] = 0.0
    allidx = np.arange(n)
    schedule(allidx, s, np.broadcast_to(c.en[0], (n, E)), np.zeros(n))
    active = allidx
    steps = 0
    while active.size:
        Ca = C[active]
        m = Ca.min(axis=1)
        live = m <= horizon
        if not live.all():
            active, Ca, m = active[live], Ca[live], m[live]
            if not active.size:
                break
        cand = Ca == m[:, None]
        key = np.where(cand, prio[None, :] + seq[active], big)
        e = key.argmin(axis=1)
        st = s[active]
        ns = c.nsucc[st, e]
        j = np.zeros(active.size, np.int64)
        multi = ns > 1
        if multi.any():
            j[multi] = (rng.random(int(multi.sum())) * ns[multi]).astype(np.int64)
        s2 = c.succ[st, e, j]
        ed = c.edge[st, e, j]
        bits = c.edge_marks[ed] | c.state_marks[s2]
        fa = first[active]
        newb = ((bits[:, None] & bitv[None, :]) != 0) & np.isinf(fa)
        if newb.any():
            first[active] = np.where(newb, m[:, None], fa)
        attempts[active] += c.edge_attempt[ed]
        premature[active] += c.edge_premature[ed]
        if record:
            trail.append((active.copy(), ed.copy(), m.copy(), armed[active, e]))
        en_old = c.en[st]
        en_new = c.en[s2]
        keep = en_new & en_old
        keep[np.arange(active.size), e] = False
        C[active] = np.where(keep, Ca, np.inf)
        schedule(active, s2, en_new & ~keep, m)
        s[active] = s2
        end[active] = m
        steps += 1
        if progress is not None:
            progress(active.size)
    settled = ~np.isfinite(C.min(axis=1))
    tr = ()
    if record and trail:
        tr = tuple(np.concatenate([x[i] for x in trail]) for i in range(4))
    return Episodes(c, laws, seed, n, horizon, first, attempts, premature, end, s.copy(), settled,
                    steps, rss, tr)


__all__ = ["Compiled", "compile_graph", "run", "Episodes", "MARKS", "MARK", "STATE_MARKS"]
