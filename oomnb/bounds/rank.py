"""Ranking functions (variants) over the model's state, with symbolic claims.

A ranking function is a lexicographic tuple of **components**.  Each
component is a sum over *slots* of the state (the oom_reaper's current
job, each task on ``oom_reaper_list``, each pending ``oom_reaper_timer``,
each victim thread's place in ``do_exit``, the ``__mmput`` phase, each
``TIF_MEMDIE`` bit, the freezer's phase); a slot has a *phase* and the
component gives each phase a value, a sympy expression in ``n`` (the
attempts the reaper has made on its task) and ``R`` =
``MAX_OOM_REAP_RETRIES``.

A component states, per transition, the **moves** it makes: which slots
it removes and which it adds.  sympy shows for every move that the sum of
what it removes minus what it adds is positive (a decrease) or zero (a
neutral move); :func:`check_edges` checks every explored edge of a state
graph against those claims: the slots that change are exactly one
declared move of that transition, and the first component of the tuple
that changes decreases.  An edge that changes no component is neutral:
it may not repeat forever on a fair path, which :func:`check_edges`
checks with the checker's fairness analysis (no fair cycle of neutral
edges inside the region) and names the fairness that applies.

A transition added later is checked by the same machinery: its edges
either match a declared move or are reported.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import sympy as sp

from ..kernel import state as S
from ..kernel.timing import MAX_OOM_REAP_RETRIES as R

n = sp.Symbol("n", integer=True, nonnegative=True)   # attempts made on the current task
_m = sp.Symbol("m", integer=True, nonnegative=True)  # slack variable of a constraint

#: constraints a move may assume, as substitutions over non-negative integers
WHERE = {
    "": {},
    "n<R": {R: n + 1 + _m},          # R = n + 1 + m, m >= 0
    "n<=R": {R: n + _m},             # R = n + m, m >= 0
    "n=R": {n: R},
}


@dataclass(frozen=True)
class Move:
    transition: str
    removed: tuple          # ((phase, n-expression or None), ...)
    added: tuple
    where: str = ""         # key of WHERE
    why: str = ""
    waits: bool = True      # the waiting party waits for this step (its delay counts)
    also_removes: tuple = ()  # phases of which any number of slots may also vanish

    def delta(self, comp) -> sp.Expr:
        """Value removed minus value added (positive = the component decreases)."""
        d = sum((comp.phase_value(p, e) for p, e in self.removed), sp.Integer(0)) - \
            sum((comp.phase_value(p, e) for p, e in self.added), sp.Integer(0))
        return sp.simplify(d.subs(WHERE[self.where]))

    def kind(self, comp) -> str:
        """``decreases`` / ``neutral`` / ``increases`` / ``unproved`` (sympy)."""
        d = self.delta(comp)
        if d.is_positive:
            return "decreases"
        if d.is_zero:
            return "neutral"
        if d.is_negative:
            return "increases"
        return "unproved"


_VALUES = {}


def _table_key(table) -> frozenset:
    return frozenset(table.items())     # sympy expressions hash structurally


@dataclass
class Component:
    name: str
    doc: str
    table: dict                         # phase -> sympy expression in n, R
    slots: object                       # (k, s) -> list of (phase, n or None)
    moves: list = field(default_factory=list)
    gate: object = None                 # (k, s) -> bool: counted only where true

    def phase_value(self, phase, nexpr) -> sp.Expr:
        e = self.table[phase]
        return e.subs(n, nexpr) if nexpr is not None else e

    def value(self, k, s) -> int:
        if self.gate is not None and not self.gate(k, s):
            return -1                   # not counted yet: see slots_of
        v = 0
        cache = _VALUES.setdefault((self.name, k.max_reap_retries, _table_key(self.table)), {})
        for slot in self.slots(k, s):
            x = cache.get(slot)
            if x is None:
                if slot[0] not in self.table:
                    raise KeyError(f"ranking component {self.name}: no value declared for "
                                   f"phase {slot[0]!r} (a new state value needs one)")
                x = cache[slot] = int(self.table[slot[0]].subs({n: slot[1] or 0,
                                                                R: k.max_reap_retries}))
            v += x
        return v

    def slots_of(self, k, s) -> Counter:
        if self.gate is not None and not self.gate(k, s):
            return Counter({("(not yet counted)", None): 1})
        return Counter(self.slots(k, s))

    def latex(self) -> str:
        from .derive import latex
        return r",\ ".join(rf"\mathrm{{{_tex(p)}}}\mapsto {latex(e)}"
                           for p, e in self.table.items())


def _tex(name: str) -> str:
    return name.replace("_", r"\_").replace(":", r"{:}\,")


def _mv(comp, key, removed, added, where="", why="", waits=True, also_removes=()):
    comp.moves.append(Move(key, tuple(removed), tuple(added), where, why, waits,
                           tuple(also_removes)))


# ---------------------------------------------------------------- reaper

_QUEUED = 3 * R + 4                      # oom_reaper pop + a fresh job
REAPER = Component(
    "reaper",
    "the oom_reaper's remaining steps: its current task (attempt n+1, the unmap "
    "after attempt n, which may fail partly (an MMU notifier refused), or the "
    "HZ/10 sleep after attempt n, the done: tail), every task on "
    "oom_reaper_list and every pending OOM_REAPER_DELAY timer",
    {"idle": sp.Integer(0), "done": sp.Integer(1),
     "attempt": 3 * (R - n) + 3, "unmap": 3 * (R - n) + 5, "sleep": 3 * (R - n) + 4,
     "queued": _QUEUED, "timer": _QUEUED + 1, "markable": _QUEUED + 2},
    None)


def rekill(k) -> bool:
    """Can V be killed (and queued for the reaper) again while its memory is
    mapped?  v4.8: the reaper's remote exit_oom_victim lets the scan pick
    V again until the second strike sets MMF_OOM_REAPED."""
    return k.reaper_done == "two-strike"


def _reaper_slots(k, s):
    ph = {S.R_IDLE: "idle", S.R_ATTEMPT: "attempt", S.R_UNMAP: "unmap", S.R_SLEEP: "sleep",
          S.R_DONE: "done"}[s.rpc]
    out = [(ph, s.ratt if ph in ("attempt", "unmap", "sleep") else None)]
    out += [("queued", None)] * len(s.rlist)
    out += [("timer", None)] * len(s.rtimers)
    if rekill(k) and not s.mmf & S.MMF_SKIP:
        out += [("markable", None)] * sum(1 for t in s.th if t[0] in S.HAS_MM and not t[1])
    return out


REAPER.slots = _reaper_slots
for args in (
    ("oom_reaper", [("idle", None), ("queued", None)], [("attempt", 0)], "",
     "oom_reaper pops the head of oom_reaper_list"),
    ("reap_attempt", [("attempt", n)], [("sleep", n + 1)], "n<R", "mmap trylock failed"),
    ("reap_attempt", [("attempt", n)], [("unmap", n + 1)], "n<R", "trylock taken, gates passed"),
    ("reap_attempt", [("attempt", n)], [("done", None)], "n<R",
     "nothing to reap (no mm, mm_users==0, or MMF_OOM_SKIP under the lock)"),
    ("reap_unmap", [("unmap", n)], [("done", None)], "n<=R", "__oom_reap_task_mm unmapped"),
    ("reap_unmap", [("unmap", n)], [("sleep", n)], "n<=R",
     "a partial reap: an MMU notifier refused, the attempt failed (93065ac753e4)"),
    ("reap_sleep", [("sleep", n)], [("attempt", n)], "n<R", "sleep, then the next attempt"),
    ("reap_sleep", [("sleep", n)], [("done", None)], "n=R", "MAX_OOM_REAP_RETRIES reached"),
    ("oom_reap_task", [("done", None)], [("idle", None)], "", "oom_reap_task returns"),
    ("wake_oom_reaper_timer", [("timer", None)], [("queued", None)], "",
     "OOM_REAPER_DELAY expired: the task goes on oom_reaper_list"),
    ("wake_oom_reaper_timer", [("timer", None)], [], "", "MMF_OOM_SKIP already set: dropped"),
    ("out_of_memory", [], [("queued", None)], "", "a kill queues the victim"),
    ("out_of_memory", [], [("timer", None)], "", "a kill arms the victim's timer"),
    ("victim_out_of_memory", [], [("queued", None)], "", "the victim queues itself"),
    ("victim_out_of_memory", [], [("timer", None)], "", "the victim arms its timer"),
    ("out_of_memory", [("markable", None)], [("queued", None)], "",
     "v4.8: V killed again: a thread with ->mm is marked and queued"),
    ("out_of_memory", [("markable", None)], [], "",
     "v4.8: V killed again: a thread is marked (already queued)"),
):
    _mv(REAPER, *args)
# --- memcg OOM path: W, a memory.oom.group victim, is one more task for the reaper
for args in (
    ("w_reap_attempt", [("attempt", n)], [("unmap", n + 1)], "n<R", "W: trylock taken"),
    ("w_reap_attempt", [("attempt", n)], [("done", None)], "n<R",
     "W: MMF_OOM_SKIP under the lock"),
    ("w_reap_unmap", [("unmap", n)], [("done", None)], "n<=R", "W's memory unmapped"),
    ("w_oom_reap_task", [("done", None)], [("idle", None)], "", "oom_reap_task returns (W)"),
):
    _mv(REAPER, *args)
for key in ("memcg_out_of_memory", "thread_mem_cgroup_oom"):
    for slot in ("queued", "timer"):
        _mv(REAPER, key, [], [(slot, None)], "", "a memcg kill queues a victim")
        _mv(REAPER, key, [], [(slot, None), (slot, None)], "",
            "a memory.oom.group kill queues V and W")
_mv(REAPER, "exit_mm", [("markable", None)], [], "",
    "an unmarked thread leaves its mm: it can no longer be marked", waits=False)
_mv(REAPER, "reap_unmap", [("unmap", n)], [("done", None)], "n<=R",
    "v4.8: __oom_reap_task unmapped and set MMF_OOM_REAPED", also_removes=("markable",))
for key, why in (("exit_mmap_skip", "exit_mmap set MMF_OOM_SKIP"),
                 ("exit_mmap_free", "__mmput set MMF_OOM_SKIP"),
                 ("oom_reap_task", "oom_reap_task set the skip flag")):
    _mv(REAPER, key, [("markable", None)], [], "", why, waits=False, also_removes=("markable",))

STRIKES = Component(
    "strikes",
    "v4.8 two-strike: exhaustions left before MMF_OOM_REAPED ends the reaping "
    "(2, 1 after MMF_OOM_NOT_REAPABLE, 0 once MMF_OOM_REAPED is set)",
    {"strike": sp.Integer(1)},
    lambda k, s: [] if not rekill(k) or s.mmf & S.MMF_SKIP else
    [("strike", None)] * (1 if s.mmf & S.MMF_NOT_REAPABLE else 2))
_mv(STRIKES, "oom_reap_task", [("strike", None)], [], "",
    "exhausted: MMF_OOM_NOT_REAPABLE, or MMF_OOM_REAPED the second time",
    also_removes=("strike",))
_mv(STRIKES, "reap_unmap", [("strike", None)], [], "", "unmapped: MMF_OOM_REAPED",
    also_removes=("strike",))


# ---------------------------------------------------------------- exit

_PC = {S.RUN: 14, S.FROZEN: 14, S.DSTATE: 16, S.EXITING: 12, S.EXIT_OOM_EARLY: 11, S.MMPUT: 10,
       S.IN_MMPUT: 8, S.EXIT_OOM: 6, S.POST: 4, S.FILES: 3, S.DEAD: 2, S.RELEASED: 0}
_TP = {S.TP_NONE: 5, S.TP_AIO: 4, S.TP_EM_UNMAP: 3, S.TP_EM_SKIP: 2, S.TP_EM_FREE: 1,
       S.TP_DONE: 0}
EXIT = Component(
    "exit",
    "the victim's remaining exit work: each thread's place in do_exit "
    "(RUN, exit_signals, exit_mm, mmput, exit_oom_victim, exit_files, "
    "exit_task_work/exit_notify, release_task) and the __mmput phase (exit_aio, exit_mmap unmap, "
    "MMF_OOM_SKIP, free)",
    {**{S.PC_NAMES[p]: sp.Integer(v) for p, v in _PC.items()},
     **{"mmput:" + S.TP_NAMES[p]: sp.Integer(v) for p, v in _TP.items()}},
    lambda k, s: [(S.PC_NAMES[t[0]], None) for t in s.th] + [("mmput:" + S.TP_NAMES[s.tpc], None)])


def _pc(p):
    return (S.PC_NAMES[p], None)


def _tp(p):
    return ("mmput:" + S.TP_NAMES[p], None)


for key, a, b, why in (
    ("do_exit", S.RUN, S.EXITING, "SIGKILL dequeued, exit_signals"),
    ("try_to_freeze", S.RUN, S.FROZEN, "enters the refrigerator"),
    ("refrigerator_exit", S.FROZEN, S.RUN, "leaves the refrigerator"),
    ("dstate_io_done", S.DSTATE, S.RUN, "its D-state IO completed"),
    ("exit_mm", S.EXITING, S.MMPUT, "exit_mm: current->mm = NULL"),
    ("exit_mm", S.EXITING, S.EXIT_OOM_EARLY, "exit_mm (exit_oom_victim first)"),
    ("exit_oom_victim", S.EXIT_OOM, S.POST, "exit_oom_victim, end of exit_mm"),
    ("exit_oom_victim", S.EXIT_OOM_EARLY, S.MMPUT, "early exit_oom_victim"),
    ("mmput", S.MMPUT, S.EXIT_OOM, "not the last user"),
    ("mmput", S.MMPUT, S.POST, "not the last user"),
    ("exit_files", S.POST, S.FILES, "exit_files: ->flush of each file"),
    ("do_exit_tail", S.FILES, S.DEAD, "exit_task_work (->release), exit_notify, final schedule"),
    ("release_task", S.DEAD, S.RELEASED, "release_task"),
):
    _mv(EXIT, key, [_pc(a)], [_pc(b)], "", why)
_mv(EXIT, "mmput", [_pc(S.MMPUT), _tp(S.TP_NONE)], [_pc(S.IN_MMPUT), _tp(S.TP_AIO)], "",
    "last user: __mmput starts inline")
_mv(EXIT, "reap_unmap", [_tp(S.TP_NONE)], [_tp(S.TP_AIO)], "",
    "the reaper's mmput_async drops the last user: __mmput on a kworker")
_mv(EXIT, "exit_aio", [_tp(S.TP_AIO)], [_tp(S.TP_EM_UNMAP)], "", "exit_aio returned")
_mv(EXIT, "exit_mmap_unmap", [_tp(S.TP_EM_UNMAP)], [_tp(S.TP_EM_SKIP)], "", "unmap_vmas")
_mv(EXIT, "exit_mmap_unmap", [_tp(S.TP_EM_UNMAP)], [_tp(S.TP_EM_FREE)], "", "unmap_vmas")
_mv(EXIT, "exit_mmap_skip", [_tp(S.TP_EM_SKIP)], [_tp(S.TP_EM_FREE)], "", "MMF_OOM_SKIP set")
_mv(EXIT, "exit_mmap_free", [_tp(S.TP_EM_FREE)], [_tp(S.TP_DONE)], "", "kworker's __mmput ends")
for p in (S.EXIT_OOM, S.POST):
    _mv(EXIT, "exit_mmap_free", [_tp(S.TP_EM_FREE), _pc(S.IN_MMPUT)], [_tp(S.TP_DONE), _pc(p)],
        "", "__mmput ends, mmput returns")


# ---------------------------------------------------------------- victims

VICTIMS = Component(
    "oom_victims",
    "threads with TIF_MEMDIE (the global oom_victims count oom_killer_disable waits for)",
    {"TIF_MEMDIE": sp.Integer(1)},
    lambda k, s: [("TIF_MEMDIE", None)] * sum(t[1] for t in s.th),
    gate=lambda k, s: bool(s.disabled))
for key, why in (("exit_oom_victim", "the victim clears its TIF_MEMDIE"),
                 ("oom_reap_task", "v4.8: the reaper's remote exit_oom_victim(tsk)")):
    _mv(VICTIMS, key, [("TIF_MEMDIE", None)], [], "", why)


# ---------------------------------------------------------------- pm

_PM = {S.P_OFF: 6, S.P_FREEZE: 5, S.P_DIS_LOCK: 4, S.P_DIS_WAIT: 3, S.P_PASS2: 2, S.P_SUSP: 1,
       S.P_DONE: 0}
PM = Component(
    "pm",
    "the suspend path's remaining phases: freeze_processes, "
    "oom_killer_disable (lock, wait), the second freezing pass, suspended, thawed",
    {S.P_NAMES[p]: sp.Integer(v) for p, v in _PM.items()},
    lambda k, s: [(S.P_NAMES[s.pm], None)])
for key, a, b in (
    ("freeze_processes", S.P_OFF, S.P_FREEZE),
    ("try_to_freeze_tasks", S.P_FREEZE, S.P_DIS_LOCK),
    ("try_to_freeze_tasks", S.P_PASS2, S.P_SUSP),
    ("freeze_timeout", S.P_FREEZE, S.P_DONE),
    ("freeze_timeout", S.P_PASS2, S.P_DONE),
    ("oom_killer_disable", S.P_DIS_LOCK, S.P_DIS_WAIT),
    ("oom_killer_disable_return", S.P_DIS_WAIT, S.P_PASS2),
    ("oom_killer_disable_return", S.P_DIS_WAIT, S.P_SUSP),
    ("oom_killer_disable_timeout", S.P_DIS_WAIT, S.P_DONE),
    ("thaw_processes", S.P_SUSP, S.P_DONE),
):
    _mv(PM, key, [(S.P_NAMES[a], None)], [(S.P_NAMES[b], None)], "", key)

# the reaper's work counts for oom_killer_disable only once the wait started
REAPER_WAIT = Component(REAPER.name + "|disabled", REAPER.doc + ", once oom_killer_disabled is set",
                        dict(REAPER.table), REAPER.slots, list(REAPER.moves),
                        gate=lambda k, s: bool(s.disabled))

COMPONENTS = {c.name: c for c in (PM, VICTIMS, STRIKES, REAPER, REAPER_WAIT, EXIT)}


# ---------------------------------------------------------------- ranks

def rank_for(k, prop: str) -> tuple:
    """The ranking function (component names, most significant first) of
    liveness property ``prop`` in kernel ``k``; () if none is claimed
    (the property does not hold there)."""
    if prop == "pm_progress":
        if k.disable_timeout:
            return ("pm",)                         # the freeze_timeout ends the wait
        if k.has_reaper and k.reaper_remote_exit_oom_victim:
            return ("pm", "oom_victims", "reaper|disabled")
        if not k.has_reaper:
            return ("pm", "oom_victims", "exit")    # only the victims' own exits end the wait
        return ()
    if not k.has_reaper:
        # only the victim's own exit can end it
        return ("exit",) if prop in ("oom_progress", "reap_progress") else ()
    top = ("strikes",) if rekill(k) else ()
    if prop == "oom_progress":
        return ("reaper",)
    if prop in ("reaper_done", "reap_started"):
        return top + ("reaper",)
    if prop == "reap_progress":
        # with the mmget_not_zero gate the reaper may leave the unmap to __mmput
        return top + (("reaper", "exit") if k.reaper_mmget_gate else ("reaper",))
    return ()


def rank_value(k, s, comps) -> tuple:
    return tuple(COMPONENTS[c].value(k, s) for c in comps)


# ---------------------------------------------------------------- checks

@dataclass
class EdgeCheck:
    ok: bool
    progress: bool                 # the rank decreases (the step counts in time)
    component: str = ""            # the first component that changes
    move: Move | None = None
    problem: str = ""
    decreases: bool = False        # the rank decreases (waited for or not)


def _match(comp, key, k, pre: Counter, post: Counter):
    """The declared move of transition ``key`` that turns ``pre`` into ``post``."""
    removed, added = pre - post, post - pre
    for mv in comp.moves:
        if mv.transition != key:
            continue
        extra = Counter({x: c for x, c in removed.items() if x[0] in mv.also_removes})
        need = Counter(ph for ph, _ in mv.removed)
        if len(mv.removed) != sum(removed.values()) and not mv.also_removes:
            continue
        if mv.also_removes:
            # keep the slots the move names, the rest of those phases may vanish
            base = removed - extra
            for (ph, nv), c in extra.items():
                keep = min(c, need.get(ph, 0) - sum(v for (p2, _), v in base.items() if p2 == ph))
                if keep > 0:
                    base[(ph, nv)] += keep
            if sum(base.values()) != len(mv.removed):
                continue
            removed_m = base
        else:
            removed_m = removed
        rem, bind, ok = list(removed_m.elements()), {}, True
        for ph, e in mv.removed:
            cand = [x for x in rem if x[0] == ph]
            if not cand:
                ok = False
                break
            rem.remove(cand[0])
            if e is not None:
                bind[n] = cand[0][1]
        if not ok:
            continue
        want = Counter((ph, None if e is None else int(sp.sympify(e).subs(bind)))
                       for ph, e in mv.added)
        if want != added:
            continue
        nv = bind.get(n)
        if mv.where == "n<R" and not (nv is not None and nv < k.max_reap_retries):
            continue
        if mv.where == "n=R" and nv != k.max_reap_retries:
            continue
        if mv.where == "n<=R" and not (nv is not None and nv <= k.max_reap_retries):
            continue
        return mv
    return None


_KIND = {}


def move_kind(comp, mv) -> str:
    """sympy's verdict on a move (cached: one proof per declared move)."""
    key = (comp.name, id(mv), _table_key(comp.table))
    if key not in _KIND:
        _KIND[key] = mv.kind(comp)
    return _KIND[key]


