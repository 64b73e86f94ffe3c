"""The one bound engine: longest paths with vector weights in an explored graph.

A weight is a :class:`collections.Counter` (what is counted -> how many
times: a step kind for the checker's step counts, a
:class:`~oomnb.kernel.timing.Delay` for time).  Every counted quantity is
non-negative, so a path's total is a vector and "longest" is the set of
totals no other total dominates (a Pareto frontier); the worst case is
then the component-wise maximum (step counts) or ``Max`` of the frontier's
sums (symbolic time).

The region is a set of states (where a property's antecedent holds and
its consequent does not yet); a path leaves it by any edge out of it.  A
strongly connected component of the region with a counted edge inside is
a cycle that can be repeated, so the bound is infinite (:class:`Unbounded`
names that cycle).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import networkx as nx
import numpy as np


@dataclass(frozen=True)
class Unbounded:
    """A counted cycle inside the region: ``edges`` are (src, label id, dst)."""

    edges: tuple

    def __bool__(self):
        return False


def _key(c: Counter) -> tuple:
    return tuple(sorted(((str(k), v) for k, v in c.items() if v), key=lambda x: x[0]))


def _dominated(a: Counter, b: Counter) -> bool:
    """Is ``a`` <= ``b`` component-wise?"""
    return all(b.get(k, 0) >= v for k, v in a.items())


def pareto(items) -> list:
    """The totals no other total dominates (duplicates removed)."""
    uniq = {}
    for c in items:
        uniq.setdefault(_key(c), c)
    cands = sorted(uniq.values(), key=lambda c: -sum(c.values()))
    out = []
    for c in cands:
        if not any(_dominated(c, o) for o in out):
            out.append(c)
    return out


def longest(g, nodes, allowed, weight):
    """Longest paths from every state of ``nodes`` until the region is left.

    ``g`` is a checker graph (``g.out[u] = [(v, label id)]``), ``allowed``
    a per-label list of booleans (path restrictions), ``weight(u, lid, v)``
    a Counter (empty = not counted).  Returns ``{state: frontier}`` where a
    frontier is a list of Counters, or :class:`Unbounded` with a counted
    cycle."""
    nodes = set(nodes)
    G = nx.DiGraph()
    G.add_nodes_from(nodes)
    w = {}
    inner = []
    for u in nodes:
        for v, lid in g.out[u]:
            if not allowed[lid]:
                continue
            c = weight(u, lid, v)
            w[(u, lid, v)] = c
            if v in nodes:
                inner.append((u, v))
    G.add_edges_from(inner)
    cond = nx.condensation(G)
    member = cond.graph["mapping"]
    for (u, lid, v), c in w.items():
        if v in nodes and member[u] == member[v] and any(c.values()):
            return Unbounded(_cycle_through(g, nodes, allowed, member, u, lid, v))
    best = {}
    for comp in reversed(list(nx.topological_sort(cond))):
        members = cond.nodes[comp]["members"]
        # inside a component every counted weight is zero: one frontier for all
        tails = []
        for u in members:
            for v, lid in g.out[u]:
                if not allowed[lid]:
                    continue
                c = w[(u, lid, v)]
                if v in nodes and member[v] == comp:
                    continue
                if v in nodes:
                    tails += [c + f for f in best[v]] if c else best[v]
                else:
                    tails.append(c)
        front = pareto(tails) if tails else [Counter()]
        for u in members:
            best[u] = front
    return best


def _cycle_through(g, nodes, allowed, member, u, lid, v):
    """A cycle u -lid-> v -> ... -> u inside u's component."""
    from collections import deque
    comp = member[u]
    prev = {v: None}
    q = deque([v])
    while q:
        x = q.popleft()
        if x == u:
            break
        for y, l2 in g.out[x]:
            if allowed[l2] and y in nodes and member.get(y) == comp and y not in prev:
                prev[y] = (x, l2)
                q.append(y)
    path = []
    x = u
    while prev.get(x) is not None:
        px, pl = prev[x]
        path.append((px, pl, x))
        x = px
    return ((u, lid, v),) + tuple(reversed(path))


def worst(best, starts) -> list:
    """The frontier over ``starts`` (Pareto of their frontiers)."""
    return pareto([c for s in starts for c in best.get(s, [Counter()])])


def step_counts(g, nodes, allowed, kinds: dict, scc=None) -> dict:
    """The checker's step-count bounds: per kind the largest number of
    steps of that kind on a path inside ``nodes`` (``None`` = unbounded).
    ``kinds`` maps a kind name to ``label -> 0/1``; ``nodes`` is a set of
    states or a bool mask; ``scc``: the SCC labels of the region (through
    the allowed edges), if the caller has them.

    The same longest paths as :func:`longest` with one-kind weights, on the
    graph's flat arrays (:mod:`oomnb.checker.arrays`): a counted edge inside
    a strongly connected component is an unbounded cycle; otherwise the
    states with at least ``j`` counted steps ahead are those that reach,
    inside the region, a counted edge into a state with at least ``j - 1``
    (any counted edge for ``j = 1``), one backward search per ``j``."""
    from ..checker.arrays import edge_arrays, reacher, scc_labels
    a = edge_arrays(g)
    if isinstance(nodes, np.ndarray) and nodes.dtype == bool:
        region = nodes
    else:
        region = np.zeros(a.n, dtype=bool)
        region[list(nodes)] = True
    src, dst = a.src, a.dst
    allowed_e = np.asarray(allowed, dtype=bool)[a.lid] if len(a.lid) else np.zeros(0, bool)
    out_e = allowed_e & region[src]
    int_e = out_e & region[dst]
    res = {}
    same = back = None
    for kind, f in kinds.items():
        ind = np.fromiter((bool(f(lab)) for lab in g.labels), dtype=bool, count=len(g.labels))
        counted = out_e & ind[a.lid] if len(a.lid) else out_e
        if not counted.any():
            res[kind] = 0
            continue
        if same is None:
            lab = scc if scc is not None else scc_labels(a, int_e)
            same = int_e & (lab[src] == lab[dst])
        if (counted & same).any():
            res[kind] = None
            continue
        if back is None:
            back = reacher(a, int_e, backward=True)
        level, seeds_e = 0, counted
        while seeds_e.any():
            seeds = np.zeros(a.n, dtype=bool)
            seeds[src[seeds_e]] = True
            ahead = back(seeds)
            level += 1
            seeds_e = counted & ahead[dst]
        res[kind] = level
    return res
