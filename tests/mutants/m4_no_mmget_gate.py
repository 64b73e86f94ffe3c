"""Mutant 4: v4.9 __oom_reap_task_mm without the mmget_not_zero gate (and
without its mmput_async)."""
from oomnb.kernel.versions import V4_9

KERNEL = V4_9.derive("v4.9-m4-no-mmget-gate", reaper_mmget_gate=False)
EXPECT = {"property": "no_reap_after_teardown", "scenario": "aio-blocked"}
