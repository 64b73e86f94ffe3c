"""The model's state: one immutable, hashable record of small integers.

Everything the OOM victim / oom_reaper protocol depends on is a field of
:class:`State`; nothing else is remembered between steps.  The record is a
``NamedTuple`` so it hashes and compares as a tuple (fast visited sets)
while fields keep their kernel names.

Abstractions (what the state leaves out):

* One victim thread group ``V`` with one ``mm_struct`` ``M``.  ``W`` is
  the one other killable process in the same memcg; it is represented
  only by ``w_killed`` (selecting it is what ``no_premature_kill`` is
  about), except under ``oom-group`` (memory.oom.group), where the kill
  of V kills W too and W is a second OOM victim with its own mm: the
  ``w_*`` fields (TIF_MEMDIE, signal->oom_mm, the mm's flags and memory,
  whether W has exited) and the index ``W_TASK`` on the reaper's list.
  W is one single-threaded process whose mm nobody else locks or pins:
  its exit (do_exit .. exit_mm, exit_mmap included) is one step, its
  mm_struct's lifetime is not tracked, and it does not freeze.  The
  allocating task ``A`` is a kernel-context allocator that is never
  frozen; under ``memcg-oom`` it is W's thread charging the memcg (so
  killing W makes A a dying charger).
* The address space is one token: ``mem`` (mapped / unmapped by the
  oom_reaper / unmapped by ``exit_mmap``) and ``vmas`` (the VMA tree and
  page tables: intact / being freed without a lock / freed with a
  dangling ``mm->mmap`` / freed and emptied).  By default every VMA is
  reapable (anonymous or private, not hugetlb/PFNMAP, not VM_LOCKED) and
  unmapping frees it.  Scenario tokens add what is not: ``hugetlb`` /
  ``mlocked`` (VMAs the reaper skips; no field, read from the scenario),
  ``odirect`` (``pin``: pages pinned by in-flight direct IO, which neither
  the reaper's nor exit_mmap's unmap frees) and ``mmu-notifier`` (``mem`` =
  reaped partly: a VMA whose MMU notifier refused the non-blocking
  invalidation stays mapped).
* Counters are exact (``mm_users``, ``mm_count``, ``oom_victims``,
  ``signal->oom_victims``, the reaper's task references); time is not:
  every timer (``OOM_REAPER_DELAY``, ``HZ/10`` between reaper attempts,
  the freezer and ``oom_killer_disable`` timeouts) is one abstract step.
"""

from __future__ import annotations

from typing import NamedTuple

# --- victim thread program counter: where it is in do_exit -------------
RUN = 0          # user space / get_signal(); has ->mm
FROZEN = 1       # in __refrigerator(); has ->mm
DSTATE = 2       # uninterruptible IO in a syscall; has ->mm, not freezable
EXITING = 3      # do_exit() after exit_signals() (PF_EXITING); has ->mm
MMPUT = 4        # exit_mm(): past tsk->mm = NULL, before mmput()
IN_MMPUT = 5     # exit_mm(): inside mmput() -> __mmput() (last user)
EXIT_OOM = 6     # exit_mm(): after mmput(), TIF_MEMDIE test/exit_oom_victim()
POST = 7         # do_exit() after exit_mm()
DEAD = 8         # exit_notify() done, final schedule() done (zombie)
RELEASED = 9     # release_task(): task_struct reference dropped
EXIT_OOM_EARLY = 10  # only for patches that call exit_oom_victim() before mmput()
FILES = 11       # do_exit() after exit_files() (->flush done), before exit_task_work()

PC_NAMES = {RUN: "RUN", FROZEN: "FROZEN", DSTATE: "DSTATE", EXITING: "EXITING",
            MMPUT: "MMPUT", IN_MMPUT: "__MMPUT", EXIT_OOM: "EXIT_OOM", POST: "POST_EXIT_MM",
            DEAD: "DEAD", RELEASED: "RELEASED", EXIT_OOM_EARLY: "EXIT_OOM_EARLY",
            FILES: "POST_EXIT_FILES"}

