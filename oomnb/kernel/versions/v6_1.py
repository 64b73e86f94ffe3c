"""v6.1 (LTS; Debian 12): the OOM_REAPER_DELAY timer and the reworked exit_mmap.

Read in Debian's linux-source-6.1 (6.1.y): mm/oom_kill.c (queue_oom_reaper
with ``#define OOM_REAPER_DELAY (2*HZ)``, the wake_oom_reaper timer
callback, oom_reap_task_mm with mmap_read_trylock and the MMF_OOM_SKIP
test, mark_oom_victim with __thaw_task(tsk)), mm/mmap.c:exit_mmap
(mmap_read_lock; unmap_vmas; mmap_read_unlock; set_bit(MMF_OOM_SKIP);
mmap_write_lock; free_pgtables; remove_vma; __mt_destroy;
mmap_write_unlock), kernel/freezer.c:freezing_slow_path (TIF_MEMDIE).

Changes against v5.15: oom_reaper() calls set_freezable() again (v5.17;
present in the 6.1 tree, absent in 4.19 and 5.15); e4a38402c36e "oom_kill.c: futex: delay the OOM reaper
to allow time for proper futex cleanup" (v5.18): queue_oom_reaper arms a
2*HZ timer; bf3980c85212 "mm: drop oom code from exit_mmap" (v6.1): no OOM
block, MMF_OOM_SKIP for every mm between the unmap under the read lock
and the free under the write lock, and the maple tree is destroyed.  The
model of v6.1 has the same flags as v6.12.
"""

from .v5_15 import KERNEL as V5_15

KERNEL = V5_15.derive(
    "v6.1",
    release="6.1",
    reaper_delay="2*HZ",
    describe="v5.15 + OOM_REAPER_DELAY timer (v5.18) + exit_mmap unmap under mmap_read_lock, "
             "MMF_OOM_SKIP, free under mmap_write_lock (v6.1)",
    cite="linux-source-6.1 mm/oom_kill.c:queue_oom_reaper, wake_oom_reaper, oom_reap_task_mm, "
         "mark_oom_victim; mm/mmap.c:exit_mmap; kernel/freezer.c:freezing_slow_path "
         "(e4a38402c36e, bf3980c85212)",
    queue="timer",
    exit_mmap_oom_barrier=False,
    exit_mmap_self_reap=False,
    exit_mmap_locked=True,
    exit_mmap_sets_skip=True,
    tree_cleared=True,
    freeze_exempt="tif",
    mrelease_skip_check=True,
    reaper_freezable=True,         # linux-source-6.1 mm/oom_kill.c:oom_reaper set_freezable() (v5.17+)
    reaper_skips_mlocked=False,    # v5.18 'mm/munlock: delete munlock_vma_pages_all(), allow oomreap'
)
