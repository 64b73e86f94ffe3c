"""Liveness (``P ~> Q``) by strongly connected components under fairness.

Fairness groups are (actor, class) pairs: a weak group that is enabled in
every state of a cycle must be taken on it; a strong group that is enabled
in some state of a cycle must be taken on it; ``none`` transitions carry
no obligation.  Every state may stutter (TLA+-style), so a single state
whose enabled fair groups are all satisfied is a fair lasso by itself
(e.g. everyone blocked on IO that never completes).

A fair SCC inside the not-Q subgraph is found with the Emerson-Lei style
refinement: drop an SCC if a weak group is enabled everywhere in it and
never taken inside; for a strong group enabled somewhere and never taken,
remove the states where it is enabled and recompute SCCs.  The passes
over a property's region (components, backward reachability, the searches
for the counterexample, the step-count bounds) run on the graph's flat edge
arrays (:mod:`oomnb.checker.arrays`): components by scipy, every component
that needs refining refined in the same pass, and the searches following
``g.out`` order, so the counterexamples are those of a plain FIFO search.
:func:`_fair_sccs_networkx` is the one-component-at-a-time reference the
tests compare against.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import partial

import networkx as nx
import numpy as np

from ..kernel.transitions import fairness_of
from .arrays import edge_arrays, fifo_path, reacher, scc_labels


@dataclass
class LeadsTo:
    verdict: str                 # holds | violated | vacuous | out-of-scope
    reason: str = ""
    prefix: list | None = None   # [(src, label, dst)] to the P-state
    middle: list | None = None   # inside not-Q to the fair SCC
    loop: list | None = None     # a cycle inside the fair SCC ([] = stutter)
    bound: dict | None = None    # kind -> max count (None = unbounded)


def label_groups(g, mode: str):
    """label id -> (group id or None, is_strong)."""
    gid = {}
    out = []
    for (t, i, actor, tags) in g.labels:
        f = fairness_of(t, g.kernel, mode)
        if f == "none":
            out.append((None, False))
            continue
        key = (actor, f)
        if key not in gid:
            gid[key] = len(gid)
        out.append((gid[key], f == "strong"))
    return out


def _fair_sccs(nodes, g, lg, allowed_label, edge_ok=None):
    """All fair SCCs (as node sets) of the subgraph induced by ``nodes``
    (only through edges ``edge_ok(u, lid, v)`` accepts, if given; the
    enabled sets always count every edge)."""
    a = edge_arrays(g)
    region = np.zeros(a.n, dtype=bool)
    region[list(nodes)] = True
    emask = None
    if edge_ok is not None:       # asked only about the edges inside the region
        emask = region[a.src] & region[a.dst]
        sel = np.flatnonzero(emask)
        emask[sel] = np.fromiter((edge_ok(u, lid, v) for u, v, lid in
                                  zip(a.src[sel].tolist(), a.dst[sel].tolist(),
                                      a.lid[sel].tolist())), dtype=bool, count=len(sel))
    fid, _ = _fair_ids(a, region, lg, allowed_label, emask)
    sel = np.flatnonzero(fid >= 0)
    comps = {}
    for u, c in zip(sel.tolist(), fid[sel].tolist()):
        comps.setdefault(c, set()).add(u)
    return list(comps.values())


def _group_bits(a, lg):
    """Fairness groups as bit masks: per edge (m x W words), per state the
    groups enabled there (n x W), and the weak / strong group masks (W)."""
    ng = max((grp + 1 for grp, _ in lg if grp is not None), default=0)
    W = max(1, (ng + 63) // 64)
    lbits = np.zeros((len(lg) + 1, W), dtype=np.uint64)
    weak = np.zeros(W, dtype=np.uint64)
    strong = np.zeros(W, dtype=np.uint64)
    for lid, (grp, st) in enumerate(lg):
        if grp is None:
            continue
        b = np.uint64(1) << np.uint64(grp % 64)
        lbits[lid, grp // 64] |= b
        if st:
            strong[grp // 64] |= b
        else:
            weak[grp // 64] |= b
    ebits = lbits[a.lid] if len(a.lid) else np.zeros((0, W), dtype=np.uint64)
    en = np.zeros((a.n, W), dtype=np.uint64)
    rows = np.flatnonzero(a.ptr[1:] > a.ptr[:-1])
    if len(rows):
        en[rows] = np.bitwise_or.reduceat(ebits, a.ptr[rows], axis=0)
    return ebits, en, weak, strong


def _fair_ids(a, region, lg, allowed_label, emask=None):
    """The fair SCCs of the subgraph induced by ``region`` (a bool mask),
    through the allowed edges (and ``emask``, if given): ``fid[u]`` is the
    fair SCC of ``u`` (-1: none).  Also returns the SCC labels of the first
    decomposition (of the whole region), which the bound reuses.

    All components are refined together: a component that needs its
    strong-fairness states removed is decomposed again with the others
    (no cycle spans two components, so this is the per-component
    refinement, done in one pass)."""
    n = a.n
    src, dst = a.src, a.dst
    ebits, en, weak, strong = _group_bits(a, lg)
    W = len(weak)
    allowed_e = np.asarray(allowed_label, dtype=bool)[a.lid] if len(a.lid) else \
        np.zeros(0, dtype=bool)
    inside = allowed_e & region[src] & region[dst]
    if emask is not None:
        inside &= emask
    fid = np.full(n, -1, dtype=np.int64)
    active = region.copy()
    first = None
    offset = 0
    ones = ~np.uint64(0)
    while True:
        em = inside & active[src] & active[dst]
        lab = scc_labels(a, em)
        if first is None:
            first = lab
        nodes = np.flatnonzero(active)
        if not len(nodes):
            break
        comp = lab[nodes]
        nc = int(lab.max()) + 1
        same = em & (lab[src] == lab[dst])
        ce = lab[src[same]]
        cb = ebits[same]
        taken = np.zeros((nc, W), dtype=np.uint64)
        en_all = np.full((nc, W), ones, dtype=np.uint64)
        en_any = np.zeros((nc, W), dtype=np.uint64)
        en_n = en[nodes]
        for w in range(W):
            tw, aw, yw = taken[:, w], en_all[:, w], en_any[:, w]
            np.bitwise_or.at(tw, ce, cb[:, w])
            np.bitwise_and.at(aw, comp, en_n[:, w])
            np.bitwise_or.at(yw, comp, en_n[:, w])
        free = ~taken
        weak_bad = ((en_all & weak & free) != 0).any(axis=1)
        bad_strong = en_any & strong & free
        ok = ~weak_bad
        is_fair = ok & ~(bad_strong != 0).any(axis=1)
        fair_nodes = nodes[is_fair[comp]]
        fid[fair_nodes] = lab[fair_nodes] + offset
        offset += nc
        refine = ok & ~is_fair
        sel = refine[comp]
        cand, ccomp = nodes[sel], comp[sel]
        keep = ~((en[cand] & bad_strong[ccomp]) != 0).any(axis=1)
        active = np.zeros(n, dtype=bool)
        active[cand[keep]] = True
        if not keep.any():
            break
    return fid, first


def _fair_sccs_networkx(nodes, g, lg, allowed_label, edge_ok=None):
    """Reference implementation of :func:`_fair_sccs` with networkx (one
    component at a time); tests check that both agree."""
    en = {}
    for u in nodes:
        e = set()
        for v, lid in g.out[u]:
            grp, strong = lg[lid]
            if grp is not None:
                e.add((grp, strong))
        en[u] = e
    fair = []
    work = [set(nodes)]
    while work:
        S = work.pop()
        G = nx.DiGraph()
        G.add_nodes_from(S)
        for u in S:
            for v, lid in g.out[u]:
                if v in S and allowed_label[lid] and (edge_ok is None or edge_ok(u, lid, v)):
                    G.add_edge(u, v, lid=lid)
        for C in nx.strongly_connected_components(G):
            taken = set()
            for u in C:
                for v, lid in g.out[u]:
                    if v in C and allowed_label[lid] and lg[lid][0] is not None \
                            and (edge_ok is None or edge_ok(u, lid, v)):
                        taken.add(lg[lid][0])
            it = iter(C)
            first = next(it)
            en_all = set(en[first])
            en_any = set(en[first])
            for u in it:
                en_all &= en[u]
                en_any |= en[u]
            if any((not strong) and grp not in taken for grp, strong in en_all):
                continue
            bad_strong = {grp for grp, strong in en_any if strong and grp not in taken}
            if not bad_strong:
                fair.append(C)
                continue
            rest = {u for u in C if not any(grp in bad_strong for grp, st in en[u] if st)}
            if rest:
                work.append(rest)
    return fair


def _cycle(g, C, start, allowed_label):
    """A cycle start -> ... -> start inside C (empty list = stutter)."""
    for v, lid in g.out[start]:
        if v == start and allowed_label[lid]:
            return [(start, lid, start)]
    if len(C) == 1:
        return []
    prev = {}
    q = deque([start])
    seen = {start}
    while q:
        u = q.popleft()
        for v, lid in g.out[u]:
            if v in C and allowed_label[lid]:
                if v == start:
                    path = [(u, lid, v)]
                    while u != start:
                        pu, pl = prev[u]
                        path.append((pu, pl, u))
                        u = pu
                    return path[::-1]
                if v not in seen:
                    seen.add(v)
                    prev[v] = (u, lid)
                    q.append(v)
    return []


def _bound(g, pnodes, allowed_label, weights, scc=None):
    """Longest path (per weight kind) inside P before leaving it; None = unbounded.
    Computed by the one bound engine (:func:`oomnb.bounds.engine.step_counts`),
    which also derives the symbolic time bounds.  ``scc``: the region's SCC
    labels, if already computed."""
    from ..bounds.engine import step_counts
    return step_counts(g, pnodes, allowed_label, weights, scc=scc)


WEIGHTS = {
    "attempt": lambda lab: 1 if lab[0].key == "reap_attempt" else 0,
    "timer": lambda lab: 1 if lab[0].kind == "timer" else 0,
    "sleep": lambda lab: 1 if lab[0].key == "reap_sleep" else 0,
    "pm_timer": lambda lab: 1 if lab[0].key in ("freeze_timeout",
                                                "oom_killer_disable_timeout") else 0,
}


def _mask(g, pred, states=None) -> np.ndarray:
    """``pred(kernel, scenario, state)`` of every state (of ``states``, ids)."""
    f = partial(pred, g.kernel, g.scenario)
    if states is None:
        return np.fromiter(map(f, g.states), dtype=bool, count=len(g.states))
    st = g.states
    return np.fromiter(map(f, [st[u] for u in states.tolist()]), dtype=bool, count=len(states))


def check_leadsto(g, prop, mode: str = "standard") -> LeadsTo:
    k, sc = g.kernel, g.scenario
    if prop.out_of_scope is not None:
        why = prop.out_of_scope(sc)
        if why:
            return LeadsTo("out-of-scope", why)
    lg = label_groups(g, mode)
    allowed = [lab[0].key not in prop.exclude for lab in g.labels]
    # states that violate an invariant were not expanded (TLC-style); they are
    # left out of the liveness analysis rather than counted as deadlocks
    notq = ~_mask(g, prop.Q)
    if g.errors:
        notq[np.fromiter(g.errors, dtype=np.int64, count=len(g.errors))] = False
    # P where it matters (not-Q states), then whether it holds anywhere at all
    pnodes = np.zeros(len(notq), dtype=bool)
    cand = np.flatnonzero(notq)
    pnodes[cand[_mask(g, prop.P, cand)]] = True
    if not pnodes.any() and not any(map(partial(prop.P, k, sc), g.states)):
        return LeadsTo("vacuous", "P never holds")
    weights = {kk: WEIGHTS[kk] for kk in prop.bound.split("+") if kk}
    a = edge_arrays(g)
    fid, scc = _fair_ids(a, notq, lg, allowed)
    fair = fid >= 0
    # bounds only mean something where the property holds
    if not fair.any():
        bound = _bound(g, notq, allowed, weights, scc) if weights else None
        return LeadsTo("holds", bound=bound)
    # backward reachability inside not-Q
    allowed_e = np.asarray(allowed, dtype=bool)[a.lid]
    inside = allowed_e & notq[a.src] & notq[a.dst]
    can = reacher(a, inside, backward=True)(fair)
    starts = pnodes & can
    if prop.exclude:
        # the path restriction holds from the start: only states reachable
        # without the excluded transitions count
        init = np.zeros(a.n, dtype=bool)
        init[0] = True
        starts &= reacher(a, allowed_e)(init)
    if not starts.any():
        fair_b = _bound(g, notq, allowed, weights, scc) if weights else None
        return LeadsTo("holds", bound=fair_b)
    idx = np.flatnonzero(starts)
    depth = np.fromiter((g.depth[u] for u in idx.tolist()), dtype=np.int64, count=len(idx))
    best = int(idx[np.argmin(depth)])            # smallest (depth, id)
    prefix = g.path_to(best)
    if any(not allowed[lid] for _, lid, _ in prefix):
        # the shortest path without the excluded transitions (best is reachable so)
        target = np.zeros(a.n, dtype=bool)
        target[best] = True
        prefix = fifo_path(a, allowed_e, 0, target)
    # the shortest path inside not-Q to the first fair state a search meets
    middle = fifo_path(a, inside, best, fair)
    end = middle[-1][2] if middle else best
    C = set(np.flatnonzero(fid == fid[end]).tolist())
    loop = _cycle(g, C, end, allowed)
    return LeadsTo("violated", prefix=prefix, middle=middle, loop=loop, bound=None)
