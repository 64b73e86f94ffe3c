"""A kernel version = data (feature flags) + small override hooks.

All versions share one transition set (:mod:`oomnb.kernel.transitions`);
a version only says which code its functions contain.  A proposed patch
is a new :class:`Kernel` derived from an existing one::

    # my_patch.py, used as:  oomnb check --kernel my_patch.py
    from oomnb.kernel.versions import V4_9
    KERNEL = V4_9.derive("v4.9+no-gate", reaper_mmget_gate=False,
                         describe="__oom_reap_task_mm without mmget_not_zero")

Hooks (``oom_abort``, ``victim_candidate``, ``task_will_free_mem``) are
plain functions ``f(kernel, state) -> bool`` and can be replaced the
same way (``derive(..., oom_abort=my_fn)``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from .state import (EXITING, HAS_MM, MMF_NOT_REAPABLE, MMF_REAP_QUEUED, MMF_SKIP, MMF_UNSTABLE,
                    RELEASED)


def _iterated(s) -> bool:
    """V is still on the task list (some task_struct not released)."""
    return any(t[0] != RELEASED for t in s.th)


def _has_mm_thread(s) -> bool:
    return any(t[0] in HAS_MM for t in s.th)


def abort_v4_5(k, s) -> bool:
    """v4.5 mm/oom_kill.c:oom_scan_process_thread ABORT: a TIF_MEMDIE thread,
    or ``task_will_free_mem`` (PF_EXITING, still has ->mm) (4.5.7 tree)."""
    for pc, md, _ in s.th:
        if pc == RELEASED:
            continue
        if md:
            return True
        if pc == EXITING:      # PF_EXITING and t->mm != NULL
            return True
    return False


def abort_v4_8(k, s) -> bool:
    """v4.8 ``oom_scan_process_thread``: ``signal->oom_victims`` > 0 and
    ``find_lock_task_mm`` finds no thread or its mm lacks MMF_OOM_REAPED
    (v4.8 mm/oom_kill.c:oom_scan_process_thread, 4.8.17 tree)."""
    if not _iterated(s) or s.sig_victims <= 0:
        return False
    return not (_has_mm_thread(s) and s.mmf & MMF_SKIP)


def abort_oom_mm(k, s) -> bool:
    """v4.9+ ``oom_evaluate_task``: ``tsk_is_oom_victim`` (signal->oom_mm)
    without MMF_OOM_SKIP aborts the scan (v4.9 and 6.12
    mm/oom_kill.c:oom_evaluate_task); W too once memory.oom.group made it
    a victim (``oom-group``; W's exit sets MMF_OOM_SKIP, so a W that is no
    longer iterated never aborts)."""
    return bool(_iterated(s) and s.oom_mm and not s.mmf & MMF_SKIP) or \
        bool(s.w_oom_mm and not s.w_mmf & MMF_SKIP)


def candidate_v4_5(k, s) -> bool:
    """v4.5 iterates threads: V is a candidate if some thread still has ->mm."""
    return _has_mm_thread(s)


def candidate_skipflag(k, s) -> bool:
    """``oom_badness`` is 0 without a thread with ->mm (find_lock_task_mm)
    and for an mm with MMF_OOM_REAPED (v4.8) / MMF_OOM_SKIP (v4.9+); an
    oom_mm victim with the skip flag is ``goto next``."""
    return _has_mm_thread(s) and not s.mmf & MMF_SKIP


def twfm_v4_5(k, s) -> bool:
    """v4.5 ``out_of_memory``: ``current->mm && (fatal_signal_pending ||
    task_will_free_mem)`` [M]."""
    return True


def twfm_skipflag(k, s) -> bool:
    """v4.8/v4.9 ``task_will_free_mem(current)``: false once the mm has the
    skip flag ("already drained by the oom reaper")."""
    return not s.mmf & MMF_SKIP


@dataclass(frozen=True)
class Kernel:
    """Feature flags of one kernel version (or proposed patch)."""

    name: str
    describe: str = ""
    cite: str = ""
    release: str = ""                      # the kernel release whose emissions it has ("4.9")
    # --- time (see oomnb.kernel.timing): jiffies expressions in HZ --------
    hz: int = 250                          # CONFIG_HZ of the machine the numbers are for
    max_reap_retries: int = 10             # mm/oom_kill.c MAX_OOM_REAP_RETRIES
    reap_retry_sleep: str = "HZ/10"        # oom_reap_task: schedule_timeout_idle(HZ/10)
    reaper_delay: str = "0"                # OOM_REAPER_DELAY (2*HZ from v5.18), 0 before
    freeze_timeout_msecs: int = 20000      # kernel/power/process.c freeze_timeout_msecs
    alloc_retry_sleep: str = "1"           # __alloc_pages_may_oom: schedule_timeout_uninterruptible(1)
    has_reaper: bool = True
    reaper_oom_lock: bool = False          # v4.7-v4.18: mutex_lock(&oom_lock) per attempt
    reaper_mm_lookup: str = "oom_mm"       # "find_lock_task_mm" (v4.8) | "oom_mm" (v4.9+)
    reaper_mmget_gate: bool = False        # v4.8-v4.13: mmget_not_zero()/mmput_async()
    reaper_skip_check: bool = False        # v4.14+: test MMF_OOM_SKIP under mmap_lock
    reaper_remote_exit_oom_victim: bool = False   # v4.8: exit_oom_victim(tsk) in oom_reap_task
    reaper_done: str = "always-skip"       # "two-strike" (v4.8) | "always-skip" | "skip-on-success"
    reaper_sets_unstable: bool = True
    queue: str = "list"                    # "list" (wake_oom_reaper) | "timer" (queue_oom_reaper)
    queue_mmf_test: bool = False           # v5.0+: test_and_set_bit(MMF_OOM_REAP_QUEUED)
    oom_mm: bool = True                    # v4.9+: signal->oom_mm
    oom_mm_mmgrab: bool = True             # mark_oom_victim takes an mm_count ref for oom_mm
    signal_oom_victims: bool = False       # v4.8: signal->oom_victims
    mmput_sets_skip: bool = False          # v4.9-v4.13: __mmput sets MMF_OOM_SKIP
    exit_mmap_locked: bool = False         # v6.1+: unmap under read lock, free under write lock
    exit_mmap_sets_skip: bool = False      # v4.14+ (v6.1+: every mm)
    tree_cleared: bool = False             # v5.18+/v6.1: mm->mmap=NULL / __mt_destroy
    exit_mmap_oom_barrier: bool = False    # v4.14-v6.0: victim mm -> MMF_OOM_SKIP + write-lock barrier
    exit_mmap_self_reap: bool = False      # v4.19-v6.0: exit_mmap calls __oom_reap_task_mm first
    process_mrelease: bool = False         # v5.15+: the process_mrelease() syscall exists
    reaper_skips_mlocked: bool = True      # __oom_reap_task_mm skips VM_LOCKED (before v5.18)
    exit_mmap_victim_test: str = "mm"      # "mm": mm_is_oom_victim (v4.15+) | "current" (v4.14)
    mrelease_skip_check: bool = False      # 6.1 tree: MMF_OOM_SKIP tested again under the lock
    disable_timeout: bool = True           # v4.9+: oom_killer_disable(timeout)
    second_freeze_pass: bool = False       # v4.7/v4.8 74070542099c: freeze again after the disable
    freeze_exempt: str = "tif"             # "tif" (TIF_MEMDIE of the task) | "group"
                                           # (tsk_is_oom_victim, 6.18) | "tif-of-current" (v4.5:
                                           # freezing_slow_path tests current's TIF_MEMDIE)
    reaper_freezable: bool = False         # oom_reaper() calls set_freezable() (v4.8, v5.17+)
    oom_victims_per_group: bool = False    # patch: oom_victims counts victim thread groups
    exit_oom_victim_at: str = "exit_mm"    # "exit_mm" | "group_exit" (patch: the group's last
                                           # thread, after exit_task_work)
    exit_oom_victim_before_mmput: bool = False
    unable_quiet_if_skip: bool = False     # v4.17+: no "unable to reap" once MMF_OOM_SKIP is set
    # --- pinned and partly reaped memory
    reaper_mmu_notifier: str = "nonblock"  # "none": __oom_reap_task_mm calls no MMU notifier
                                           # (v4.6-v4.14) | "nonblock": per VMA
                                           # mmu_notifier_invalidate_range_start_nonblock, a
                                           # refusal skips the VMA and fails the attempt (v4.19+)
    skip_name: str = "MMF_OOM_SKIP"
    # --- robust futex
    reaper_delay_robust_only: bool = False  # patch: OOM_REAPER_DELAY only if a thread still has
                                            # a robust list (process_has_robust_futex); else no
                                            # delay, and process_mrelease does not reap it
    # --- init sharing the mm
    init_sharer: str = "hide"              # __oom_kill_process when global init shares the mm:
                                           # "hide" (v4.8+: set the skip flag, no reaper) |
                                           # "skip" (v4.5: no SIGKILL to init, nothing else) |
                                           # "none" (no is_global_init test: reaper queued)
    # --- memcg OOM path (memcg-oom, oom-group) ------------------------------
    memcg_oom_lock: str = "mutex"          # mem_cgroup_out_of_memory takes oom_lock with "mutex"
                                           # (mutex_lock, 4.19 tree) | "killable"
                                           # (mutex_lock_killable, 7775face2079, v5.1) |
                                           # "trylock" (a patch: the page allocator's way)
    memcg_dying_bail: bool = False         # should_force_charge()/task_is_dying() under oom_lock
                                           # (7775face2079 v5.1 .. 6.12; gone in 6.18)
    memcg_oom_group: bool = False          # memory.oom.group (3d8b38eb81ca, v4.19)
    oom_group_queues_members: bool = True  # oom_kill_memcg_member -> __oom_kill_process queues
                                           # each member for the reaper (every version with the
                                           # group; False: a patch that only signals and marks)
    oom_abort: Callable = abort_oom_mm
    victim_candidate: Callable = candidate_skipflag
    task_will_free_mem: Callable = twfm_skipflag
    twfm_sharer_loop: bool = True          # task_will_free_mem: every process sharing the mm
                                           # must be dying too (6.1 tree; v4.7 "fortify
                                           # task_will_free_mem()"); False: v4.5
    notes: tuple = field(default_factory=tuple)
    fn_names: tuple = ()                   # ((transition key, kernel function name), ...)

    def fn_name(self, t) -> str:
        """The kernel function name of transition ``t`` in this version."""
        for key, name in self.fn_names:
            if key == t.key:
                return name
        return t.name

    def derive(self, name: str, **changes) -> "Kernel":
        """A new version: this one with ``changes`` (flags or hooks)."""
        bad = [k for k in changes if k not in {f.name for f in dataclasses.fields(self)}]
        if bad:
            raise TypeError(f"unknown kernel flag(s): {', '.join(bad)}")
        return dataclasses.replace(self, name=name, **changes)

    def flag_names(self) -> dict:
        return {MMF_SKIP: self.skip_name, MMF_NOT_REAPABLE: "MMF_OOM_NOT_REAPABLE",
                MMF_UNSTABLE: "MMF_UNSTABLE", MMF_REAP_QUEUED: "MMF_OOM_REAP_QUEUED"}

    def fmt_flags(self, v: int) -> str:
        names = [n for b, n in sorted(self.flag_names().items()) if v & b]
        return "|".join(names) if names else "0"

    def diff(self, other: "Kernel") -> dict:
        """Flags that differ between two versions: {flag: (self, other)}."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name in ("name", "describe", "cite", "notes", "fn_names", "release"):
                continue
            a, b = getattr(self, f.name), getattr(other, f.name)
            if a != b:
                out[f.name] = (getattr(a, "__name__", a), getattr(b, "__name__", b))
        return out