HAS_MM = frozenset({RUN, FROZEN, DSTATE, EXITING})
#: up to and including the end of the thread's own exit_mm(), where exit_oom_victim() sits
#: (the exit_mm scope of the suspend properties)
IN_SCOPE_PM = frozenset({RUN, FROZEN, DSTATE, EXITING, MMPUT, IN_MMPUT, EXIT_OOM, EXIT_OOM_EARLY})
#: ... and the rest of do_exit() that can touch devices: exit_files() (filp_close -> ->flush,
#: the last fput queues __fput) and exit_task_work() (__fput -> ->release) (the do_exit scope)
IN_SCOPE_DO_EXIT = IN_SCOPE_PM | frozenset({POST, FILES})

# --- __mmput() phase (tpc) ---------------------------------------------
TP_NONE = 0
TP_AIO = 1        # exit_aio(): waits for in-flight AIO
TP_EM_UNMAP = 2   # exit_mmap(): unmap_vmas()
TP_EM_SKIP = 3    # exit_mmap(): set_bit(MMF_OOM_SKIP) (v6.1+)
TP_EM_FREE = 4    # exit_mmap(): free_pgtables()/remove_vma() ... __mmput tail, mmdrop()
TP_DONE = 5
TP_NAMES = {TP_NONE: "-", TP_AIO: "exit_aio", TP_EM_UNMAP: "exit_mmap:unmap",
            TP_EM_SKIP: "exit_mmap:skip", TP_EM_FREE: "exit_mmap:free", TP_DONE: "done"}
KWORKER = 9       # owner of __mmput when mmput_async() dropped the last user
# v4.14-v6.0 exit_mmap of an OOM victim's mm (212925802454, 27ae357fa82b), before unmap_vmas:
TP_EM_OOM = 6     # exit_mmap(): (v4.19+ __oom_reap_task_mm(mm)), set_bit(MMF_OOM_SKIP)
TP_EM_BARRIER = 7  # exit_mmap(): mmap_write_lock(); mmap_write_unlock() (waits for the reaper)
TP_NAMES[TP_EM_OOM] = "exit_mmap:oom_reap"
# --- process_mrelease() caller (a userspace killer such as lmkd) ------------
MR_IDLE, MR_GOT_MM, MR_LOCKED, MR_DONE = 0, 1, 2, 3
MR_NAMES = {0: "idle", 1: "mmgrab", 2: "mmap_read_lock", 3: "returned"}
SHARER = 10       # owner of __mmput: the process sharing V's mm (CLONE_VM without CLONE_THREAD)
TP_NAMES[TP_EM_BARRIER] = "exit_mmap:write_lock_barrier"

# --- mm->flags (bit names are per version, see Kernel.flag_names) -------
MMF_SKIP = 1           # MMF_OOM_REAPED (v4.8) / MMF_OOM_SKIP (v4.9+)
MMF_NOT_REAPABLE = 2   # v4.8 only
MMF_UNSTABLE = 4       # v4.9+
MMF_REAP_QUEUED = 8    # v5.0+

# --- address space ------------------------------------------------------
MEM_MAPPED, MEM_REAPED, MEM_EXITED = 0, 1, 2
MEM_NAMES = {0: "mapped", 1: "reaped", 2: "unmapped_by_exit_mmap"}
MEM_PARTLY = 3    # a reap attempt skipped a VMA (its MMU notifier refused): the rest unmapped
MEM_NAMES[MEM_PARTLY] = "reaped_partly"
#: reapable memory still mapped (all of it, or what a partial reap left)
MEM_STILL_MAPPED = frozenset({MEM_MAPPED, MEM_PARTLY})
VMAS_INTACT, VMAS_FREEING, VMAS_DANGLING, VMAS_CLEARED = 0, 1, 2, 3
VMAS_NAMES = {0: "intact", 1: "being_freed", 2: "freed(dangling mm->mmap)", 3: "freed(tree destroyed)"}

# --- oom_reaper kthread ---------------------------------------------------
R_IDLE, R_ATTEMPT, R_UNMAP, R_SLEEP, R_DONE = 0, 1, 2, 3, 4
R_NAMES = {0: "idle", 1: "attempt", 2: "unmapping", 3: "sleep", 4: "done"}

# --- oom_lock owner -------------------------------------------------------
L_FREE, L_A, L_REAPER, L_PM = 0, 1, 2, 3
LOCK_NAMES = {0: "free", 1: "A", 2: "oom_reaper", 3: "pm"}

# --- PM (freeze_processes / oom_killer_disable) ---------------------------
P_OFF, P_FREEZE, P_DIS_LOCK, P_DIS_WAIT, P_PASS2, P_SUSP, P_DONE = range(7)
P_NAMES = {0: "off", 1: "freezing", 2: "oom_killer_disable:lock", 3: "oom_killer_disable:wait",
           4: "second_freeze_pass", 5: "suspended", 6: "done"}
