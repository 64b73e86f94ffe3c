"""Equivalent mutant: v6.18 exit_mmap without set_bit(MMF_OOM_SKIP).

It survives: the reaper's ``done:`` sets MMF_OOM_SKIP anyway (after the
OOM_REAPER_DELAY timer and one attempt that finds an empty, destroyed
VMA tree), so only the window in which oom_evaluate_task aborts grows;
no verdict changes."""
from oomnb.kernel.versions import V6_18

KERNEL = V6_18.derive("v6.18-e1-exit-mmap-no-skip", exit_mmap_sets_skip=False)
EXPECT = {"property": None, "scenario": None}
