"""Mutant 6: v4.9 oom_killer_disable without its timeout (v4.8's
wait_event)."""
from oomnb.kernel.versions import V4_9

KERNEL = V4_9.derive("v4.9-m6-no-timeout", disable_timeout=False)
EXPECT = {"property": "pm_progress", "scenario": "aio-blocked+suspend+second-oom"}
