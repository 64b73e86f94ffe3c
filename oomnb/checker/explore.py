"""Explicit-state breadth-first exploration with a visited set.

Builds the whole reachable graph of one (kernel, scenario): states,
labelled edges, BFS parent pointers (so the first violation found is a
shortest counterexample) and depths.  Safety properties (invariants and
step properties) are checked on the fly; liveness works on the stored
graph afterwards (:mod:`oomnb.checker.liveness`).
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass, field

from ..kernel.transitions import initial_state, transitions_for

NONE_I = (None,)


@dataclass
class Graph:
    kernel: object
    scenario: object
    states: list
    index: dict
    parent: list                 # parent state id (-1 for the initial state)
    parent_label: list           # label id of the edge from the parent
    depth: list
    out: list                    # out[u] = list of (v, label id)
    labels: list                 # label id -> (transition, instance, actor, tags)
    generated: int = 0           # successor states generated (with duplicates)
    seconds: float = 0.0
    safety: dict = field(default_factory=dict)       # prop name -> (state id, label, dst) | None
    antecedent: dict = field(default_factory=dict)   # prop name -> bool
    errors: set = field(default_factory=set)         # invariant-violating states (not expanded)

    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def n_edges(self) -> int:
        return sum(len(o) for o in self.out)

    @property
    def max_depth(self) -> int:
        return max(self.depth) + 1 if self.depth else 0

    def path_to(self, sid: int) -> list:
        """[(src, label, dst), ...] from the initial state to ``sid``."""
        steps = []
        while self.parent[sid] >= 0:
            p = self.parent[sid]
            steps.append((p, self.parent_label[sid], sid))
            sid = p
        steps.reverse()
        return steps


def explore(kernel, scenario, props=(), progress: bool = False) -> Graph:
    """Explore every interleaving; check ``props`` (safety ones) on the fly."""
    t0 = time.perf_counter()
    trans = transitions_for(kernel)
    init = initial_state(kernel, scenario)
    states = [init]
    index = {init: 0}
    parent, plabel, depth = [-1], [-1], [0]
    out = []
    labels, label_id = [], {}
    inv = [p for p in props if p.shape == "invariant"]
    edg = [p for p in props if p.shape == "edge"]
    safety = {p.name: None for p in inv + edg}
    ante = {p.name: False for p in props}
    ante_state = [p for p in props if p.antecedent_state is not None]
    ante_edge = [p for p in edg if p.antecedent_edge is not None]
    k, sc = kernel, scenario

    errors = set()

    def check_state(sid, s):
        for p in inv:
            if p.bad_state(k, sc, s):
                errors.add(sid)
                if safety[p.name] is None:
                    safety[p.name] = (sid, None, None)
        for p in ante_state:
            if not ante[p.name] and p.antecedent_state(k, sc, s):
                ante[p.name] = True

    check_state(0, init)
    bar = None
    if progress and sys.stderr.isatty():
        try:
            from tqdm import tqdm
            bar = tqdm(desc=f"{kernel.name} {scenario.key}", unit=" states", file=sys.stderr,
                       leave=False)
        except ImportError:  # pragma: no cover
            bar = None
    q = deque([0])
    generated = 0
    thread_ranges = {n: tuple(range(n)) for n in range(1, 8)}
    while q:
        u = q.popleft()
        s = states[u]
        du = depth[u]
        edges = []
        if u in errors:            # TLC-style: an invariant violation is not explored further
            out.append(edges)
            continue
        threads = thread_ranges[len(s.th)]
        for t in trans:
            per = t.per
            insts = NONE_I if per == "none" else (threads if per == "thread"
                                                  else t.instances(k, sc, s))
            for i in insts:
                res = t.fire(k, sc, s, i)
                if not res:
                    continue
                actor = t.actor_of(s, i)
                for s2, tags in res:
                    generated += 1
                    lk = (t.key, i, actor, tags)
                    lid = label_id.get(lk)
                    if lid is None:
                        lid = label_id[lk] = len(labels)
                        labels.append((t, i, actor, tags))
                    v = index.get(s2)
                    if v is None:
                        v = index[s2] = len(states)
                        states.append(s2)
                        parent.append(u)
                        plabel.append(lid)
                        depth.append(du + 1)
                        q.append(v)
                        check_state(v, s2)
                    edges.append((v, lid))
                    for p in edg:
                        if safety[p.name] is None and p.bad_edge(k, sc, s, actor, t, tags, s2):
                            safety[p.name] = (u, lid, v)
                    for p in ante_edge:
                        if not ante[p.name] and p.antecedent_edge(k, sc, s, actor, t, tags, s2):
                            ante[p.name] = True
        out.append(edges)
        if bar is not None and len(states) % 1000 == 0:
            bar.update(1000)
    if bar is not None:
        bar.close()
    g = Graph(kernel, scenario, states, index, parent, plabel, depth, out, labels, generated,
              time.perf_counter() - t0, safety, ante, errors)
    return g
