"""v4.9: the seed series "fortify oom killer even more" (history §2).

Changes against v4.8: signal->oom_mm with an mm_count reference
(26db62f179d1), MMF_OOM_REAPED renamed MMF_OOM_SKIP and
signal->oom_victims removed (862e3073b3ee), __mmput sets MMF_OOM_SKIP,
the reaper uses signal->oom_mm (no find_lock_task_mm) and sets
MMF_OOM_SKIP at ``done:`` always, exit_oom_victim only from the victim
(7d2e7a22cf27 / "enforce exit_oom_victim on current task"),
oom_killer_disable(timeout), MMF_UNSTABLE (3f70dc38cec2).
"""

from ..kernel import abort_oom_mm, candidate_skipflag
from .v4_8 import KERNEL as V4_8

KERNEL = V4_8.derive(
    "v4.9",
    release="4.9",
    describe="signal->oom_mm + mm_count, MMF_OOM_SKIP, mmget_not_zero gate, exit_oom_victim "
             "only by the victim, oom_killer_disable(timeout)",
    cite="kernel-oom-history.md §2 (v4.9 tree, mm/oom_kill.c blob ec9f11d4f094)",
    reaper_mm_lookup="oom_mm",
    reaper_remote_exit_oom_victim=False,
    reaper_done="always-skip",
    reaper_sets_unstable=True,
    oom_mm=True,
    oom_mm_mmgrab=True,
    signal_oom_victims=False,
    mmput_sets_skip=True,
    disable_timeout=True,
    skip_name="MMF_OOM_SKIP",
    oom_abort=abort_oom_mm,
    victim_candidate=candidate_skipflag,
    fn_names=(("reap_attempt", "__oom_reap_task_mm"), ("reap_unmap", "__oom_reap_task_mm:unmap")),
)
