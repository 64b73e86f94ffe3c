"""Proposed patch on 6.18: delay the oom_reaper only for a process that uses
robust futexes.

zhongjinji, "[PATCH v4 2/3] mm/oom_kill: Only delay OOM reaper for
processes using robust futexes", linux-mm, 14 Aug 2025,
Message-ID <20250814135555.17493-3-zhongjinji@honor.com> (with 1/3
"futex: Introduce function process_has_robust_futex()",
<20250814135555.17493-2-zhongjinji@honor.com>; v2 of 1 Aug 2025 was
<20250801153649.23244-2-zhongjinji@honor.com>).  Not in the 6.18.2 tree.

What the patch does and how it is modelled:

* process_has_robust_futex(tsk): some thread of the process has a non-NULL
  ``robust_list`` (or ``compat_robust_list``); futex_cleanup sets it to
  NULL after the thread's exit_robust_list, so here: ``State.robust != 0``.
* __oom_kill_process / the task_will_free_mem shortcuts compute
  ``delay_reap`` for the victim and the processes sharing its mm, and
  ``queue_oom_reaper(victim, delay_reap)`` arms the timer with
  ``jiffies + (delay ? OOM_REAPER_DELAY : 0)``: with a robust list the
  2*HZ timer as in 6.18, without one the timer expires at once (here: the
  victim goes straight onto oom_reaper_list, ``Kernel.reaper_delay_robust_only``).
* process_mrelease: ``if (!reap || delay_reap) goto drop_mm`` -- it does
  not reap a process with a robust list.

``--kernel v6.18+robust-futex-delay``.
"""

from .v6_18 import KERNEL as V6_18

KERNEL = V6_18.derive(
    "v6.18+robust-futex-delay",
    describe="v6.18 with OOM_REAPER_DELAY only while a victim thread has a robust futex list "
             "(no delay otherwise); process_mrelease skips such a process",
    cite="patch on 6.18.2 mm/oom_kill.c:queue_oom_reaper, __oom_kill_process, out_of_memory, "
         "process_mrelease; kernel/futex/core.c:process_has_robust_futex "
         "(<20250814135555.17493-3-zhongjinji@honor.com>)",
    reaper_delay_robust_only=True,
)
