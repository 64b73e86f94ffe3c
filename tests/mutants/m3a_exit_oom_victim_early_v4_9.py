"""Mutant 3 (v4.9): exit_mm calls exit_oom_victim before mmput."""
from oomnb.kernel.versions import V4_9

KERNEL = V4_9.derive("v4.9-m3-early-exit-oom-victim", exit_oom_victim_before_mmput=True)
EXPECT = {"property": "disable_contract[tif]", "scenario": "aio-blocked+suspend+second-oom"}
