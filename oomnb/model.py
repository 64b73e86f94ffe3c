"""The kernel model as a library: state graphs, replays, scenario map.

One model serves the checker, the bounds, the simulator and the trace
conformance check.  This module is the surface they (and a user's own
notebook) build on::

    from oomnb import model
    g = model.state_graph("v6.18", "aio-blocked")     # explored, cached
    for e in g.edges():                                # every explored step
        e.transition.key, e.actor, e.observations, e.delay
    nxg = g.to_networkx()                              # networkx.MultiDiGraph
    end = model.replay("v4.9", "aio-blocked", [("out_of_memory", None), ...])
    model.SCENARIOS["aio-blocked"].model              # collector -> model scenario

Edges carry the transition (named after the kernel function), the
instance (thread index, timer), the actor, the abstract observations with
the lines the version emits for them (:mod:`oomnb.kernel.observe`), and
the delay class (:mod:`oomnb.kernel.timing`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .errors import OomnbError
from .kernel.observe import Observation, observe
from .kernel.scenario import Scenario, parse_scenario
from .kernel.transitions import BY_KEY, initial_state
from .kernel.versions import load_kernel


def _kernel(k):
    return load_kernel(k) if isinstance(k, str) else k


def _scenario(sc):
    return parse_scenario(sc) if isinstance(sc, str) else sc


@dataclass(frozen=True)
class Edge:
    src: int
    dst: int
    transition: object          # oomnb.kernel.transitions.Transition
    instance: object
    actor: str
    tags: frozenset
    observations: tuple         # of Observation
    delay: object               # oomnb.kernel.timing.Delay

    @property
    def key(self) -> str:
        return self.transition.key


class StateGraph:
    """The explored reachable graph of one (kernel, scenario).

    ``states[i]`` is a :class:`oomnb.kernel.State`; state 0 is initial;
    :meth:`edges` yields every explored step as an :class:`Edge`."""

    def __init__(self, graph):
        self.raw = graph                 # oomnb.checker.explore.Graph
        self.kernel = graph.kernel
        self.scenario = graph.scenario
        self.states = graph.states
        self.index = graph.index
        self._obs = {}

    def __len__(self):
        return len(self.states)

    @property
    def n_edges(self) -> int:
        return self.raw.n_edges

    def out_edges(self, u: int):
        g, k = self.raw, self.kernel
        for v, lid in g.out[u]:
            t, i, actor, tags = g.labels[lid]
            key = (u, v, lid)
            obs = self._obs.get(key)
            if obs is None:
                obs = self._obs[key] = observe(k, t, i, self.states[u], self.states[v], tags)
            yield Edge(u, v, t, i, actor, tags, obs, t.delay)

    def edges(self):
        for u in range(len(self.states)):
            yield from self.out_edges(u)

    def to_networkx(self):
        """A ``networkx.MultiDiGraph``: nodes are state ids (attribute
        ``state``), edges carry ``transition``, ``instance``, ``actor``,
        ``observations``, ``lines`` and ``delay``."""
        import networkx as nx
        G = nx.MultiDiGraph(kernel=self.kernel.name, scenario=self.scenario.key)
        for i, s in enumerate(self.states):
            G.add_node(i, state=s)
        for e in self.edges():
            G.add_edge(e.src, e.dst, transition=e.key, instance=e.instance, actor=e.actor,
                       observations=tuple(o.what for o in e.observations),
                       lines=tuple(n for o in e.observations for n in o.lines), delay=e.delay)
        return G


@functools.lru_cache(maxsize=64)
def _explore(k, sc):
    from .checker.explore import explore
    from .kernel.properties import PROPERTIES
    return StateGraph(explore(k, sc, PROPERTIES))


def state_graph(kernel, scenario) -> StateGraph:
    """Explore (once per process) and return the state graph of
    ``kernel`` (a name, a ``FILE.py`` or a :class:`Kernel`) in
    ``scenario`` (a string such as ``"aio-blocked+suspend/2t"`` or a
    :class:`Scenario`)."""
    return _explore(_kernel(kernel), _scenario(scenario))


class ReplayError(OomnbError):
    """A step of a replay is not enabled where it is taken."""

    def __init__(self, n, key, why, state=None, enabled=()):
        super().__init__(f"step {n} {key}: {why}")
        self.n, self.key, self.state, self.enabled = n, key, state, tuple(enabled)


def _enabled(k, sc, s) -> list:
    from .kernel.transitions import successors
    return sorted({(t.key, i) for t, i, _, _ in successors(k, sc, s)}, key=str)


def replay(kernel, scenario, steps, start=None):
    """Replay ``steps`` from the initial state (or ``start``) and return
    ``(final_state, [(step, observations), ...])``.

    A step is a checker :class:`~oomnb.checker.run.Step` (its recorded
    ``pre``/``post`` states are checked too) or a ``(transition key,
    instance)`` pair (where a step is nondeterministic, the first
    successor is taken).  Raises :class:`ReplayError` naming the first
    step that is not enabled, with the transitions that were."""
    k, sc = _kernel(kernel), _scenario(scenario)
    s = initial_state(k, sc) if start is None else start
    trail = []
    for n, st in enumerate(steps, 1):
        if isinstance(st, tuple):
            key, inst, post = st[0], st[1], None
        else:
            key, inst, post = st.key, st.instance, st.post
            if st.pre is not None and st.pre != s:
                raise ReplayError(getattr(st, "n", n), key,
                                  "does not start where the previous step ended", s)
        t = BY_KEY.get(key)
        if t is None:
            raise ReplayError(n, key, "no such transition", s)
        outs = t.fire(k, sc, s, inst)
        if not outs:
            raise ReplayError(getattr(st, "n", n), key, "not enabled", s, _enabled(k, sc, s))
        if post is not None:
            match = [(s2, tg) for s2, tg in outs if s2 == post]
            if not match:
                raise ReplayError(getattr(st, "n", n), key, "does not lead to the recorded state", s)
            s2, tags = match[0]
        else:
            s2, tags = outs[0]
        trail.append((st, observe(k, t, inst, s, s2, tags)))
        s = s2
    return s, trail


# --- the collector's scenarios and the model's -----------------------------

@dataclass(frozen=True)
class ScenarioMap:
    collector: str            # oomnb collect --scenario NAME
    model: str | None         # model scenario string, None if there is no counterpart
    note: str = ""

    def scenario(self, threads: int | None = None) -> Scenario | None:
        return None if self.model is None else parse_scenario(self.model, threads)


SCENARIOS = {m.collector: m for m in (
    ScenarioMap("aio-blocked", "aio-blocked",
                "the victim's last mmput waits in exit_aio for throttled AIO"),
    ScenarioMap("dstate-thread", "dstate-thread",
                "one thread sits in uninterruptible IO holding an mm_users reference"),
    ScenarioMap("fast-exit", "fast-exit", "nothing blocks the victim's exit"),
    ScenarioMap("reaper-trylock-failure", "mmap-lock",
                "the mmap lock is held (reader with a waiting writer), so the reaper's "
                "trylock fails until it is released"),
    ScenarioMap("suspend-dstate", "dstate-thread+suspend",
                "a thread in uninterruptible IO, then the kernel's suspend test "
                "(freeze_processes, oom_killer_disable, thaw_processes)"),
    ScenarioMap("frozen-victim", "fast-exit",
                "the victim sits in a frozen cgroup that the collector never thaws, and on "
                "the recording kernel (6.18) mark_oom_victim thaws the whole victim, so "
                "its exit is unblocked: replayed as an exit that nothing blocks (the "
                "model's cgroup-frozen token is the harder case of a victim that stays "
                "frozen, used for the frozen_sibling_exit property)"),
)}


def model_scenario(collector_scenario: str, threads: int | None = None) -> Scenario | None:
    """The model scenario a collector scenario is replayed in, or None."""
    m = SCENARIOS.get(collector_scenario)
    return None if m is None else m.scenario(threads)


__all__ = ["Edge", "StateGraph", "state_graph", "replay", "ReplayError", "ScenarioMap",
           "SCENARIOS", "model_scenario", "Observation"]
