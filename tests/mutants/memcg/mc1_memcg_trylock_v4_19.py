"""memcg mutant 1: v4.19 whose mem_cgroup_out_of_memory takes oom_lock with the
page allocator's mutex_trylock (back off when contended) instead of waiting in
the mutex's queue: the charger is never queued when the group kill comes, so
it never holds the lock while dying."""
from oomnb.kernel.versions import LTS

KERNEL = LTS["v4.19"].derive("v4.19-mc1-memcg-trylock", memcg_oom_lock="trylock")
EXPECT = {"property": "memcg_dying_charger_bails", "scenario": "memcg-oom+oom-group+second-oom",
          "base": "violated", "mutant": "vacuous"}
