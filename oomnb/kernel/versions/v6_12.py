"""v6.12 (Debian linux-source-6.12, read for this model): as v6.18 except
that kernel/freezer.c:freezing_slow_path exempts only TIF_MEMDIE threads
(``test_tsk_thread_flag(p, TIF_MEMDIE)``) and mm/oom_kill.c:mark_oom_victim
calls __thaw_task(tsk) for the marked thread only ("mm/oom_kill: thaw the
entire OOM victim process" came in 6.18), and mm/memcontrol.c:
mem_cgroup_out_of_memory still re-checks ``task_is_dying()`` under oom_lock
(``ret = task_is_dying() || out_of_memory(&oc)``, 7775face2079).
``--kernel v6.12``."""

from .v6_18 import KERNEL as V6_18

KERNEL = V6_18.derive(
    "v6.12",
    release="6.12",
    describe="v6.18 with the per-thread (TIF_MEMDIE) freezer exemption of 6.12 and the "
             "task_is_dying() bail-out of the memcg OOM path",
    cite="6.12: kernel/freezer.c:freezing_slow_path, mm/oom_kill.c:mark_oom_victim, "
         "mm/memcontrol.c:mem_cgroup_out_of_memory",
    freeze_exempt="tif",
    memcg_dying_bail=True,
)
