"""v4.9: the series "fortify oom killer even more".

Changes against v4.8 (v4.9 tree; mm/oom_kill.c blob ec9f11d4f094):
signal->oom_mm with an mm_count reference (26db62f179d1 "oom: keep mm of
the killed task available"), MMF_OOM_REAPED renamed MMF_OOM_SKIP and
signal->oom_victims removed (862e3073b3ee), __mmput sets MMF_OOM_SKIP, the
reaper uses signal->oom_mm (no find_lock_task_mm) and sets MMF_OOM_SKIP at
``done:`` always, MMF_UNSTABLE (3f70dc38cec2), and 7d2e7a22cf27 "oom,
suspend: fix oom_killer_disable vs. pm suspend properly": exit_oom_victim
only by the victim itself, oom_killer_disable(timeout), no second freezing
pass in freeze_processes, and oom_reaper() no longer calls set_freezable().
"""

from ..kernel import abort_oom_mm, candidate_skipflag
from .v4_8 import KERNEL as V4_8

KERNEL = V4_8.derive(
    "v4.9",
    release="4.9",
    describe="signal->oom_mm + mm_count, MMF_OOM_SKIP, mmget_not_zero gate, exit_oom_victim "
             "only by the victim, oom_killer_disable(timeout)",
    cite="v4.9: mm/oom_kill.c (blob ec9f11d4f094) oom_reaper, __oom_reap_task_mm, "
         "oom_reap_task, mark_oom_victim, oom_killer_disable; kernel/fork.c:__mmput; "
         "kernel/power/process.c:freeze_processes (7d2e7a22cf27)",
    reaper_mm_lookup="oom_mm",
    reaper_remote_exit_oom_victim=False,
    reaper_done="always-skip",
    reaper_sets_unstable=True,
    reaper_freezable=False,
    oom_mm=True,
    oom_mm_mmgrab=True,
    signal_oom_victims=False,
    mmput_sets_skip=True,
    disable_timeout=True,
    second_freeze_pass=False,
    skip_name="MMF_OOM_SKIP",
    oom_abort=abort_oom_mm,
    victim_candidate=candidate_skipflag,
    fn_names=(("reap_attempt", "__oom_reap_task_mm"), ("reap_unmap", "__oom_reap_task_mm:unmap"),
              ("memcg_oom_lock", "mutex_lock")),
)
