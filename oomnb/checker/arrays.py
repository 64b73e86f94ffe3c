"""The explored graph as flat arrays, for the whole-graph passes of liveness.

``g.out[u]`` (lists of ``(v, label id)``) is what exploration builds and what
path searches walk; the passes that touch every edge of a property's region
(strongly connected components, backward reachability, step-count bounds)
run on a compressed-sparse-row copy instead: ``ptr`` (state -> first edge),
``src``, ``dst`` and ``lid`` per edge, in the order of ``g.out`` (so edge
order, and every search that depends on it, is unchanged).  The copy is
built once per graph and kept on it.

Components and reachability are computed by :mod:`scipy.sparse.csgraph`
(compiled code); tests/test_checker_liveness.py checks them against the
networkx reference on explored graphs.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components


@dataclass
class EdgeArrays:
    n: int
    ptr: np.ndarray      # int64, n + 1
    src: np.ndarray      # int32 per edge
    dst: np.ndarray      # int32 per edge
    lid: np.ndarray      # int32 per edge
    _by_dst: np.ndarray | None = None

    @property
    def by_dst(self) -> np.ndarray:
        """Edge ids sorted by destination (stable): the reversed graph's order."""
        if self._by_dst is None:
            self._by_dst = np.argsort(self.dst, kind="stable")
        return self._by_dst


def edge_arrays(g) -> EdgeArrays:
    """The CSR copy of ``g.out`` (cached on ``g``)."""
    out = g.out
    c = getattr(g, "_edge_arrays", None)
    if c is not None and c[0] is out and c[1] == len(out):
        return c[2]
    n = len(out)
    deg = np.fromiter(map(len, out), dtype=np.int64, count=n)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg, out=ptr[1:])
    m = int(ptr[-1])
    flat = np.fromiter(chain.from_iterable(chain.from_iterable(out)), dtype=np.int32,
                       count=2 * m).reshape(m, 2)
    src = np.repeat(np.arange(n, dtype=np.int32), deg)
    arr = EdgeArrays(n, ptr, src, np.ascontiguousarray(flat[:, 0]),
                     np.ascontiguousarray(flat[:, 1]))
    try:
        g._edge_arrays = (out, n, arr)
    except AttributeError:      # pragma: no cover - a graph object without a __dict__
        pass
    return arr


def _matrix(n: int, src: np.ndarray, dst: np.ndarray) -> csr_matrix:
    """An ``n`` x ``n`` adjacency matrix of the edges ``src -> dst`` (``src`` sorted)."""
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return csr_matrix((np.ones(len(dst), dtype=np.int8), dst.astype(np.int32, copy=False),
                       indptr), shape=(n, n))


def scc_labels(a: EdgeArrays, emask: np.ndarray) -> np.ndarray:
    """Strongly connected component of every state in the subgraph of the
    edges ``emask`` selects.  An edge between two components goes from the
    higher label to the lower one (checked: callers rely on it as a
    topological order)."""
    _, lab = connected_components(_matrix(a.n, a.src[emask], a.dst[emask]), directed=True,
                                  connection="strong")
    return lab


def reacher(a: EdgeArrays, emask: np.ndarray, backward: bool = False):
    """A function ``seeds -> reached``: the states reachable from the
    ``seeds`` (a bool mask) through the edges ``emask`` selects (against
    their direction with ``backward``).  The subgraph is prepared once."""
    n = a.n
    if backward:
        order = a.by_dst
        keep = emask[order]
        s, d = a.dst[order][keep], a.src[order][keep]
    else:
        s, d = a.src[emask], a.dst[emask]
    d = d.astype(np.int32, copy=False)
    indptr = np.zeros(n + 2, dtype=np.int64)
    np.cumsum(np.bincount(s, minlength=n), out=indptr[1:n + 1])

    def run(seeds: np.ndarray) -> np.ndarray:
        # one extra vertex n with an edge to every seed: one search from it
        roots = np.flatnonzero(seeds).astype(np.int32)
        ip = indptr.copy()
        ip[n + 1] = ip[n] + len(roots)
        idx = np.concatenate([d, roots])
        m = csr_matrix((np.ones(len(idx), dtype=np.int8), idx, ip), shape=(n + 1, n + 1))
        order = breadth_first_order(m, n, directed=True, return_predecessors=False)
        res = np.zeros(n + 1, dtype=bool)
        res[order] = True
        return res[:n]
    return run


def reach(a: EdgeArrays, emask: np.ndarray, seeds: np.ndarray, backward: bool = False) \
        -> np.ndarray:
    """States reachable from the ``seeds`` (a bool mask) through the edges
    ``emask`` selects (against their direction with ``backward``)."""
    return reacher(a, emask, backward)(seeds)


def fifo_path(a: EdgeArrays, emask: np.ndarray, src: int, targets: np.ndarray):
    """The path ``[(u, label id, v), ...]`` a FIFO breadth-first search from
    ``src`` through the edges ``emask`` selects, walking each state's edges
    in ``g.out`` order, finds to the first target it discovers (``[]`` if
    ``src`` is one, None if none is reachable).

    Done one level at a time: the next level is the previously unseen
    destinations of the current level's edges, in the order the search
    meets them (by the rank of their source in the level, then by edge
    order), each recorded with the first such edge.  That is exactly the
    queue of the search, so the tree (and the path) is the same."""
    if targets[src]:
        return []
    n = a.n
    ptr, dst, lid = a.ptr, a.dst, a.lid
    seen = np.zeros(n, dtype=bool)
    seen[src] = True
    pred = np.full(n, -1, dtype=np.int64)
    plid = np.full(n, -1, dtype=np.int64)
    level = np.array([src], dtype=np.int64)
    while len(level):
        starts, ends = ptr[level], ptr[level + 1]
        cnt = ends - starts
        tot = int(cnt.sum())
        if not tot:
            break
        # edge ids of the level's states, in queue order then edge order
        eid = np.repeat(starts - np.cumsum(cnt) + cnt, cnt) + np.arange(tot)
        keep = emask[eid]
        eid = eid[keep]
        v = dst[eid]
        fresh = ~seen[v]
        eid, v = eid[fresh], v[fresh]
        if not len(v):
            break
        _, first = np.unique(v, return_index=True)
        first.sort()
        eid, v = eid[first], v[first]
        pred[v] = a.src[eid]
        plid[v] = lid[eid]
        seen[v] = True
        hit = np.flatnonzero(targets[v])
        if len(hit):
            t = int(v[hit[0]])
            path = []
            while t != src:
                u = int(pred[t])
                path.append((u, int(plid[t]), t))
                t = u
            path.reverse()
            return path
        level = v.astype(np.int64)
    return None
