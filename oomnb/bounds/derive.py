"""Worst-case time bounds derived from the explored state graph.

For one bound (a leads-to ``P ~> Q``: from the kill until the OOM killer
may select again, ...) in one (kernel, scenario):

1. the checker decides ``P ~> Q`` under fairness; if a fair path stays in
   not-Q forever the bound is ``oo`` and the reason is that path's cycle
   (what it waits for: ``T_io``, ``T_dstate``, a lock held forever);
2. otherwise the version's ranking function (:mod:`oomnb.bounds.rank`) is
   checked on every edge of the region (not-Q states reachable from a
   P-state): each step decreases it by a declared move or leaves it
   unchanged, and no fair cycle is made of unchanged steps;
3. the bound is the longest path in time through the region, where a
   step that decreases the ranking function takes its delay
   (``Delay.expr``: ``OOM_REAPER_DELAY/HZ + t_slack``, ``rss_anon/B_reap``,
   ...) and a step that leaves it unchanged is another actor's,
   overlapping in time (not waited for).  The engine
   (:func:`oomnb.bounds.engine.longest`) gives the Pareto frontier of
   delay counts; the closed form is ``Max`` of their sums.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

import sympy as sp

from ..checker.liveness import _fair_sccs, check_leadsto, label_groups
from ..kernel import properties as P
from ..kernel import state as S
from ..kernel import timing
from ..kernel.transitions import fairness_of
from . import engine, rank


def _reaper_idle_for_victim(k, sc, s) -> bool:
    return s.rpc == S.R_IDLE and not s.rlist and not s.rtimers


REAPER_DONE = P.Property(
    "reaper_done", "leadsto",
    "Once V is killed, the oom_reaper finishes with it: oom_reap_task returns after "
    "unmapping or after MAX_OOM_REAP_RETRIES failed attempts (giving up).",
    P=lambda k, sc, s: bool(s.killed) and k.has_reaper,
    Q=lambda k, sc, s: bool(s.killed) and _reaper_idle_for_victim(k, sc, s))


@dataclass(frozen=True)
class BoundSpec:
    name: str
    title: str
    prop: object           # a leadsto Property


REAP_STARTED = P.Property(
    "reap_started", "leadsto",
    "Once V is killed, the oom_reaper starts unmapping (start_task_reaping) or gives up.",
    P=lambda k, sc, s: bool(s.killed) and k.has_reaper,
    Q=lambda k, sc, s: bool(s.killed) and (s.rpc in (S.R_UNMAP, S.R_DONE) or
                                           _reaper_idle_for_victim(k, sc, s)))

BOUNDS = (
    BoundSpec("select_again", "kill until the OOM killer may select again", P.OOM_PROGRESS),
    BoundSpec("unmapped", "kill until the victim's anonymous memory is unmapped",
              P.REAP_PROGRESS),
    BoundSpec("pm_return", "oom_killer_disable() / freeze_processes() can return",
              P.PM_PROGRESS),
    BoundSpec("reaper_done", "kill until the oom_reaper reaps or gives up", REAPER_DONE),
)
#: used for comparisons with measured latencies (kill -> start_task_reaping)
EXTRA = (BoundSpec("reap_started", "kill until the oom_reaper starts unmapping or gives up",
                   REAP_STARTED),)
BY_NAME = {b.name: b for b in BOUNDS + EXTRA}


@dataclass
class Derived:
    bound: str
    kernel: str
    scenario: str
    verdict: str                 # holds | violated | vacuous | out-of-scope
    expr: sp.Expr | None = None  # seconds; sp.oo where unbounded; None if vacuous
    reason: str = ""             # why oo, or what the bound waits for
    rank: tuple = ()
    frontier: list = field(default_factory=list)   # [{delay name: count}]
    checked_edges: int = 0
    region: int = 0
    problems: list = field(default_factory=list)   # ranking-function failures
    fairness: dict = field(default_factory=dict)   # neutral cycle -> fairness that breaks it
    _front: list = field(default_factory=list, repr=False)

    @property
    def infinite(self) -> bool:
        return self.expr is sp.oo

    def text(self) -> str:
        return "n/a" if self.expr is None else ("oo" if self.infinite else sp.sstr(self.expr))

    def latex(self) -> str:
        return "" if self.expr is None else latex(self.expr)

    def jiffies(self):
        """The bound in jiffies (``expr * HZ``), where the kernel's timers
        read as written: ``OOM_REAPER_DELAY + MAX_OOM_REAP_RETRIES*HZ/10 + ...``."""
        if self.expr is None or self.infinite:
            return self.expr
        return sp.expand(self.expr * timing.HZ)


LATEX_NAMES = {timing.MAX_OOM_REAP_RETRIES: "R", timing.OOM_REAPER_DELAY: "D",
               timing.freeze_timeout_msecs: r"\mathrm{freeze\_timeout\_msecs}",
               timing.rss: r"\mathrm{rss}_{\mathrm{anon}}"}


def latex(expr) -> str:
    """LaTeX with R = MAX_OOM_REAP_RETRIES and D = OOM_REAPER_DELAY (jiffies)."""
    return sp.latex(expr, symbol_names=LATEX_NAMES)


class RankError(Exception):
    """The declared ranking function does not decrease where the property holds."""


def region_of(g, prop, allowed):
    """not-Q states reachable from a P-state through not-Q states."""
    k, sc = g.kernel, g.scenario
    notq = {u for u, s in enumerate(g.states) if not prop.Q(k, sc, s) and u not in g.errors}
    starts = [u for u in notq if prop.P(k, sc, g.states[u])]
    seen = set(starts)
    q = deque(starts)
    while q:
        u = q.popleft()
        for v, lid in g.out[u]:
            if v in notq and v not in seen and allowed[lid]:
                seen.add(v)
                q.append(v)
    return seen, starts


def check_rank(g, prop, comps, allowed=None):
    """Check ``comps`` on every edge out of the region of ``prop`` in checker
    graph ``g``.  Returns (progress: {(u, lid, v)}, problems: [str], edges
    checked, region)."""
    k = g.kernel
    if allowed is None:
        allowed = [lab[0].key not in prop.exclude for lab in g.labels]
    region, starts = region_of(g, prop, allowed)
    progress, problems, neutral = set(), [], set()
    nchk = 0
    cache = {}
    for u in region:
        s = g.states[u]
        for v, lid in g.out[u]:
            if not allowed[lid]:
                continue
            t = g.labels[lid][0]
            r = rank.check_edge(k, comps, t.key, s, g.states[v], cache)
            nchk += 1
            if r.progress:
                progress.add((u, lid, v))
            elif not r.ok:
                if v in region:
                    problems.append(r.problem)
            elif v in region:
                neutral.add((u, lid, v))
    if not problems:
        lg = label_groups(g, "standard")
        fair = _fair_sccs(region, g, lg, allowed, edge_ok=lambda u, lid, v: (u, lid, v) in neutral)
        for C in fair:
            keys = sorted({g.labels[lid][0].key for u in C for v, lid in g.out[u]
                           if (u, lid, v) in neutral and v in C})
            problems.append("a fair cycle of steps that leave the ranking function unchanged: "
                            + ", ".join(keys or ["(stutter)"]))
    check_rank.fairness = _fairness_arguments(g, region, allowed, neutral) if not problems else {}
    return progress, sorted(set(problems)), nchk, region, starts


def _fairness_arguments(g, region, allowed, neutral) -> dict:
    """For each cycle of rank-neutral steps: the transitions on it and the
    fairness that forbids repeating it forever (the fair groups enabled in
    every state of it and never taken on it)."""
    import networkx as nx
    k = g.kernel
    lg = label_groups(g, "standard")
    name = {}
    for lid, (t, i, actor, tags) in enumerate(g.labels):
        if lg[lid][0] is not None:
            name[lg[lid][0]] = f"{fairness_of(t, k)} fairness of {actor}"
    G = nx.DiGraph()
    for (u, lid, v) in neutral:
        G.add_edge(u, v)
    out = {}
    for C in nx.strongly_connected_components(G):
        if len(C) < 2:
            continue
        keys = tuple(sorted({g.labels[lid][0].key for u in C for v, lid in g.out[u]
                             if (u, lid, v) in neutral and v in C}))
        taken = {lg[lid][0] for u in C for v, lid in g.out[u] if (u, lid, v) in neutral and v in C}
        en_all, en_any = None, set()
        for u in C:
            e = {(lg[lid][0], lg[lid][1]) for v, lid in g.out[u]
                 if allowed[lid] and lg[lid][0] is not None}
            en_all = e if en_all is None else en_all & e
            en_any |= e
        why = sorted({name[gr] for gr, strong in en_all if gr not in taken and not strong} |
                     {name[gr] for gr, strong in en_any if gr not in taken and strong})
        out.setdefault(keys, set()).update(why)
    return {" + ".join(k_): sorted(v) for k_, v in out.items()}


def _waits(g, lt, prop) -> str:
    """What the fair cycle the checker found waits for, in delay symbols."""
    k = g.kernel
    loop = lt.loop or []
    middle = lt.middle or []
    prefix = lt.prefix or []
    states = {e[0] for e in loop} | ({loop[0][0]} if loop else set())
    if not states:
        end = middle[-1][2] if middle else (prefix[-1][2] if prefix else 0)
        states = {end}
    waits = []
    for u in states:
        for v, lid in g.out[u]:
            t = g.labels[lid][0]
            if (t.key in prop.exclude or fairness_of(t, k) == "none") and t.delay.cls != "env":
                e = t.delay.expr(k)
                waits.append(f"{k.fn_name(t)} ({sp.sstr(e)})")
    s = g.states[next(iter(states))]
    if s.lockf and not g.scenario.lock_release:
        waits.append("mmap_lock held forever (T_lock = oo)")
    if waits:
        return "waits for " + ", ".join(sorted(set(waits)))
    keys = [k.fn_name(g.labels[lid][0]) for _, lid, _ in loop]
    return "repeats forever: " + " -> ".join(keys) if keys else "stutters"


_MEMO = {}


def _fingerprint() -> tuple:
    """What a derivation depends on besides (kernel, scenario, bound): the
    ranking functions' tables and moves (so a changed one is re-checked)."""
    return tuple((c.name, rank._table_key(c.table), tuple(c.moves))
                 for c in rank.COMPONENTS.values())


