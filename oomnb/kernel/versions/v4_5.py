"""v4.5: before the oom_reaper.

mm/oom_kill.c (4.5.7 tree): TIF_MEMDIE and the global oom_victims;
mark_oom_victim / exit_oom_victim (called from kernel/exit.c:exit_mm after
mmput); oom_killer_disable without a timeout; the thread-wise
oom_scan_process_thread with TIF_MEMDIE -> ABORT and ``task_will_free_mem``
(PF_EXITING with ->mm) -> ABORT; the ``current->mm && fatal_signal_pending``
shortcut in out_of_memory.  No signal->oom_victims, no signal->oom_mm, no
MMF_OOM_* flags, no reaper.

kernel/freezer.c:freezing_slow_path tests ``test_thread_flag(TIF_MEMDIE)``,
the flag of *current*: the victim sees itself exempt (it leaves the
refrigerator and does not freeze again), but try_to_freeze_tasks, running
in the freezing task, counts a running victim as not frozen
(``freeze_exempt="tif-of-current"``; fixed in 4.8 by "freezer, oom: check
TIF_MEMDIE on the correct task").  kernel/power/process.c:freeze_processes
has no second freezing pass.
"""

from ..kernel import Kernel, abort_v4_5, candidate_v4_5, twfm_v4_5

KERNEL = Kernel(
    name="v4.5",
    release="4.5",
    describe="no oom_reaper; TIF_MEMDIE + oom_victims; oom_killer_disable without timeout; "
             "freezer tests current's TIF_MEMDIE",
    cite="4.5.7: mm/oom_kill.c:mark_oom_victim, exit_oom_victim, oom_killer_disable, "
         "oom_scan_process_thread, out_of_memory; kernel/freezer.c:freezing_slow_path; "
         "kernel/power/process.c:freeze_processes; kernel/exit.c:exit_mm",
    has_reaper=False,
    oom_mm=False,
    oom_mm_mmgrab=False,
    reaper_sets_unstable=False,
    disable_timeout=False,
    freeze_exempt="tif-of-current",
    skip_name="(none)",
    init_sharer="skip",            # 4.5.7 oom_kill_process: is_global_init(p) -> continue, no flag
    reaper_mmu_notifier="none",            # no reaper
    oom_abort=abort_v4_5,
    victim_candidate=candidate_v4_5,
    task_will_free_mem=twfm_v4_5,
    twfm_sharer_loop=False,        # no loop over the processes sharing the mm before v4.7
    fn_names=(("memcg_oom_lock", "mutex_lock"),),
)
