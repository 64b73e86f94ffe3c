"""Explicit-state breadth-first exploration with a visited set.

Builds the whole reachable graph of one (kernel, scenario): states,
labelled edges, BFS parent pointers (so the first violation found is a
shortest counterexample) and depths.  Safety properties (invariants and
step properties) are checked on the fly; liveness works on the stored
graph afterwards (:mod:`oomnb.checker.liveness`).

Speed (``oomnb bench check``).  A state is also one int, its code
(:mod:`oomnb.checker.codec`): the visited set is keyed by codes, and a
step is applied to the code with two integer operations.  The transitions
to try in a state are one generated function (:mod:`oomnb.checker.plan`)
that tests each transition's pre-checks inline on the state's fields
(pre-checks read from the guard clauses by :mod:`oomnb.checker.guards`;
transitions a kernel or scenario rules out are left out) and looks the
effect of each remaining one up in its memo (:mod:`oomnb.checker.memo`)
by the code of the fields that transition reads, so ``fire`` runs once
per distinct effect, not once per state.  A successor state is built only
when its code is new.  Invariants are memoised the same way; a step
property is tested only where its necessary conditions, read from the
predicate, hold: a test of the pre-state (looked up once per state by the
fields it reads) and tags the step must carry; a property stops being
evaluated once it is decided.  Equal parts of states (the thread tuples,
the reaper's list) are one object, the one the codec keeps.  The
whole-graph passes of liveness use a flat-array copy of the edges
(:mod:`oomnb.checker.arrays`).  tests/test_checker_memo.py requires the
graph to equal that of a plain breadth-first search that calls every
transition's ``fire`` in every state.

``symmetry=True`` explores the quotient by interchangeable victim threads
(:mod:`oomnb.checker.symmetry`; the canonical form of a successor is
looked up by the codes of the fields that hold threads) and unfolds it to
the full graph with real thread indices; ``Graph.reduced_states`` /
``reduced_edges`` give the quotient's size.  ``unfold=False`` keeps the quotient (safety verdicts
only; its counterexamples use canonical thread indices).
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass, field
from operator import itemgetter

from ..errors import OomnbError
from ..kernel.transitions import initial_state, transitions_for
from . import symmetry as sym
from .codec import Codec, Overflow, default_widths
from .guards import step_guard_of
from .memo import PredicateMemo
from .plan import FIELD_INDEX, Plan


@dataclass
class Graph:
    kernel: object
    scenario: object
    states: list
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
    reduced_states: int | None = None   # quotient size when explored with symmetry reduction
    reduced_edges: int | None = None
    explore_seconds: float | None = None  # of which exploring the quotient (rest: unfolding)
    quotient: bool = False       # True: states are canonical representatives only
    perms: list | None = None    # quotient: out_perm[u][n] = m with dst = apply(m, successor)
    fire_calls: int = 0          # times transition code ran (memo misses, oomnb.checker.memo)

    _index: dict | None = None

    @property
    def index(self) -> dict:
        """state -> id (built on first use)."""
        if self._index is None:
            self._index = {s: n for n, s in enumerate(self.states)}
        return self._index

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


#: the most states an exploration may find before it stops (``oomnb check --max-states``)
MAX_STATES = 3_000_000


class StateLimit(OomnbError):
    """An exploration found more states than it may."""


def explore(kernel, scenario, props=(), progress: bool = False, symmetry: bool = False,
            unfold: bool = True, guards: bool = True,
            max_states: int | None = MAX_STATES) -> Graph:
    """Explore every interleaving; check ``props`` (safety ones) on the fly.

    ``symmetry``: explore the quotient by interchangeable threads (3+
    threads) and, with ``unfold``, rebuild the full graph from it.
    ``guards``: skip transitions whose guard clause (read by
    :mod:`oomnb.checker.guards`) is false without calling them, and step
    properties whose necessary conditions (read the same way) fail.
    ``max_states``: stop with :class:`StateLimit` past this many states
    (None: no limit); a change to the model whose counter never stops
    growing would otherwise fill the memory."""
    reduce = symmetry and scenario.threads >= 3 and sym.supported()
    gc_was = gc.isenabled()
    gc.disable()           # the graph is acyclic data: the cyclic collector only costs time
    try:
        widths = default_widths()
        while True:
            try:
                g = _explore(kernel, scenario, props, progress, reduce, guards, Codec(widths),
                             max_states)
                break
            except Overflow as e:        # a field with more values than its width: widen it
                widths[e.field] *= 2
        if reduce and unfold:
            return _unfold(g)
        return g
    finally:
        if gc_was:
            gc.enable()


def _step_check(is_ante, f, name, use_guards=True):
    """(antecedent?, predicate, property, state pre-test or None, required tags or None,
    fields the pre-test reads)"""
    sg = step_guard_of(f) if use_guards else None
    return (is_ante, f, name, sg.state_ok if sg else None,
            frozenset(sg.tags) if sg and sg.tags else None, sg.reads if sg else ())


class _StepChecks:
    """The open step checks that apply in a state, by the values of the
    fields their pre-tests read: ``(all, tagless)`` for a state, the second
    for steps without tags (a check that needs a tag cannot hold there)."""

    def __init__(self, checks):
        self.checks = checks
        reads = sorted({f for c in checks for f in c[5]})
        self.key = itemgetter(*reads) if reads else (lambda s: None)
        self.cache = {}

    def __call__(self, s):
        key = self.key(s)
        r = self.cache.get(key)
        if r is None:
            here = [c[:5] for c in self.checks if c[3] is None or c[3](s)]
            r = self.cache[key] = (here, [c for c in here if c[4] is None])
        return r


def _explore(kernel, scenario, props, progress, reduce, use_guards, codec,
             max_states=None) -> Graph:
    t0 = time.perf_counter()
    k, sc = kernel, scenario
    trans = transitions_for(kernel)
    init = initial_state(kernel, scenario)
    if reduce:
        init, _ = sym.canon(init)
    init = codec.canonical(init)
    c0 = codec.encode(init)
    states, codes = [init], [c0]
    index = {c0: 0}                 # code -> state id (the visited set)
    parent, plabel, depth = [-1], [-1], [0]
    out = []
    perms = [] if reduce else None
    labels = []
    inv = [(PredicateMemo(p.bad_state, k, sc, codec), p.name)
           for p in props if p.shape == "invariant"]
    edg = [p for p in props if p.shape == "edge"]
    safety = {p.name: None for p in props if p.shape == "invariant"}
    safety.update((p.name, None) for p in edg)
    ante = {p.name: False for p in props}
    # checks still open, dropped once decided: (antecedent?, predicate, property name)
    ante_states = [(PredicateMemo(p.antecedent_state, k, sc, codec), p.name) for p in props
                   if p.antecedent_state is not None]
    # with the necessary conditions read from the predicates (oomnb.checker.guards): a
    # test of the pre-state (once per state) and tags the step must carry
    edge_checks = [_step_check(False, p.bad_edge, p.name, use_guards) for p in edg] + \
        [_step_check(True, p.antecedent_edge, p.name, use_guards) for p in edg
         if p.antecedent_edge is not None]
    errors = set()

    def check_state(sid, s, c):
        nonlocal ante_states
        for bad, name in inv:
            if bad(s, c):
                errors.add(sid)
                if safety[name] is None:
                    safety[name] = (sid, None, None)
        if ante_states:
            hit = False
            for f, name in ante_states:
                if f(s, c):
                    ante[name] = hit = True
            if hit:
                ante_states = [(f, name) for f, name in ante_states if not ante[name]]

    def still_open(checks):
        return [c for c in checks if not (ante[c[2]] if c[0] else safety[c[2]] is not None)]

    step_checks = _StepChecks(edge_checks)

    check_state(0, init, c0)
    bar = None
    if progress and sys.stderr.isatty():
        try:
            from tqdm import tqdm
            bar = tqdm(desc=f"{kernel.name} {scenario.key}", unit=" states", file=sys.stderr,
                       leave=False)
        except ImportError:  # pragma: no cover
            bar = None
    plan = Plan(kernel, scenario, trans, len(init.th), codec, use_guards)
    expand = plan.expand
    # per slot (transition instance): label ids by tags (by __mmput owner, then tags)
    ltabs = plan.per_slot(lambda t: None if t.actor == "owner" else {})
    owner_tabs = plan.per_slot(lambda t: {})
    slots = plan.slots
    town = FIELD_INDEX["town"]
    if reduce:
        # the canonical form reads and renames only the fields that hold threads: it is
        # looked up by their codes, (m, their canonical codes)
        refs = [FIELD_INDEX[f] for f in ("th",) + sym.REF_SCALARS + sym.REF_SEQS
                + sym.REF_SETS + sym.REF_BITS]
        refmask = codec.mask(refs)
        keep = ~refmask
        canon_of = {}
        canon = sym.canon
    limit = max_states if max_states is not None else float("inf")
    generated = 0
    new_label = labels.append
    add_state = states.append
    add_code = codes.append
    u = 0
    while u < len(states):          # BFS: the state list is the queue
        s = states[u]
        c = codes[u]
        du1 = depth[u] + 1
        edges = []
        out.append(edges)
        if reduce:
            eperm = []
            perms.append(eperm)
        if u in errors:            # TLC-style: an invariant violation is not explored further
            u += 1
            continue
        add_edge = edges.append
        here_all, here_tagless = step_checks(s) if edge_checks else ((), ())
        for slot, entry in expand(s, c):
            lt = ltabs[slot]
            if lt is None:             # an __mmput step: its actor is the owner
                lt = owner_tabs[slot].get(s[town])
                if lt is None:
                    lt = owner_tabs[slot][s[town]] = {}
            generated += len(entry)
            for clear, bits, build, vals, tags in entry:
                lid = lt.get(tags)
                if lid is None:
                    lid = lt[tags] = len(labels)
                    _, t, i = slots[slot]
                    new_label((t, i, t.actor_of(s, i), tags))
                c2 = (c & clear) | bits
                if reduce:
                    rk = c2 & refmask
                    cm = canon_of.get(rk)
                    if cm is None:
                        s2, m = canon(build(s, vals))
                        cm = canon_of[rk] = (m, _codes_of(codec, s2, refs))
                    m, rbits = cm
                    eperm.append(m)
                    c2 = (c2 & keep) | rbits
                v = index.get(c2)
                if v is None:
                    s2 = build(s, vals)
                    if reduce and m is not sym.identity(len(m)):
                        s2 = codec.canonical(sym.apply(m, s2))
                    v = index[c2] = len(states)
                    if v >= limit:
                        raise StateLimit(
                            f"{kernel.name} {scenario.key}: more than {limit:,} states; the model "
                            "may grow without bound (a counter that never stops?); "
                            "oomnb check --max-states N sets the limit")
                    add_state(s2)
                    add_code(c2)
                    parent.append(u)
                    plabel.append(lid)
                    depth.append(du1)
                    check_state(v, s2, c2)
                add_edge((v, lid))
                here = here_all if tags else here_tagless
                if here:
                    done = False
                    s2 = states[v]
                    for is_ante, f, name, _, req in here:
                        if req is not None and not req.issubset(tags):
                            continue
                        t, i, actor, _ = labels[lid]
                        if f(k, sc, s, actor, t, tags, s2):
                            if is_ante:
                                ante[name] = True
                            else:
                                safety[name] = (u, lid, v)
                            done = True
                    if done:
                        edge_checks = still_open(edge_checks)
                        step_checks = _StepChecks(edge_checks)
                        here_all, here_tagless = still_open(here_all), still_open(here_tagless)
        u += 1
        if bar is not None and u % 1000 == 0:
            bar.update(1000)
    if bar is not None:
        bar.close()
    secs = time.perf_counter() - t0
    g = Graph(kernel, scenario, states, parent, plabel, depth, out, labels, generated,
              secs, safety, ante, errors, explore_seconds=secs,
              fire_calls=sum(m.misses for m in plan.memos))
    if reduce:
        g.quotient, g.perms = True, perms
        g.reduced_states, g.reduced_edges = len(states), g.n_edges
    return g


def _codes_of(codec, s, fields) -> int:
    c = 0
    for n in fields:
        c |= codec.code(n, s[n])
    return c


def _unfold(q: Graph) -> Graph:
    """The full graph of a quotient: every state of every orbit, with real
    thread indices, in BFS order (so parents give shortest paths)."""
    t0 = time.perf_counter()
    n = q.scenario.threads
    ident = sym.identity(n)
    qstates, qout, qperms, qlabels = q.states, q.out, q.perms, q.labels
    states, index, parent, plabel, depth, out = [], {}, [], [], [], []
    key_of = {}                  # (quotient id, m) -> real id; real = apply(m, canonical)
    origin = []                  # real id -> (quotient id, m)
    labels, label_id = [], {}
    lmap = {}                    # (quotient label id, m) -> real label id
    inv_cache = {}

    def real_id(cid, m, pu, plid, d):
        key = (cid, m)
        r = key_of.get(key)
        if r is None:
            s = qstates[cid] if m is ident else sym.apply(m, qstates[cid])
            r = index.get(s)          # a state with a symmetric stabiliser has several keys
            if r is None:
                r = index[s] = len(states)
                states.append(s)
                origin.append(key)
                parent.append(pu)
                plabel.append(plid)
                depth.append(d)
            key_of[key] = r
        return r

    def real_label(qlid, m):
        key = (qlid, m)
        r = lmap.get(key)
        if r is None:
            lab = qlabels[qlid] if m is ident else sym.rename_label(qlabels[qlid], m)
            lk = (lab[0].key, lab[1], lab[2], lab[3])
            r = label_id.get(lk)
            if r is None:
                r = label_id[lk] = len(labels)
                labels.append(lab)
            lmap[key] = r
        return r

    real_id(0, ident, -1, -1, 0)
    r = 0
    while r < len(states):
        cid, m = origin[r]
        d1 = depth[r] + 1
        edges = []
        for (v, qlid), qm in zip(qout[cid], qperms[cid]):
            # dst = apply(m, successor) and successor = apply(inverse(qm), canonical v)
            if qm is ident:
                mm = m
            else:
                qi = inv_cache.get(qm)
                if qi is None:
                    qi = inv_cache[qm] = sym.inverse(qm)
                mm = qi if m is ident else sym.compose(m, qi)
                if mm == ident:
                    mm = ident
            lid = real_label(qlid, m)
            edges.append((real_id(v, mm, r, lid, d1), lid))
        out.append(edges)
        r += 1
    errors = {r for (c, x), r in key_of.items() if c in q.errors}
    safety = {}
    for name, hit in q.safety.items():
        if hit is None:
            safety[name] = None
            continue
        sid, qlid, dst = hit
        u = key_of[(sid, ident)]
        if qlid is None:
            safety[name] = (u, None, None)
            continue
        # the quotient edge sid -qlid-> dst, in the real graph from the canonical state itself
        for v, lid in out[u]:
            if labels[lid] == qlabels[qlid] and origin[v][0] == dst:
                safety[name] = (u, lid, v)
                break
        else:  # pragma: no cover - the unfolding contains every quotient edge
            raise AssertionError(f"unfold lost the {name} counterexample edge")
    g = Graph(q.kernel, q.scenario, states, parent, plabel, depth, out, labels,
              q.generated, q.seconds + time.perf_counter() - t0, safety, dict(q.antecedent),
              errors, reduced_states=q.reduced_states, reduced_edges=q.reduced_edges,
              explore_seconds=q.seconds, _index=index, fire_calls=q.fire_calls)
    return g
