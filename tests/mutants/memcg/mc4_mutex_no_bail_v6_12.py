"""memcg mutant 4: 6.12 with the 4.19 code, a plain mutex_lock and no
task_is_dying() re-check (7775face2079 reverted)."""
from oomnb.kernel import load_kernel

KERNEL = load_kernel("v6.12").derive("v6.12-mc4-revert-7775face2079", memcg_oom_lock="mutex",
                                     memcg_dying_bail=False)
EXPECT = {"property": "memcg_dying_charger_bails", "scenario": "memcg-oom+oom-group+second-oom",
          "base": "holds", "mutant": "violated"}
