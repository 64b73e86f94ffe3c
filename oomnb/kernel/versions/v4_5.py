"""v4.5: before the oom_reaper (history §0.5, from LKML pre-images).

Relies on marked facts: TIF_MEMDIE, global oom_victims, oom_killer_disable
without timeout, freezer exemption of TIF_MEMDIE threads, thread-wise
``oom_scan_process_thread`` with TIF_MEMDIE -> ABORT [H];
``task_will_free_mem`` = PF_EXITING without coredump [M] (an exiting
thread that still has ->mm aborts the scan); the lock form in
oom_killer_disable [M]; the victim shortcut in out_of_memory [M];
mark-before-SIGKILL order [L] (immaterial: the kill is one step).
No signal->oom_victims, no oom_mm, no MMF_OOM_* flags, no reaper [H].
"""

from ..kernel import Kernel, abort_v4_5, candidate_v4_5, twfm_v4_5

KERNEL = Kernel(
    name="v4.5",
    release="4.5",
    describe="no oom_reaper; TIF_MEMDIE + oom_victims; oom_killer_disable without timeout",
    cite="kernel-oom-history.md §0.5 (not checked against a v4.5 tree)",
    has_reaper=False,
    oom_mm=False,
    oom_mm_mmgrab=False,
    reaper_sets_unstable=False,
    disable_timeout=False,
    freeze_exempt="tif",
    skip_name="(none)",
    oom_abort=abort_v4_5,
    victim_candidate=candidate_v4_5,
    task_will_free_mem=twfm_v4_5,
)