def derive(kernel, scenario, bound: str | BoundSpec = "select_again", *, strict=True,
           _generalize=True) -> Derived:
    """Derive one bound in one (kernel, scenario); see the module docstring.
    Results are remembered per process (keyed also by the ranking
    functions' definitions)."""
    from .. import model
    from ..kernel import load_kernel, parse_scenario
    spec = BY_NAME[bound] if isinstance(bound, str) else bound
    kk = load_kernel(kernel) if isinstance(kernel, str) else kernel
    ss = parse_scenario(scenario) if isinstance(scenario, str) else scenario
    key = (kk, ss, spec.name, _generalize, _fingerprint())
    if key in _MEMO:
        d = _MEMO[key]
        if d.problems and strict:
            raise RankError(f"{kk.name} {ss.key} {spec.prop.name}: " + "; ".join(d.problems[:3]))
        return d
    d = _derive(kk, ss, spec, strict=False, _generalize=_generalize)
    _MEMO[key] = d
    if d.problems and strict:
        raise RankError(f"{kk.name} {ss.key} {spec.prop.name}: " + "; ".join(d.problems[:3]))
    return d


def _derive(kernel, scenario, spec, *, strict, _generalize) -> Derived:
    from .. import model
    sg = model.state_graph(kernel, scenario) if isinstance(kernel, str) or \
        isinstance(scenario, str) else model.state_graph(kernel, scenario)
    g = sg.raw
    k, sc = g.kernel, g.scenario
    prop = spec.prop
    d = Derived(spec.name, k.name, sc.key, "")
    lt = check_leadsto(g, prop)
    d.verdict = lt.verdict
    if lt.verdict == "vacuous":
        d.reason = "its antecedent never holds"
        return d
    if lt.verdict == "out-of-scope":
        d.expr, d.reason = sp.oo, lt.reason + " (T_lock = oo)"
        return d
    if lt.verdict == "violated":
        d.expr, d.reason = sp.oo, _waits(g, lt, prop)
        return d
    comps = rank.rank_for(k, spec.name if spec.name in ("reaper_done", "reap_started")
                          else prop.name)
    d.rank = comps
    if not comps:
        d.problems = [f"no ranking function is declared for {prop.name} in {k.name}"]
        if strict:
            raise RankError(d.problems[0])
        return d
    allowed = [lab[0].key not in prop.exclude for lab in g.labels]
    progress, problems, nchk, region, starts = check_rank(g, prop, comps, allowed)
    d.checked_edges, d.region, d.problems = nchk, len(region), problems
    d.fairness = getattr(check_rank, "fairness", {})
    if problems:
        if strict:
            raise RankError(f"{k.name} {sc.key} {prop.name}: " + "; ".join(problems[:3]))
        return d

    one = {}
    none = Counter()

    def weight(u, lid, v):
        if (u, lid, v) not in progress:
            return none
        dl = g.labels[lid][0].delay
        if dl not in one:
            one[dl] = Counter({dl: 1})
        return one[dl]

    best = engine.longest(g, region, allowed, weight)
    if isinstance(best, engine.Unbounded):
        d.expr = sp.oo
        d.reason = "a cycle of delays: " + " -> ".join(
            g.labels[lid][0].key for _, lid, _ in best.edges)
        return d
    front = engine.worst(best, starts)
    d.frontier = [{dl.name: c for dl, c in f.items()} for f in front]
    counts = [{dl: sp.Integer(c) for dl, c in f.items()} for f in front]
    d._front = front
    if _generalize and _depends_on_retries(front) and k.max_reap_retries > 3:
        counts = _in_R(k, sc, spec, front) or counts
    sums = [sum((c * dl.expr(k) for dl, c in f.items()), sp.Integer(0)) for f in counts]
    d.expr = sp.Max(*sums) if sums else sp.Integer(0)
    d.reason = "holds on every fair path; the ranking function " + ", ".join(comps) + \
        " decreases on every waited-for step"
    return d


