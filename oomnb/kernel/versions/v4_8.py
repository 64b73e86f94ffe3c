"""v4.8: the reaper before the "fortify oom killer even more" series.

Changes against v4.5 (4.8.17 tree; mm/oom_kill.c blob d53a9aa00977): the
oom_reaper kthread (aac453635549, v4.6) taking oom_lock per attempt,
find_lock_task_mm + an mm_count reference per attempt, the
mmget_not_zero/mmput_async gate, MMF_OOM_REAPED / MMF_OOM_NOT_REAPABLE
two-strike, remote exit_oom_victim(tsk) at the end of oom_reap_task
(449d777d7ad6), signal->oom_victims, the ``wake_oom_reaper`` queue test
``tsk == oom_reaper_list || tsk->oom_reaper_list``, oom_killer_disable
without a timeout, a freezable reaper (set_freezable(), e26796066fdf "oom:
make oom_reaper freezable"), kernel/freezer.c:freezing_slow_path testing
the frozen task's own TIF_MEMDIE ("freezer, oom: check TIF_MEMDIE on the
correct task"), and kernel/power/process.c:freeze_processes freezing a
second time after oom_killer_disable() returned ("Double checking all
user space processes after OOM killer disable...", 74070542099c "oom,
suspend: fix oom_reaper vs. oom_killer_disable race", merged for v4.7).

``v4.8-no74070542099c`` is the same kernel without that second pass: the
race the commit closes (the reaper's remote exit_oom_victim lets
oom_killer_disable() return while the victim still runs) then reaches
suspend.
"""

from ..kernel import abort_v4_8, candidate_skipflag, twfm_skipflag
from .v4_5 import KERNEL as V4_5

KERNEL = V4_5.derive(
    "v4.8",
    release="4.8",
    describe="reaper with find_lock_task_mm, oom_lock per attempt, MMF_OOM_REAPED/NOT_REAPABLE, "
             "remote exit_oom_victim; second freezing pass after oom_killer_disable",
    cite="4.8.17: mm/oom_kill.c (blob d53a9aa00977) oom_reaper, oom_reap_task, __oom_reap_task, "
         "wake_oom_reaper, mark_oom_victim, exit_oom_victim; kernel/power/process.c:"
         "freeze_processes (74070542099c); kernel/freezer.c:freezing_slow_path",
    has_reaper=True,
    reaper_oom_lock=True,
    reaper_mm_lookup="find_lock_task_mm",
    reaper_mmget_gate=True,
    reaper_remote_exit_oom_victim=True,
    reaper_done="two-strike",
    reaper_sets_unstable=False,
    reaper_freezable=True,
    queue="list",
    signal_oom_victims=True,
    second_freeze_pass=True,
    freeze_exempt="tif",
    skip_name="MMF_OOM_REAPED",
    init_sharer="hide",            # oom_kill_process: init (or a kthread) shares the mm ->
                                   # set_bit(MMF_OOM_REAPED), no wake_oom_reaper ("has mm pinned by")
    reaper_mmu_notifier="none",            # 4.8.17 __oom_reap_task: no mmu_notifier call
    oom_abort=abort_v4_8,
    victim_candidate=candidate_skipflag,
    task_will_free_mem=twfm_skipflag,
    twfm_sharer_loop=True,         # v4.7 "fortify task_will_free_mem()": the sharers must be dying
    fn_names=(("reap_attempt", "__oom_reap_task"), ("reap_unmap", "__oom_reap_task:unmap"),
              ("memcg_oom_lock", "mutex_lock")),
)

#: v4.8 without 74070542099c's second freezing pass (the kernel the commit fixed)
NO_74070542099C = KERNEL.derive(
    "v4.8-no74070542099c",
    describe="v4.8 without the second freezing pass of 74070542099c",
    cite=KERNEL.cite + "; without kernel/power/process.c:freeze_processes' second "
                       "try_to_freeze_tasks (the parent of 74070542099c)",
    second_freeze_pass=False,
)
