"""memcg mutant 3: 6.18 whose memory.oom.group kill signals and marks every
task of the group but queues only the selected victim for the oom_reaper
(oom_kill_memcg_member without queue_oom_reaper)."""
from oomnb.kernel.versions import V6_18

KERNEL = V6_18.derive("v6.18-mc3-group-not-queued", oom_group_queues_members=False)
EXPECT = {"property": "group_reap_progress", "scenario": "memcg-oom+oom-group+second-oom",
          "base": "holds", "mutant": "violated"}