def _depends_on_retries(front) -> bool:
    return any(f.get(timing.REAP_ATTEMPT, 0) > 1 or f.get(timing.REAP_RETRY_SLEEP, 0) > 0
               for f in front)


def _front_at(k, sc, spec, retries):
    k2 = k.derive(f"{k.name}[R={retries}]", max_reap_retries=retries)
    d = derive(k2, sc, spec, strict=False, _generalize=False)
    return None if d.problems or d.expr is None or d.infinite else d._front


def _in_R(k, sc, spec, front):
    """Counts as affine functions of R = MAX_OOM_REAP_RETRIES: derived again
    with R = 2 and R = 3, fitted, and accepted only if the fit predicts
    the frontier at the version's own R exactly."""
    f2, f3 = _front_at(k, sc, spec, 2), _front_at(k, sc, spec, 3)
    if f2 is None or f3 is None or not len(f2) == len(f3) == len(front):
        return None
    names = sorted({dl for f in f2 + f3 + front for dl in f}, key=lambda dl: dl.name)

    def order(fr):
        return sorted(fr, key=lambda f: tuple(f.get(dl, 0) for dl in names))
    f2, f3 = order(f2), order(f3)
    Rk = k.max_reap_retries
    fitted = []
    for a, b in zip(f2, f3):
        fitted.append({dl: (b.get(dl, 0) - a.get(dl, 0)) * (timing.MAX_OOM_REAP_RETRIES - 2)
                       + a.get(dl, 0) for dl in names})
    predicted = {frozenset((dl, int(e.subs(timing.MAX_OOM_REAP_RETRIES, Rk))) for dl, e in f.items()
                           if e.subs(timing.MAX_OOM_REAP_RETRIES, Rk) != 0) for f in fitted}
    actual = {frozenset((dl, c) for dl, c in f.items() if c) for f in front}
    if predicted != actual:
        return None
    return [{dl: sp.expand(e) for dl, e in f.items() if e != 0} for f in fitted]


