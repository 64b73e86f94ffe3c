"""memcg mutant 2: 6.12 without the task_is_dying() re-check under oom_lock in
mem_cgroup_out_of_memory (7775face2079's second half)."""
from oomnb.kernel import load_kernel

KERNEL = load_kernel("v6.12").derive("v6.12-mc2-no-task-is-dying", memcg_dying_bail=False)
EXPECT = {"property": "memcg_dying_charger_bails", "scenario": "memcg-oom+oom-group+second-oom",
          "base": "holds", "mutant": "violated"}
