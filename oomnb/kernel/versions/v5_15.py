"""v5.15 (LTS): v4.19 plus MMF_OOM_REAP_QUEUED.

Read in a 5.15 tree (mm/mmap.c:exit_mmap, the OOM block unchanged from
4.19 but with mmap_write_lock/unlock) and against 4.19/6.1 mm/oom_kill.c.
Changes against v4.19: "oom, oom_reaper: do not enqueue same task twice"
(v5.0): wake_oom_reaper does test_and_set_bit(MMF_OOM_REAP_QUEUED) on the
mm instead of testing the task's list pointers.  process_mrelease()
(v5.15) is the ``process-mrelease`` scenario token.  Not yet: the
OOM_REAPER_DELAY timer (v5.18) and the exit_mmap rework (v6.1).
"""

from .v4_19 import KERNEL as V4_19

KERNEL = V4_19.derive(
    "v5.15",
    release="5.15",
    describe="v4.19 + MMF_OOM_REAP_QUEUED (wake_oom_reaper queues an mm once)",
    cite="5.15 tree mm/mmap.c:exit_mmap; mm/oom_kill.c:wake_oom_reaper (v5.0 'do not enqueue "
         "same task twice'), oom_reap_task_mm",
    queue_mmf_test=True,
    process_mrelease=True,
    mrelease_skip_check=False,
)