# ---------------------------------------------------------------- numbers

def default_params(k, sc=None, machine: str | None = None, cal=None) -> dict:
    """Numbers for every symbol (name -> number): the kernel's constants
    (``HZ``, ``MAX_OOM_REAP_RETRIES``, ``OOM_REAPER_DELAY``,
    ``freeze_timeout_msecs``), the parameters calibrated from the shipped
    data for ``machine`` at their slow end (the bound must cover every
    observation: :meth:`oomnb.calibrate.Calibration.values` with
    ``worst=True``), ``rss_anon`` = the largest anonymous RSS measured
    there, ``t_cpu`` = 0 (a short CPU step is not measured), and the waits
    on the environment from the scenario: ``T_io``, ``T_dstate``,
    ``T_lock`` are ``inf`` where the scenario blocks IO / holds the lock
    and 0 where nothing does."""
    from .. import calibrate, trace
    machine = machine or default_machine()
    cal = cal if cal is not None else _calibration()
    vals = {str(s): float(v) for s, v in timing.kernel_values(k).items()}
    got = cal.values(machine, worst=True)
    for name in ("t_slack", "t_attempt", "B_reap", "B_exit"):
        if name in got:
            vals[name] = float(got[name])
    ep = _episodes()
    if machine != "all":
        ep = ep[ep["machine"].astype(str) == machine]
    vals["rss_anon"] = float((ep["anon_rss_kb"].astype(float) * 1024).max())
    vals["t_cpu"] = 0.0
    inf = float("inf")
    vals["T_io"] = inf if sc is None or sc.aio_blocked else 0.0
    vals["T_dstate"] = inf if sc is None or sc.dstate else 0.0
    vals["T_lock"] = inf if sc is None or sc.lock_forever else 0.0
    del calibrate, trace
    return vals


