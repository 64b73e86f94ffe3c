"""v4.8: the reaper before the seed series (history §1, [SRC] v4.8.15).

Changes against v4.5: oom_reaper kthread (aac453635549, v4.6) taking
oom_lock per attempt, find_lock_task_mm + mm_count ref per attempt,
mmget_not_zero/mmput_async gate, MMF_OOM_REAPED / MMF_OOM_NOT_REAPABLE
two-strike, remote exit_oom_victim(tsk) at the end of oom_reap_task
(449d777d7ad6), signal->oom_victims, ``wake_oom_reaper`` queue test
``tsk == oom_reaper_list || tsk->oom_reaper_list``, oom_killer_disable
without timeout.  The 74070542099c second freezing pass is a model option
(``second_freeze_pass``); the default leaves it out because the
pm_exclusion property is judged where oom_killer_disable() returns.
"""

from ..kernel import abort_v4_8, candidate_skipflag, twfm_skipflag
from .v4_5 import KERNEL as V4_5

KERNEL = V4_5.derive(
    "v4.8",
    release="4.8",
    describe="reaper with find_lock_task_mm, oom_lock per attempt, MMF_OOM_REAPED/NOT_REAPABLE, "
             "remote exit_oom_victim",
    cite="kernel-oom-history.md §1 (v4.8.15 tree, mm/oom_kill.c blob d53a9aa00977)",
    has_reaper=True,
    reaper_oom_lock=True,
    reaper_mm_lookup="find_lock_task_mm",
    reaper_mmget_gate=True,
    reaper_remote_exit_oom_victim=True,
    reaper_done="two-strike",
    reaper_sets_unstable=False,
    queue="list",
    signal_oom_victims=True,
    skip_name="MMF_OOM_REAPED",
    oom_abort=abort_v4_8,
    victim_candidate=candidate_skipflag,
    task_will_free_mem=twfm_skipflag,
    fn_names=(("reap_attempt", "__oom_reap_task"), ("reap_unmap", "__oom_reap_task:unmap")),
)
