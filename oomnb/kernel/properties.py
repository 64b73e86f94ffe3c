"""Named properties of the OOM victim / oom_reaper protocol.

Three shapes:

* ``invariant``: a predicate on states that must never hold (``bad``).
* ``edge``: a predicate on one step (pre-state, actor, transition, tags)
  that must never hold.  The step's tags are the model's observation of
  what the kernel code does (``deref_mm``, ``walk_vmas``, ...).
* ``leadsto``: ``P ~> Q`` under the fairness of the run: on every fair
  path, from every state where P holds, Q eventually holds.  Violated
  iff a reachable P-and-not-Q state can stay in not-Q forever on a fair
  path (a fair SCC of the not-Q subgraph, :mod:`oomnb.checker.liveness`).

Each property also says when it is vacuous (its antecedent never occurs
in the explored graph) or out of scope for a scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .state import MEM_PARTLY, MEM_REAPED
from .state import (FROZEN, IN_SCOPE_DO_EXIT, IN_SCOPE_PM, MEM_MAPPED, MEM_STILL_MAPPED,
                    PM_IN_DISABLE,
                    PM_SUSPENDED, PM_WINDOW, VMAS_DANGLING, VMAS_FREEING)
from .state import TP_DONE, TP_EM_FREE, TP_EM_SKIP


@dataclass(frozen=True)
class Property:
    name: str
    shape: str                     # invariant | edge | leadsto
    claim: str                     # the kernel claim it encodes (one line)
    bad_state: Callable | None = None
    bad_edge: Callable | None = None
    antecedent_state: Callable | None = None   # vacuity: does this ever hold?
    antecedent_edge: Callable | None = None
    P: Callable | None = None
    Q: Callable | None = None
    exclude: frozenset = frozenset()           # transition keys removed (leadsto)
    out_of_scope: Callable | None = None       # scenario -> reason | None
    bound: str = ""                            # which step kinds to count

    @property
    def doc(self) -> str:
        return self.claim


def _victim_thread(actor: str, tags) -> int | None:
    """The victim thread whose own step this is (IO completions are steps
    of the ``IO`` actor and count for nobody)."""
    if actor.startswith("T") and actor[1:].isdigit():
        return int(actor[1:])
    return None


# --- no_mm_use_after_free ----------------------------------------------------

def _uaf(k, sc, s, actor, tr, tags, s2):
    return "deref_mm" in tags and s.mm_count <= 0


NO_MM_UAF = Property(
    "no_mm_use_after_free", "edge",
    "Nothing dereferences an mm_struct whose mm_count reached zero (v4.8: the reaper after "
    "find_lock_task_mm; v4.9+: oom_reap_task, oom_evaluate_task and the 6.x timer callback "
    "read signal->oom_mm, kept alive by mark_oom_victim's mmgrab until free_signal_struct).",
    bad_edge=_uaf, antecedent_edge=lambda k, sc, s, a, tr, tags, s2: "deref_mm" in tags)


# --- no_reap_after_teardown ------------------------------------------------

def _walk_teardown(k, sc, s, actor, tr, tags, s2):
    return "walk_vmas" in tags and s.vmas in (VMAS_FREEING, VMAS_DANGLING)


NO_REAP_AFTER_TEARDOWN = Property(
    "no_reap_after_teardown", "edge",
    "The oom_reaper never walks the VMAs/page tables of an mm while or after exit_mmap frees "
    "them (212925802454, 4837fe37adff; v4.8/v4.9 rely on mmget_not_zero, v6.1+ on "
    "MMF_OOM_SKIP + mmap_write_lock and the destroyed maple tree).",
    bad_edge=_walk_teardown, antecedent_edge=lambda k, sc, s, a, tr, tags, s2: "walk_vmas" in tags)


# --- disable_contract / suspend_exclusion -----------------------------------

def _runs_outside_refrigerator(window, reading, scope):
    """A victim thread's own step (not entering the refrigerator) while the
    PM state is in ``window``, by a thread still in ``scope``."""
    def bad(k, sc, s, actor, tr, tags, s2):
        if s.pm not in window or tr.key == "try_to_freeze":   # freezing is compliance
            return False
        t = _victim_thread(actor, tags)
        if t is None:
            return False
        pc, md, ever = s.th[t]
        if pc not in scope:
            return False
        if reading == "tif":
            return bool(ever)
        return bool(s.oom_mm or s.sig_victims or any(x[2] for x in s.th))
    return bad


_READING = {
    "tif": "Reading [tif]: threads that have or had TIF_MEMDIE.",
    "group": "Reading [group]: any thread of a group that is or was a victim (signal->oom_mm in "
             "v4.9+, signal->oom_victims > 0 in v4.8, a TIF_MEMDIE thread in v4.5; sticky like "
             "[tif]).",
}
_SCOPE = {
    "exit_mm": ("A thread counts until the end of its own exit_mm(), where exit_oom_victim() "
                "sits.", IN_SCOPE_PM),
    "do_exit": ("A thread counts until the end of exit_task_work() in do_exit(): exit_files() "
                "(->flush) and the last fput's __fput (->release) can do device IO.",
                IN_SCOPE_DO_EXIT),
}
_DISABLE_CLAIM = ("disable_contract: once oom_killer_disable() has returned true, and until "
                  "oom_killer_enable(), no thread of an OOM victim runs outside the "
                  "refrigerator (the contract freeze_processes relies on, 74070542099c, "
                  "7d2e7a22cf27). ")
_SUSPEND_CLAIM = ("suspend_exclusion: once freeze_processes() has returned 0 and suspend "
                  "proceeds, and until thaw_processes(), no thread of an OOM victim runs "
                  "outside the refrigerator. ")


def _suspend_prop(name, claim, window, reading, scope):
    return Property(
        name, "edge", claim + _READING[reading] + " " + _SCOPE[scope][0],
        bad_edge=_runs_outside_refrigerator(window, reading, _SCOPE[scope][1]),
        antecedent_state=lambda k, sc, s: s.pm in window)


DISABLE_CONTRACT_TIF = _suspend_prop("disable_contract[tif]", _DISABLE_CLAIM, PM_WINDOW, "tif",
                                     "exit_mm")
DISABLE_CONTRACT_GROUP = _suspend_prop("disable_contract[group]", _DISABLE_CLAIM, PM_WINDOW,
                                       "group", "exit_mm")
SUSPEND_EXCLUSION_TIF = _suspend_prop("suspend_exclusion[tif]", _SUSPEND_CLAIM, PM_SUSPENDED,
                                      "tif", "exit_mm")
SUSPEND_EXCLUSION_GROUP = _suspend_prop("suspend_exclusion[group]", _SUSPEND_CLAIM, PM_SUSPENDED,
                                        "group", "exit_mm")
DISABLE_CONTRACT_DO_EXIT = _suspend_prop("disable_contract[do_exit]", _DISABLE_CLAIM, PM_WINDOW,
                                         "group", "do_exit")
SUSPEND_EXCLUSION_DO_EXIT = _suspend_prop("suspend_exclusion[do_exit]", _SUSPEND_CLAIM,
                                          PM_SUSPENDED, "group", "do_exit")
SUSPEND_PROPERTIES = (DISABLE_CONTRACT_TIF, DISABLE_CONTRACT_GROUP, SUSPEND_EXCLUSION_TIF,
                      SUSPEND_EXCLUSION_GROUP, DISABLE_CONTRACT_DO_EXIT,
                      SUSPEND_EXCLUSION_DO_EXIT)


# --- frozen_sibling_exit ----------------------------------------------------

FROZEN_SIBLING_EXIT = Property(
    "frozen_sibling_exit", "leadsto",
    "Once V is killed, every thread of V eventually leaves the refrigerator, also while PM or "
    "its cgroup keeps freezing (the reason for 6.18's \"mm/oom_kill: thaw the entire OOM "
    "victim process\": a frozen sibling thread keeps the victim from exiting), on every fair "
    "path on which no IO completes and no lock held forever is released.",
    P=lambda k, sc, s: bool(s.killed),
    Q=lambda k, sc, s: all(t[0] != FROZEN for t in s.th),
    exclude=frozenset({"aio_complete", "dstate_io_done", "lock_release"}),
    bound="")


# --- no_premature_kill -------------------------------------------------------

def _premature(k, sc, s, actor, tr, tags, s2):
    # a partial reap (mmu-notifier) leaves reapable memory mapped; the reaper's
    # give-up after partial reaps counts like one after failed trylocks
    return "kill_W" in tags and s.mem in MEM_STILL_MAPPED and not s.gave_up and bool(s.killed)


NO_PREMATURE_KILL = Property(
    "no_premature_kill", "edge",
    "A second victim (W, another mm) is not selected while the first victim's reapable memory "
    "is still mapped, unless the reaper tried and failed: more than MAX_OOM_REAP_RETRIES failed "
    "mmap trylocks on this mm (v4.8: the second exhaustion).",
    bad_edge=_premature,
    antecedent_edge=lambda k, sc, s, a, tr, tags, s2: "kill_W" in tags and bool(s.killed))


# --- reaper_queue_integrity ------------------------------------------------

def _queue_bad(k, sc, s):
    q = s.rlist + s.rtimers
    if len(set(q)) != len(q):
        return True
    held = len(q) + (1 if s.rtask >= 0 else 0)
    return s.rrefs != held


REAPER_QUEUE_INTEGRITY = Property(
    "reaper_queue_integrity", "invariant",
    "A task is on the reaper's list (or has its oom_reaper_timer pending) at most once, and every "
    "task reference taken by wake_oom_reaper/queue_oom_reaper is put exactly once (v5.0 'do not "
    "enqueue same task twice').",
    bad_state=_queue_bad, antecedent_state=lambda k, sc, s: bool(s.rlist or s.rtimers))


# --- oom_victims_accounting --------------------------------------------------

def _accounting_bad(k, sc, s):
    if k.oom_victims_per_group:          # one count per victim group until its last exit
        return s.oom_victims != s.sig_victims + s.w_memdie
    return s.oom_victims != sum(t[1] for t in s.th) + s.w_memdie


OOM_VICTIMS_ACCOUNTING = Property(
    "oom_victims_accounting", "invariant",
    "The global oom_victims always equals the number of threads with TIF_MEMDIE "
    "(mark_oom_victim ++ once per thread; exit_oom_victim -- once, test_and_clear in v4.8); "
    "with per-group counting, the number of victim groups not yet exited (W, a "
    "memory.oom.group victim, counts its one thread).",
    bad_state=_accounting_bad,
    antecedent_state=lambda k, sc, s: s.oom_victims > 0)


# --- liveness ---------------------------------------------------------------

PM_PROGRESS = Property(
    "pm_progress", "leadsto",
    "On every fair path oom_killer_disable() returns (true or false) once called "
    "(v4.9 added the freeze_timeout; v4.5/v4.8 wait_event without timeout).",
    P=lambda k, sc, s: s.pm in PM_IN_DISABLE, Q=lambda k, sc, s: s.pm not in PM_IN_DISABLE,
    bound="pm_timer+sleep")

OOM_PROGRESS = Property(
    "oom_progress", "leadsto",
    "Whenever victim selection would abort now (the version's oom_scan_process_thread / "
    "oom_evaluate_task ABORT predicate), it stops holding on every fair path without IO "
    "completing or a lock held forever being released.",
    P=lambda k, sc, s: k.oom_abort(k, s), Q=lambda k, sc, s: not k.oom_abort(k, s),
    bound="attempt+timer")

REAP_PROGRESS = Property(
    "reap_progress", "leadsto",
    "Once V is killed, every reapable VMA of its mm is eventually unmapped, on every fair path "
    "on which its IO never completes (so a blocked victim cannot unmap it itself: the reaper "
    "must) and no lock is held forever.",
    P=lambda k, sc, s: bool(s.killed), Q=lambda k, sc, s: s.mem not in MEM_STILL_MAPPED,
    exclude=frozenset({"aio_complete", "dstate_io_done", "lock_release"}),
    out_of_scope=lambda sc: "a lock may be held forever" if sc.lock_forever else None,
    bound="attempt+timer")

PROPERTIES: tuple[Property, ...] = (
    NO_MM_UAF, NO_REAP_AFTER_TEARDOWN, *SUSPEND_PROPERTIES, PM_PROGRESS,
    OOM_PROGRESS, REAP_PROGRESS, NO_PREMATURE_KILL, REAPER_QUEUE_INTEGRITY,
    OOM_VICTIMS_ACCOUNTING, FROZEN_SIBLING_EXIT,
)
BY_NAME = {p.name: p for p in PROPERTIES}


#: names that select several properties
GROUPS = {
    "pm_exclusion": SUSPEND_PROPERTIES,
    "suspend": SUSPEND_PROPERTIES,
    "disable_contract": (DISABLE_CONTRACT_TIF, DISABLE_CONTRACT_GROUP, DISABLE_CONTRACT_DO_EXIT),
    "suspend_exclusion": (SUSPEND_EXCLUSION_TIF, SUSPEND_EXCLUSION_GROUP,
                          SUSPEND_EXCLUSION_DO_EXIT),
}


# --- no_premature_kill, strong reading (memory the reaper cannot unmap) ------

def unreapable_mapped(k, sc, s) -> bool:
    """The mm still maps memory no reaper unmaps (hugetlb; VM_LOCKED where
    the version's reaper skips it): until exit_mmap's unmap_vmas has run."""
    if not (sc.hugetlb or (sc.mlocked and k.reaper_skips_mlocked)):
        return False
    return s.tpc not in (TP_EM_SKIP, TP_EM_FREE, TP_DONE)


def pinned_allocated(k, sc, s) -> bool:
    """Pages pinned by in-flight direct IO (``odirect``) stay allocated,
    mapped or not, until the IO completes: neither the reaper's unmap nor
    exit_mmap's frees them."""
    return bool(s.pin)


def _premature_strong(k, sc, s, actor, tr, tags, s2):
    return ("kill_W" in tags and bool(s.killed) and not s.gave_up
            and (s.mem in MEM_STILL_MAPPED or unreapable_mapped(k, sc, s)
                 or pinned_allocated(k, sc, s)))


NO_PREMATURE_KILL_STRONG = Property(
    "no_premature_kill[strong]", "edge",
    "No second victim while the first still holds memory that will be freed: reapable "
    "memory still mapped, memory the reaper skips (hugetlb; VM_LOCKED before v5.18; "
    "mm/oom_kill.c:__oom_reap_task_mm) that exit_mmap has not unmapped yet, or pages pinned by "
    "in-flight direct IO, which only the IO's completion frees (the reaper reports them "
    "reaped: anon-rss counts mapped pages) -- unless the reaper gave up.  no_premature_kill "
    "is the reapable reading.",
    bad_edge=_premature_strong,
    antecedent_edge=lambda k, sc, s, a, tr, tags, s2: "kill_W" in tags and bool(s.killed))

# --- memcg OOM path (memcg-oom, oom-group) ------------------------------------

def _dying_oom(k, sc, s, actor, tr, tags, s2):
    return "dying_oom" in tags


MEMCG_DYING_CHARGER_BAILS = Property(
    "memcg_dying_charger_bails", "edge",
    "A memcg charger that is already dying (fatal signal pending: here W's thread A after a "
    "memory.oom.group kill that came while it waited for oom_lock) does not run the OOM killer: "
    "mem_cgroup_out_of_memory gives up the killable oom_lock wait or re-checks task_is_dying() "
    "under the lock (7775face2079, v5.1).  Versions without the re-check (4.19, and 6.18 after "
    "\"memcg, oom: do not bypass oom killer for dying tasks\") let it run out_of_memory.",
    bad_edge=_dying_oom,
    antecedent_edge=lambda k, sc, s, a, tr, tags, s2: a == "A" and sc.memcg_oom and bool(s.w_killed)
    and s.apc != 0)

GROUP_REAP_PROGRESS = Property(
    "group_reap_progress", "leadsto",
    "Once memory.oom.group has made W an OOM victim too, W's reapable memory is eventually "
    "unmapped, also on paths where W never gets to exit (its exit is not a fair step): the "
    "group kill queues every member for the oom_reaper (queue_oom_reaper / wake_oom_reaper per "
    "__oom_kill_process, 3d8b38eb81ca) and the reaper gets to each queued task in turn.",
    P=lambda k, sc, s: bool(s.w_oom_mm), Q=lambda k, sc, s: s.w_mem != MEM_MAPPED,
    out_of_scope=lambda sc: None if sc.oom_group else "no memory.oom.group",
    bound="")

#: properties the memcg scenarios add to the standard set
MEMCG_PROPERTIES = (MEMCG_DYING_CHARGER_BAILS, GROUP_REAP_PROGRESS)


def standard_properties(sc) -> tuple:
    """The properties checked by default in scenario ``sc``: the standard
    set, plus those of the mechanisms it has (:func:`scenario_properties`:
    the memcg path's in ``memcg-oom`` scenarios, ...)."""
    return PROPERTIES + scenario_properties(sc)


#: properties outside the standard set, selected by name (``--property``)
EXTRA = (NO_PREMATURE_KILL_STRONG,)
EXTRA_BY_NAME = {p.name: p for p in EXTRA}


# --- robust futex -------------------------------------------------------------

def _reaps(s, s2) -> bool:
    """The step unmaps V's reapable memory remotely (oom_reaper, process_mrelease),
    all of it or, with ``mmu-notifier``, all but the refusing notifier's VMA."""
    return s.mem in MEM_STILL_MAPPED and s2.mem in (MEM_REAPED, MEM_PARTLY) and s2.mem != s.mem


ROBUST_LIST_INTACT = Property(
    "robust_list_intact", "edge",
    "No reaper (the oom_reaper, process_mrelease) unmaps the victim's memory while a thread of "
    "it that has a robust futex list has not finished exit_robust_list: the walk reads the "
    "list in that memory with get_user() and on reaped memory leaves the waiters asleep for "
    "ever (e4a38402c36e \"oom_kill.c: futex: delay the OOM reaper to allow time for proper "
    "futex cleanup\", v5.18: OOM_REAPER_DELAY).",
    bad_edge=lambda k, sc, s, a, tr, tags, s2: _reaps(s, s2) and bool(s.robust),
    antecedent_state=lambda k, sc, s: bool(s.killed and s.robust))


# --- init sharing the mm ----------------------------------------------------------

INIT_MM_NOT_REAPED = Property(
    "init_mm_not_reaped", "edge",
    "No reaper unmaps an mm that global init shares: init is never killed and keeps using that "
    "memory (\"We cannot use oom_reaper for the mm shared by this process because it wouldn't "
    "get killed and so the memory might be still used\", v4.8 mm/oom_kill.c:oom_kill_process; "
    "the is_global_init test of the sharer loop, 4.9 and 6.12 __oom_kill_process).",
    bad_edge=lambda k, sc, s, a, tr, tags, s2: bool(sc.init_sharer) and _reaps(s, s2),
    antecedent_state=lambda k, sc, s: bool(sc.init_sharer and s.killed))


def _sharer_alive(s) -> bool:
    """S, the process sharing V's mm (mm-sharer), still holds it and got no SIGKILL."""
    return bool(s.shm and not (s.oom_mm or any(t[2] for t in s.th)))


LIVE_SHARER_NOT_REAPED = Property(
    "live_sharer_not_reaped", "edge",
    "No reaper unmaps an mm that a process which is not dying still shares: task_will_free_mem "
    "asks every process sharing the mm to be dying (6.1 mm/oom_kill.c:task_will_free_mem, the "
    "loop over process_shares_mm), which keeps out_of_memory's shortcut and process_mrelease() "
    "from reaping memory a live process uses; __oom_kill_process kills the sharers with the "
    "victim.",
    bad_edge=lambda k, sc, s, a, tr, tags, s2: bool(sc.mm_sharer) and _sharer_alive(s)
    and _reaps(s, s2),
    antecedent_state=lambda k, sc, s: bool(sc.mm_sharer and s.killed and _sharer_alive(s)))

#: properties of one mechanism, checked by default in the scenarios that have it
#: (scenario field -> properties) and selectable by name everywhere
SCENARIO_PROPERTIES = {"memcg_oom": MEMCG_PROPERTIES,
                       "robust_futex": (ROBUST_LIST_INTACT,),
                       "init_sharer": (INIT_MM_NOT_REAPED,),
                       "mm_sharer": (LIVE_SHARER_NOT_REAPED,)}
MECH_BY_NAME = {p.name: p for ps in SCENARIO_PROPERTIES.values() for p in ps}


def scenario_properties(sc) -> tuple:
    """The mechanism properties of the tokens scenario ``sc`` has."""
    return tuple(p for f, ps in SCENARIO_PROPERTIES.items() if getattr(sc, f) for p in ps)


def select(names) -> tuple[Property, ...]:
    """Properties by name; ``disable_contract`` / ``suspend_exclusion`` mean
    all their readings and scopes, ``suspend`` (or ``pm_exclusion``) all six."""
    if not names:
        return PROPERTIES
    out = []
    for n in names:
        if n in GROUPS:
            out += list(GROUPS[n])
        elif n in BY_NAME:
            out.append(BY_NAME[n])
        elif n in EXTRA_BY_NAME:
            out.append(EXTRA_BY_NAME[n])
        elif n in MECH_BY_NAME:
            out.append(MECH_BY_NAME[n])
        else:
            from ..errors import OomnbError
            known = ", ".join([*BY_NAME, *EXTRA_BY_NAME, *MECH_BY_NAME, *GROUPS])
            raise OomnbError(f"unknown property {n!r} (known: {known})")
    return tuple(out)
