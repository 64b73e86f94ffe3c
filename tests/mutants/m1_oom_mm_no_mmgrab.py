"""Mutant 1: v4.9 mark_oom_victim installs signal->oom_mm without taking an
mm_count reference (drops the mmgrab/atomic_inc of 26db62f179d1)."""
from oomnb.kernel.versions import V4_9

KERNEL = V4_9.derive("v4.9-m1-no-mmgrab", oom_mm_mmgrab=False)
EXPECT = {"property": "no_mm_use_after_free", "scenario": "aio-blocked"}