PM_FREEZING = frozenset({P_FREEZE, P_DIS_LOCK, P_DIS_WAIT, P_PASS2, P_SUSP})
PM_WINDOW = frozenset({P_PASS2, P_SUSP})     # oom_killer_disable() returned true, not yet enabled
PM_SUSPENDED = frozenset({P_SUSP})          # freeze_processes() returned 0, before thaw_processes()
PM_IN_DISABLE = frozenset({P_DIS_LOCK, P_DIS_WAIT})

# --- memcg OOM path ---------------------------------------------------------
A_IDLE, A_HOLDS, A_WAITS = 0, 1, 2   # apc: A's place; A_WAITS: queued on oom_lock (memcg-oom)
A_NAMES = {0: "idle", 1: "holds oom_lock", 2: "waits for oom_lock"}
W_TASK = 7        # W as an entry of oom_reaper_list / oom_reaper_timer / rtask (not a V thread)


class State(NamedTuple):
    """One global state.  ``th[i] = (pc, TIF_MEMDIE, had_TIF_MEMDIE)``."""

    th: tuple
    killed: int        # SIGKILL sent to V (SIGNAL_GROUP_EXIT)
    oom_victims: int   # global atomic oom_victims
    sig_victims: int   # signal->oom_victims (v4.8; per-group counting patches)
    oom_mm: int        # signal->oom_mm installed (v4.9+)
    mm_users: int
    mm_count: int      # 0 means the mm_struct was freed (__mmdrop)
    mmf: int           # mm->flags, MMF_* bits above
    mem: int
    vmas: int
    town: int          # who runs __mmput: -1, thread index, KWORKER
    tpc: int
    io: int            # AIO of the victim still in flight
    lockf: int         # another process holds mmap_lock for write
    rpc: int           # oom_reaper kthread
    rtask: int         # task being reaped, -1
    ratt: int          # attempts made (11 = exhausted)
    rnext: int         # stale tsk->oom_reaper_list of rtask is non-NULL (v4.8/v4.9)
    rlist: tuple       # oom_reaper_list, head first
    rtimers: tuple     # tasks whose oom_reaper_timer is pending (v5.18+)
    rrefs: int         # task references taken by wake/queue_oom_reaper, not yet put
    gave_up: int       # the reaper set the skip flag after exhausting its retries
    disabled: int      # oom_killer_disabled
    oom_lock: int
    apc: int           # A: 0 idle, 1 holds oom_lock
    w_killed: int
    pm: int
    sig_freed: int     # free_signal_struct() ran
    mrpc: int = 0      # process_mrelease() caller (process-mrelease scenario), MR_* below
    shm: int = 0       # the mm-sharer process still holds an mm_users reference
    # --- robust futex
    robust: int = 0    # bit i: thread Ti still has tsk->robust_list registered (its exit_robust_list
                       # walk has not run yet; futex_cleanup sets it to NULL after the walk)
    # --- memcg OOM path (memcg-oom, oom-group): W as a second victim ---------------
    w_memdie: int = 0  # TIF_MEMDIE on W's thread (counted in oom_victims)
    w_oom_mm: int = 0  # W's signal->oom_mm is set (tsk_is_oom_victim(W))
    w_mmf: int = 0     # W's mm->flags, MMF_* bits above
    w_mem: int = 0     # W's address space: MEM_MAPPED / MEM_REAPED / MEM_EXITED
    w_exited: int = 0  # W ran do_exit through exit_mm (its mm is gone, exit_oom_victim done)
    # --- pinned and partly reaped memory
    pin: int = 0       # direct IO in flight pins part of the anonymous memory (odirect)


_FIELD_INDEX = {name: n for n, name in enumerate(State._fields)}
_tuple_new = tuple.__new__


def _fast_replace(self, **changes):
    """``namedtuple._replace``, about twice as fast (the checker's hot path)."""
    vals = list(self)
    try:
        for name, v in changes.items():
            vals[_FIELD_INDEX[name]] = v
    except KeyError as e:
        raise ValueError(f"Got unexpected field names: {[str(e.args[0])]!r}") from None
    return _tuple_new(State, vals)


State._replace = _fast_replace


def thread_has_mm(pc: int) -> bool:
    return pc in HAS_MM
