"""v4.19 (LTS): the reaper without oom_lock, racing exit_mmap behind a barrier.

Read in a 4.19 tree (mm/oom_kill.c, mm/mmap.c).  Changes against v4.9:

* 212925802454 "mm, oom: allow oom reaper to race with exit_mmap" (v4.14):
  no mmget_not_zero/mmput_async gate; oom_reap_task_mm tests MMF_OOM_SKIP
  under down_read_trylock(mmap_sem); exit_mmap of a victim mm sets
  MMF_OOM_SKIP and does down_write(); up_write() before unmap_vmas, so a
  reaper that got in first is waited for and later attempts back off;
  __mmput no longer sets MMF_OOM_SKIP.
* 4837fe37adff "mm, oom_reaper: fix memory corruption" (v4.15):
  mark_oom_victim sets MMF_OOM_VICTIM and exit_mmap tests
  mm_is_oom_victim(mm) instead of the exiting task (the mm's last user may
  be another process); with one thread group per mm the model cannot tell
  the two tests apart.
* 27ae357fa82b "mm, oom: fix concurrent munlock and oom reaper unmap"
  (v4.19): exit_mmap reaps the victim mm itself (__oom_reap_task_mm)
  before setting MMF_OOM_SKIP.
* af5679fbc669 "mm, oom: remove oom_lock from oom_reaper" (v4.19).
* 93065ac753e4 "mm, oom: distinguish blockable mode for mmu notifiers"
  (v4.19): per VMA mmu_notifier_invalidate_range_start_nonblock(); a
  notifier that would block makes __oom_reap_task_mm skip the VMA and return
  false, oom_reap_task_mm skips the "reaped process" line and the reaper
  retries (4.19 tree mm/oom_kill.c:__oom_reap_task_mm, oom_reap_task_mm).
  The 4.8.17 and 4.9 reapers call no MMU notifier; the kernels in between
  (which sleep and skip an mm with notifiers) are not model versions.
* v4.17: "unable to reap" is not printed once MMF_OOM_SKIP is set
  (oom_reap_task: ``attempts <= MAX_OOM_REAP_RETRIES || test_bit(MMF_OOM_SKIP)``).

memcg OOM path (mm/memcontrol.c, 4.19 tree): 3d8b38eb81ca "mm, oom: introduce
memory.oom.group" (v4.19): oom_kill_process asks mem_cgroup_get_oom_group()
and kills every task of that memcg with mem_cgroup_scan_tasks(oom_group,
oom_kill_memcg_member) (mm/oom_kill.c); mem_cgroup_out_of_memory takes
oom_lock with a plain ``mutex_lock`` and calls out_of_memory with no
re-check of the charger (7775face2079, v5.1, came later; it was also
offered to 4.19-stable, so a late 4.19.y may have it: not checked).

Still as v4.9: wake_oom_reaper's ``tsk == oom_reaper_list ||
tsk->oom_reaper_list`` test (no MMF_OOM_REAP_QUEUED), no OOM_REAPER_DELAY,
exit_mmap frees the VMAs without a lock, TIF_MEMDIE freezer exemption.
"""

from .v4_9 import KERNEL as V4_9

KERNEL = V4_9.derive(
    "v4.19",
    release="4.19",
    describe="reaper without oom_lock and mmget gate, MMF_OOM_SKIP under mmap_sem; exit_mmap "
             "self-reaps a victim mm, sets MMF_OOM_SKIP and takes the write-lock barrier",
    cite="4.19 tree: mm/oom_kill.c:oom_reap_task_mm, oom_reap_task, wake_oom_reaper, "
         "mark_oom_victim; mm/mmap.c:exit_mmap (212925802454, 4837fe37adff, 27ae357fa82b, "
         "af5679fbc669)",
    reaper_oom_lock=False,
    reaper_mmget_gate=False,
    reaper_skip_check=True,
    mmput_sets_skip=False,
    exit_mmap_oom_barrier=True,
    exit_mmap_self_reap=True,
    unable_quiet_if_skip=True,
    reaper_mmu_notifier="nonblock",        # 93065ac753e4: __oom_reap_task_mm returns false
    fn_names=(("reap_attempt", "oom_reap_task_mm"), ("reap_unmap", "__oom_reap_task_mm"),
              ("memcg_oom_lock", "mutex_lock")),
    memcg_oom_group=True,          # 4.19 mm/memcontrol.c:mem_cgroup_get_oom_group (3d8b38eb81ca)
    memcg_oom_lock="mutex",        # 4.19 mm/memcontrol.c:mem_cgroup_out_of_memory mutex_lock
    memcg_dying_bail=False,
)