_CACHE = {}


def default_machine() -> str:
    """The machine with the most episodes in the shipped data (its fitted
    throughput and largest RSS are the default parameters)."""
    return str(_episodes()["machine"].astype(str).value_counts().sort_index()
               .sort_values(ascending=False, kind="stable").index[0])


def _calibration():
    if "cal" not in _CACHE:
        from .. import calibrate
        _CACHE["cal"] = calibrate.calibrate(_episodes())
    return _CACHE["cal"]


def _episodes():
    if "ep" not in _CACHE:        # durations: the machines whose durations are real (no TCG)
        from .. import calibrate, trace
        _CACHE["ep"] = trace.df_episodes(calibrate.measured_sets())
    return _CACHE["ep"]


def evaluate(k, expr, params: dict) -> float:
    """``expr`` (seconds) with ``params`` (symbol name -> number, ``inf``
    allowed); unknown symbols are an error."""
    if expr is None:
        return float("nan")
    subs = {}
    for s in expr.free_symbols:
        if s.name not in params:
            raise KeyError(s.name)
        v = params[s.name]
        subs[s] = sp.oo if v == float("inf") else sp.nsimplify(v) if isinstance(v, int) else v
    e = expr.subs(subs)
    return float("inf") if e in (sp.oo, sp.zoo) or e.has(sp.oo) else float(e)
