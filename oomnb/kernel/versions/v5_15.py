"""v5.15 (LTS): v4.19 plus MMF_OOM_REAP_QUEUED.

Read in a 5.15 tree (mm/mmap.c:exit_mmap, the OOM block unchanged from
4.19 but with mmap_write_lock/unlock) and against 4.19/6.1 mm/oom_kill.c.
Changes against v4.19: "oom, oom_reaper: do not enqueue same task twice"
(v5.0): wake_oom_reaper does test_and_set_bit(MMF_OOM_REAP_QUEUED) on the
mm instead of testing the task's list pointers.  process_mrelease()
(v5.15) is the ``process-mrelease`` scenario token.  Not yet: the
OOM_REAPER_DELAY timer (v5.18) and the exit_mmap rework (v6.1).

memcg OOM path: 7775face2079 "memcg: killed threads should not invoke
memcg OOM killer" (v5.1): mem_cgroup_out_of_memory waits for oom_lock with
``mutex_lock_killable`` (a fatal signal ends the wait, ``return true``)
and re-checks ``should_force_charge()`` (renamed ``task_is_dying()``:
tsk_is_oom_victim(current) || fatal_signal_pending(current) || PF_EXITING)
under the lock before out_of_memory; the same code is in the 6.1 tree.
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
    memcg_oom_lock="killable",     # 7775face2079 (v5.1); 6.1 mm/memcontrol.c
    fn_names=(("reap_attempt", "oom_reap_task_mm"), ("reap_unmap", "__oom_reap_task_mm")),
    memcg_dying_bail=True,         # ... ret = task_is_dying() || out_of_memory(&oc)
)
