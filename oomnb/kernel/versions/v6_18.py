"""v6.18: the current reaper (6.18.2 tree; every function below also read in
Debian's linux-source-6.12: mm/oom_kill.c:queue_oom_reaper,
wake_oom_reaper, oom_reaper, oom_reap_task, oom_reap_task_mm,
__oom_reap_task_mm, mark_oom_victim, exit_oom_victim, oom_killer_disable;
mm/mmap.c:exit_mmap; kernel/fork.c:__mmput, free_signal_struct;
kernel/exit.c:do_exit, exit_mm; kernel/freezer.c:freezing_slow_path).

Changes against v4.9: no oom_lock in the reaper (af5679fbc669, v4.19); no
mmget_not_zero, the reaper works on mm_users == 0 and tests MMF_OOM_SKIP
under mmap_read_trylock (212925802454, v4.14); exit_mmap unmaps under
mmap_read_lock, sets MMF_OOM_SKIP, frees under mmap_write_lock
(bf3980c85212, v6.1) and the maple tree is destroyed; __mmput no longer
sets the flag; MMF_OOM_REAP_QUEUED (v5.0); queue_oom_reaper with the
OOM_REAPER_DELAY timer (e4a38402c36e, v5.18); oom_reaper() freezable again
(set_freezable(), present in 6.12).

6.18 only (not in 6.12): 59d4d36158ba "mm/oom_kill: thaw the entire OOM
victim process" (merged for v6.18): mark_oom_victim calls thaw_process(tsk) for every
thread and kernel/freezer.c:freezing_slow_path exempts every thread of a
group with signal->oom_mm (``tsk_is_oom_victim(p)``) instead of TIF_MEMDIE
threads; oom_victims still counts the TIF_MEMDIE thread only and
exit_oom_victim() still runs at the end of that thread's exit_mm().

memcg OOM path (linux-6.18.y mm/memcontrol.c:mem_cgroup_out_of_memory):
mutex_lock_killable(&oom_lock) (7775face2079, v5.1) and memory.oom.group
(3d8b38eb81ca, v4.19), but no ``task_is_dying()`` re-check under the lock:
"memcg, oom: do not bypass oom killer for dying tasks" (after 6.12) lets a
dying charger run out_of_memory so that the oom_reaper can be queued for
it; the 6.12 tree still has ``ret = task_is_dying() || out_of_memory(&oc)``.
"""

from .v4_9 import KERNEL as V4_9

KERNEL = V4_9.derive(
    "v6.18",
    release="6.18",
    reaper_delay="2*HZ",
    describe="OOM_REAPER_DELAY timer, MMF_OOM_REAP_QUEUED, reaper on mm_users==0 with "
             "MMF_OOM_SKIP under mmap_lock, exit_mmap sets MMF_OOM_SKIP, thaw_process(group)",
    cite="6.18.2: kernel/freezer.c:freezing_slow_path (tsk_is_oom_victim), mm/oom_kill.c:"
         "mark_oom_victim (thaw_process) (59d4d36158ba); 6.12: mm/oom_kill.c, mm/mmap.c:exit_mmap, "
         "kernel/fork.c:__mmput, kernel/exit.c:do_exit",
    reaper_oom_lock=False,
    reaper_mmget_gate=False,
    reaper_skip_check=True,
    reaper_freezable=True,
    queue="timer",
    queue_mmf_test=True,
    mmput_sets_skip=False,
    exit_mmap_locked=True,
    exit_mmap_sets_skip=True,
    tree_cleared=True,
    unable_quiet_if_skip=True,
    freeze_exempt="group",
    process_mrelease=True,                 # v5.15, with the 6.1 tree's MMF_OOM_SKIP re-check
    mrelease_skip_check=True,
    reaper_skips_mlocked=False,            # 6.1 tree: only VM_HUGETLB|VM_PFNMAP are skipped
    reaper_mmu_notifier="nonblock",        # 6.18 mm/oom_kill.c:__oom_reap_task_mm (93065ac753e4)
    fn_names=(("reap_attempt", "oom_reap_task_mm"), ("reap_unmap", "__oom_reap_task_mm")),
    memcg_oom_group=True,          # 3d8b38eb81ca (v4.19); 6.12 mm/oom_kill.c:oom_kill_process
    memcg_oom_lock="killable",     # 7775face2079 (v5.1)
    memcg_dying_bail=False,        # 6.18.y: ret = out_of_memory(&oc)
)