def check_edge(k, comps, key, s, s2, cache=None) -> EdgeCheck:
    """Check one step against the claims of the rank ``comps``: the first
    component whose value changes must change by a declared move of this
    transition that sympy shows decreasing.  Components after it may
    change freely (lexicographic order).  A declared neutral move (a thread
    enters or leaves the refrigerator) leaves the decision to the later
    components; a step neutral everywhere must not lie on a fair cycle
    (checked by the caller)."""
    for c in comps:
        comp = COMPONENTS[c]
        if cache is None:
            a, b = comp.slots_of(k, s), comp.slots_of(k, s2)
        else:                                   # slots per (component, state), computed once
            a = cache.get((c, id(s)))
            if a is None:
                a = cache[(c, id(s))] = comp.slots_of(k, s)
            b = cache.get((c, id(s2)))
            if b is None:
                b = cache[(c, id(s2))] = comp.slots_of(k, s2)
        if a == b:
            continue
        mv = _match(comp, key, k, a, b)
        if mv is None:
            return EdgeCheck(False, False, c, None,
                             f"{key}: {c} changes {_fmt(a - b)} -> {_fmt(b - a)}: no declared move")
        kind = move_kind(comp, mv)
        if kind == "neutral" and comp.value(k, s) == comp.value(k, s2):
            continue            # equal here: the later components decide (lexicographic)
        if kind != "decreases":
            return EdgeCheck(False, False, c, mv, f"{key}: {c} {kind} ({mv.why})")
        va, vb = comp.value(k, s), comp.value(k, s2)
        if not vb < va:
            return EdgeCheck(False, False, c, mv,
                             f"{key}: {c} {va} -> {vb} does not decrease ({mv.why})")
        return EdgeCheck(True, mv.waits, c, mv, decreases=True)
    return EdgeCheck(True, False)


def _fmt(c: Counter) -> str:
    return "{" + ", ".join(f"{p}" + (f"(n={x})" if x is not None else "") +
                           (f" x{m}" if m > 1 else "") for (p, x), m in sorted(c.items(), key=str)) + "}"


def proofs(comps=None) -> list:
    """Every declared move with its symbolic delta and sympy's verdict."""
    out = []
    for c in comps or COMPONENTS:
        comp = COMPONENTS[c]
        for mv in comp.moves:
            out.append({"component": c, "transition": mv.transition, "why": mv.why,
                        "where": mv.where, "delta": mv.delta(comp), "kind": mv.kind(comp)})
    return out
