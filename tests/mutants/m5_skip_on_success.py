"""Mutant 5: v6.18 oom_reap_task sets MMF_OOM_SKIP only after a successful
reap (the give-up path no longer hides the mm)."""
from oomnb.kernel.versions import V6_18

KERNEL = V6_18.derive("v6.18-m5-skip-on-success", reaper_done="skip-on-success")
EXPECT = {"property": "oom_progress", "scenario": "mmap-lock-forever"}
