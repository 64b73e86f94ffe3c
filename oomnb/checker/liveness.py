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
remove the states where it is enabled and recompute SCCs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import networkx as nx

from ..kernel.transitions import fairness_of


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


def _bfs_within(g, src, targets, inside, allowed_label):
    """Shortest path src -> any target staying inside ``inside``."""
    if src in targets:
        return []
    prev = {src: None}
    q = deque([src])
    while q:
        u = q.popleft()
        for v, lid in g.out[u]:
            if v in inside and v not in prev and allowed_label[lid]:
                prev[v] = (u, lid)
                if v in targets:
                    path = []
                    while prev[v] is not None:
                        pu, pl = prev[v]
                        path.append((pu, pl, v))
                        v = pu
                    return path[::-1]
                q.append(v)
    return None


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


def _bound(g, pnodes, allowed_label, weights):
    """Longest path (per weight kind) inside P before leaving it; None = unbounded.
    Computed by the one bound engine (:func:`oomnb.bounds.engine.step_counts`),
    which also derives the symbolic time bounds."""
    from ..bounds.engine import step_counts
    return step_counts(g, pnodes, allowed_label, weights)


WEIGHTS = {
    "attempt": lambda lab: 1 if lab[0].key == "reap_attempt" else 0,
    "timer": lambda lab: 1 if lab[0].kind == "timer" else 0,
    "sleep": lambda lab: 1 if lab[0].key == "reap_sleep" else 0,
    "pm_timer": lambda lab: 1 if lab[0].key in ("freeze_timeout",
                                                "oom_killer_disable_timeout") else 0,
}


def check_leadsto(g, prop, mode: str = "standard") -> LeadsTo:
    k, sc = g.kernel, g.scenario
    if prop.out_of_scope is not None:
        why = prop.out_of_scope(sc)
        if why:
            return LeadsTo("out-of-scope", why)
    lg = label_groups(g, mode)
    allowed = [lab[0].key not in prop.exclude for lab in g.labels]
    P = [prop.P(k, sc, s) for s in g.states]
    if not any(P):
        return LeadsTo("vacuous", "P never holds")
    # states that violate an invariant were not expanded (TLC-style); they are
    # left out of the liveness analysis rather than counted as deadlocks
    notq = {u for u, s in enumerate(g.states) if not prop.Q(k, sc, s) and u not in g.errors}
    weights = {kk: WEIGHTS[kk] for kk in prop.bound.split("+") if kk}
    pnodes = {u for u in notq if P[u]} if prop.Q is not None else set()
    fair = _fair_sccs(notq, g, lg, allowed)
    # bounds only mean something where the property holds
    bound = _bound(g, notq, allowed, weights) if weights and not fair else None
    if not fair:
        return LeadsTo("holds", bound=bound)
    fair_nodes = set().union(*fair)
    # backward reachability inside not-Q
    rev = {}
    for u in notq:
        for v, lid in g.out[u]:
            if v in notq and allowed[lid]:
                rev.setdefault(v, []).append(u)
    can = set(fair_nodes)
    q = deque(fair_nodes)
    while q:
        v = q.popleft()
        for u in rev.get(v, ()):
            if u not in can:
                can.add(u)
                q.append(u)
    starts = [u for u in pnodes if u in can]
    if prop.exclude:
        # the path restriction holds from the start: only states reachable
        # without the excluded transitions count
        reach = _reachable(g, allowed)
        starts = [u for u in starts if u in reach]
    if not starts:
        fair_b = _bound(g, notq, allowed, weights) if weights else None
        return LeadsTo("holds", bound=fair_b)
    best = min(starts, key=lambda u: (g.depth[u], u))
    prefix = g.path_to(best)
    if any(not allowed[lid] for _, lid, _ in prefix):
        prefix = _path_avoiding(g, best, allowed)
    middle = _bfs_within(g, best, fair_nodes, notq, allowed)
    end = middle[-1][2] if middle else best
    C = next(c for c in fair if end in c)
    loop = _cycle(g, C, end, allowed)
    return LeadsTo("violated", prefix=prefix, middle=middle, loop=loop, bound=bound)


def _path_avoiding(g, target, allowed):
    prev = {0: None}
    q = deque([0])
    while q:
        u = q.popleft()
        if u == target:
            break
        for v, lid in g.out[u]:
            if v not in prev and allowed[lid]:
                prev[v] = (u, lid)
                q.append(v)
    if target not in prev:
        return None
    path = []
    v = target
    while prev[v] is not None:
        u, lid = prev[v]
        path.append((u, lid, v))
        v = u
    return path[::-1]


def _reachable(g, allowed) -> set:
    seen = {0}
    q = deque([0])
    while q:
        u = q.popleft()
        for v, lid in g.out[u]:
            if v not in seen and allowed[lid]:
                seen.add(v)
                q.append(v)
    return seen
