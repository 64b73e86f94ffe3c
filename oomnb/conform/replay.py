"""Replay an observed episode through the model (trace validation).

The search runs over ``(model state, cursor, binding)``: the cursor points
at the next observed event, the binding says which observed tid each
model thread (``T0``..) and the other process ``W`` stand for.  From a
node the model may

* take a **silent** step: none of the step's observations is one the
  capture could record (``Episode.capture``);
* take a **visible** step: its recordable observations, in the order the
  kernel emits them, equal the next observed events (same observation,
  subject consistent with the binding); the cursor moves past them;
* **check a state event** without a step: an observed ``reaper_wake``
  holds where the victim thread is on ``oom_reaper_list`` (see below), a
  stack sample in ``exit_aio`` where that thread waits in ``__mmput ->
  exit_aio``.

The episode conforms when some node has consumed every observed event
(the behaviour may go on after the capture ends).  Otherwise the first
observed event no node got past is the first one the model cannot
explain; the report shows the deepest model state that reached it, what
was enabled there, and what the model could have shown next.

``reaper_wake`` is checked as a state, not a step: the tracepoint fires
when the task is put on ``oom_reaper_list``.  When that happens differs
between versions (inside ``oom_kill_process`` in v4.8/v4.9, from the
``OOM_REAPER_DELAY`` timer in 6.18); that is timing, checked separately
(:mod:`oomnb.conform.timing`).  The ordering asks that the task be on the
list where the trace shows the wake, which in 6.18 is only after the
timer step, and never in a version without a reaper.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass, field

from .. import events as ev
from .. import model
from ..kernel.state import IN_MMPUT, PC_NAMES, R_NAMES, TP_AIO, TP_NAMES
from .observed import IN_EXIT_AIO, Episode, Observed

STATE_EVENTS = (ev.REAPER_WAKE, IN_EXIT_AIO)


@dataclass
class Step:
    """One step of a witness (or of the path to the failure): a model edge
    and the observed events it consumed (indices), or a state check."""
    edge: object | None          # oomnb.model.Edge, None for a state check
    consumed: tuple = ()         # indices into Episode.events
    state: int = 0               # state id after the step


@dataclass
class Replay:
    episode: str
    version: str
    scenario: str                # model scenario key ("aio-blocked/1t")
    conforms: bool
    n_observed: int
    consumed: int                # observed events explained (all of them iff conforms)
    path: list                   # of Step: the witness, or the path to the failure
    graph: object = None         # the StateGraph searched
    binding: dict = field(default_factory=dict)    # "T0" -> tid
    unexplained: Observed | None = None
    unexplained_index: int | None = None
    state: object = None         # model State where it got stuck
    enabled: list = field(default_factory=list)    # [(transition, instance, observations)]
    could_show: list = field(default_factory=list)  # observations the model could show next
    nodes: int = 0

    @property
    def verdict(self) -> str:
        return "conforms" if self.conforms else "does not conform"


def subjects(n_threads: int) -> tuple:
    return tuple(f"T{i}" for i in range(n_threads)) + ("W",)


def _slot(subject: str, n: int) -> int | None:
    if subject == "W":
        return n
    if subject.startswith("T") and subject[1:].isdigit():
        return int(subject[1:])
    return None


def _bind(binding: tuple, slot: int | None, pid) -> tuple | None:
    if slot is None or pid is None:
        return None
    cur = binding[slot]
    if cur == pid:
        return binding
    if cur is not None or pid in binding:
        return None
    return binding[:slot] + (pid,) + binding[slot + 1:]


def _state_holds(s, x: Observed, binding: tuple, n: int) -> tuple | None:
    """Bindings under which state event ``x`` holds in ``s`` (first found)."""
    if x.what == ev.REAPER_WAKE:
        cands = s.rlist
    elif x.what == IN_EXIT_AIO:
        cands = [i for i in range(len(s.th))
                 if s.th[i][0] == IN_MMPUT and s.town == i and s.tpc == TP_AIO]
    else:
        return None
    for i in cands:
        b = _bind(binding, i, x.pid)
        if b is not None:
            return b
    return None


class _Edges:
    """Per graph: each state's out-edges with their recordable observations."""

    def __init__(self, g, capture):
        self.g = g
        self.capture = capture
        self._cache = {}

    def __call__(self, u):
        out = self._cache.get(u)
        if out is None:
            out = []
            for e in self.g.out_edges(u):
                vis = tuple(o for o in e.observations
                            if o.what in self.capture and o.what not in STATE_EVENTS)
                out.append((e, vis))
            self._cache[u] = out
        return out


