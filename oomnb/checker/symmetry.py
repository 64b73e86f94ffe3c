"""Symmetry reduction over interchangeable victim threads.

Which threads are interchangeable.  T0 is the group leader (``release_task``
reaps it last; an AIO completion is charged to it) and is never moved.  The
other threads run the same code, but the kernel walks them in a fixed order
(``for_each_thread``): ``find_lock_task_mm()`` picks the *first* thread that
still has ``->mm``, so the relative order of the threads that still hold the
mm matters.  Losing ``->mm`` is final (``exit_mm`` sets ``tsk->mm = NULL``
and nothing gives it back), so once a thread has lost it its place in the
order never matters again.  A D-state thread differs from the others only by
its program counter, which the canonical form keeps.

Canonical form.  Among T1..Tn-1: the threads that still hold the mm keep
their relative order and take the lowest indices; the others follow, sorted
by everything the state says about them (pc, TIF_MEMDIE, had-TIF_MEMDIE, and
whether they are the ``__mmput`` owner, the task being reaped, their place on
``oom_reaper_list``, a pending ``oom_reaper_timer``).  Two states get the
same canonical form iff a permutation that keeps T0 and the order of the
mm holders maps one onto the other, and every transition commutes with such
a permutation (tests/test_checker_symmetry.py checks the verdicts against
the full exploration and that no step gives a thread its mm back).

The reduced exploration records, for every edge, the permutation that took
the successor to its canonical form; :func:`unfold` uses it to rebuild the
full graph with real thread indices (so counterexamples replay step by
step) without firing any transition again.

Fields of :class:`~oomnb.kernel.state.State` that hold thread indices are
listed here; a state with a field this module does not know is explored
without reduction (never wrongly reduced).
"""

from __future__ import annotations

import re

from ..kernel.state import HAS_MM, KWORKER, State

#: State fields holding one thread index (-1 / KWORKER for none / a kworker)
REF_SCALARS = ("town", "rtask")
#: ... a sequence of thread indices whose order matters (LIFO list)
REF_SEQS = ("rlist",)
#: ... a set of thread indices kept as a sorted tuple
REF_SETS = ("rtimers",)
#: ... a bit mask indexed by thread (bit j: thread j); only threads that still hold the
#: mm can have a bit set (robust: exit_robust_list runs before exit_mm drops it)
REF_BITS = ("robust",)
#: fields known to hold no thread index
PLAIN = frozenset({"killed", "oom_victims", "sig_victims", "oom_mm", "mm_users", "mm_count",
                   "mmf", "mem", "vmas", "tpc", "io", "lockf", "ratt", "rnext", "rrefs",
                   "gave_up", "disabled", "oom_lock", "apc", "w_killed", "pm", "sig_freed",
                   "rpc", "mrpc", "shm",
                   # memcg OOM path: W's own state (W_TASK in the reaper fields is not a thread)
                   "w_memdie", "w_oom_mm", "w_mmf", "w_mem", "w_exited",
                   # pinned memory
                   "pin"})


def supported(state_cls=State) -> bool:
    """Every field is either ``th``, a known thread reference or plain."""
    known = {"th"} | set(REF_SCALARS) | set(REF_SEQS) | set(REF_SETS) | set(REF_BITS) | PLAIN
    return set(state_cls._fields) <= known


_IDS = {n: tuple(range(n)) for n in range(1, 9)}


def identity(n: int) -> tuple:
    return _IDS[n]


def apply(m: tuple, s):
    """The state with thread j moved to index m[j] (references renamed)."""
    n = len(m)
    th = [None] * n
    for j, t in enumerate(s.th):
        th[m[j]] = t
    town = s.town
    if 0 <= town < n:
        town = m[town]
    rtask = s.rtask
    if 0 <= rtask < n:
        rtask = m[rtask]
    robust = s.robust
    if robust:
        robust = sum(1 << m[j] for j in range(n) if robust >> j & 1)
    return s._replace(th=tuple(th), town=town, rtask=rtask,
                      rlist=tuple(m[x] if x < n else x for x in s.rlist),
                      rtimers=tuple(sorted(m[x] if x < n else x for x in s.rtimers)), robust=robust)


def canon(s):
    """(canonical state, m) with canonical = apply(m, s); m is the identity
    tuple object itself when ``s`` is already canonical."""
    th = s.th
    n = len(th)
    ident = _IDS[n]
    if n < 3:
        return s, ident
    hold, rest = [], []
    for j in range(1, n):
        (hold if th[j][0] in HAS_MM else rest).append(j)
    if len(rest) > 1:
        rl, rt = s.rlist, s.rtimers
        rest.sort(key=lambda j: (th[j], j == s.town, j == s.rtask,
                                 rl.index(j) if j in rl else -1, j in rt))
    order = [0] + hold + rest           # order[c] = the thread that goes to index c
    if tuple(order) == ident:
        return s, ident
    m = [0] * n
    for c, j in enumerate(order):
        m[j] = c
    m = tuple(m)
    return apply(m, s), m


def inverse(m: tuple) -> tuple:
    inv = [0] * len(m)
    for j, c in enumerate(m):
        inv[c] = j
    return tuple(inv)


def compose(a: tuple, b: tuple) -> tuple:
    """The map j -> a[b[j]] (b first, then a)."""
    return tuple(a[x] for x in b)


_TREF = re.compile(r"(^|:)T(\d+)$")


def rename(text: str, m: tuple) -> str:
    """``T1`` / ``io:T1`` / ``obs:kill:T1`` with the thread index renamed."""
    mt = _TREF.search(text)
    if mt is None:
        return text
    j = int(mt.group(2))
    if j >= len(m):
        return text
    return text[:mt.start(2)] + str(m[j])


def rename_label(label, m: tuple):
    """A label (transition, instance, actor, tags) seen through ``m``."""
    t, i, actor, tags = label
    if i is not None and t.per in ("thread", "timer") and i < len(m):
        i = m[i]
    return (t, i, rename(actor, m), frozenset(rename(x, m) for x in tags) if tags else tags)


__all__ = ["supported", "canon", "apply", "identity", "inverse", "compose", "rename",
           "rename_label", "KWORKER"]
