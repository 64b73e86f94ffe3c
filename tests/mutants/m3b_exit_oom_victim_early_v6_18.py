"""Mutant 3 (v6.18): exit_mm calls exit_oom_victim before mmput."""
from oomnb.kernel.versions import V6_18

KERNEL = V6_18.derive("v6.18-m3-early-exit-oom-victim", exit_oom_victim_before_mmput=True)
EXPECT = {"property": "disable_contract[tif]", "scenario": "aio-blocked+suspend+second-oom"}
