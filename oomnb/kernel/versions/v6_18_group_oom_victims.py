"""Candidate fix of 6.18: count OOM victims per thread group.

Keeps "mm/oom_kill: thaw the entire OOM victim process" (every thread of a
victim group is thawed and exempt from freezing, so a frozen sibling cannot
keep the victim from exiting) and makes oom_killer_disable() wait for the
whole group: mark_oom_victim() counts ``oom_victims`` once per thread group
(when signal->oom_mm is first set), exit_mm() only clears TIF_MEMDIE, and
the group's last thread calls exit_oom_victim() in do_exit() after
exit_task_work(), so no victim thread can reach a device after
oom_killer_disable() has returned.  The counting per group and the later
exit_oom_victim() follow the 2016 RFC "mm, oom: do not rely on TIF_MEMDIE
for exit_oom_victim" (not merged); the exact call site here is this
model's choice.  ``--kernel v6.18+group-oom-victims``.
"""

from .v6_18 import KERNEL as V6_18

KERNEL = V6_18.derive(
    "v6.18+group-oom-victims",
    describe="v6.18 with oom_victims counted per thread group and exit_oom_victim at the "
             "group's last exit (after exit_task_work)",
    cite="patch on 6.18.2 mm/oom_kill.c:mark_oom_victim, exit_oom_victim; kernel/exit.c:"
         "exit_mm, do_exit",
    oom_victims_per_group=True,
    exit_oom_victim_at="group_exit",
)
