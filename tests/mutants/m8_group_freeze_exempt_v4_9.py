"""Mutant 8: v4.9 with 6.18's freezer exemption of the whole victim group
(tsk_is_oom_victim) while oom_victims still counts the TIF_MEMDIE thread."""
from oomnb.kernel.versions import V4_9

KERNEL = V4_9.derive("v4.9-m8-group-freeze-exempt", freeze_exempt="group")
EXPECT = {"property": "suspend_exclusion[group]", "scenario": "dstate-thread+suspend"}