@functools.lru_cache(maxsize=256)
def _edges_for(g, capture):
    return _Edges(g, capture)


def replay_episode(episode: Episode, version, scenario, *, max_nodes: int = 2_000_000) -> Replay:
    """Search the state graph of ``version`` in ``scenario`` for a behaviour
    whose observations are the episode's observed events, in order."""
    g = model.state_graph(version, scenario)
    n = g.scenario.threads
    obs = episode.events
    N = len(obs)
    edges = _edges_for(g, episode.capture)
    start = (0, 0, (None,) * (n + 1))
    parent = {start: None}
    depth = {start: 0}
    q = deque([start])
    best = start
    found = None
    while q:
        node = q.popleft()
        u, c, b = node
        if c == N:
            found = node
            break
        if c > best[1] or (c == best[1] and depth[node] > depth[best]):
            best = node
        nxt = []
        x = obs[c]
        if x.state or x.what in STATE_EVENTS:
            b2 = _state_holds(g.states[u], x, b, n)
            if b2 is not None:
                nxt.append(((u, c + 1, b2), Step(None, (c,), u)))
        for e, vis in edges(u):
            if not vis:
                nxt.append(((e.dst, c, b), Step(e, (), e.dst)))
                continue
            if c + len(vis) > N:
                continue
            b2 = b
            for j, o in enumerate(vis):
                y = obs[c + j]
                if y.state or y.what in STATE_EVENTS or y.what != o.what:
                    b2 = None
                    break
                b2 = _bind(b2, _slot(o.subject, n), y.pid)
                if b2 is None:
                    break
            if b2 is not None:
                nxt.append(((e.dst, c + len(vis), b2),
                            Step(e, tuple(range(c, c + len(vis))), e.dst)))
        for node2, step in nxt:
            if node2 not in parent:
                parent[node2] = (node, step)
                depth[node2] = depth[node] + 1
                q.append(node2)
        if len(parent) > max_nodes:
            break
    if found is None:
        # where it got stuck: the first state at the furthest cursor from
        # which the model would show something (else the deepest one)
        c = best[1]
        shows = [nd for nd in parent if nd[1] == c and any(vis for _, vis in edges(nd[0]))]
        if shows:
            best = min(shows, key=lambda nd: depth[nd])
    end = found if found is not None else best
    path = []
    cur = end
    while parent[cur] is not None:
        prev, step = parent[cur]
        path.append(step)
        cur = prev
    path.reverse()
    subj = subjects(n)
    binding = {subj[i]: p for i, p in enumerate(end[2]) if p is not None}
    r = Replay(episode.id, g.kernel.name, g.scenario.key, found is not None, N,
               N if found is not None else end[1], path, g, binding, nodes=len(parent))
    if found is None:
        u, c, _ = end
        r.unexplained, r.unexplained_index = obs[c], c
        r.state = g.states[u]
        r.enabled = [(e.key, e.instance, tuple(str(o) for o in e.observations))
                     for e, _ in edges(u)]
        could = set()
        for nd in parent:
            if nd[1] != c:
                continue
            for e, vis in edges(nd[0]):
                if vis:
                    could.add(f"{vis[0].what}({vis[0].subject}) by {e.key}")
            if g.states[nd[0]].rlist:
                could.add(f"{ev.REAPER_WAKE} (a task on oom_reaper_list)")
        r.could_show = sorted(could)
    return r


def describe_state(s) -> str:
    """A model state in words (threads, __mmput owner, reaper, flags)."""
    th = ", ".join(f"T{i}={PC_NAMES.get(t[0], t[0])}{'+TIF_MEMDIE' if t[1] else ''}"
                   for i, t in enumerate(s.th))
    owner = "-" if s.town < 0 else ("kworker" if s.town == 9 else f"T{s.town}")
    parts = [th, f"__mmput by {owner} at {TP_NAMES.get(s.tpc, s.tpc)}",
             f"mm_users={s.mm_users}", f"aio in flight={s.io}", f"mmap_lock held={s.lockf}",
             f"reaper {R_NAMES.get(s.rpc, s.rpc)} list={list(s.rlist)} timers={list(s.rtimers)}",
             f"mmf={s.mmf:#x}"]
    return "; ".join(parts)
