"""v4.8 without 74070542099c ("oom, suspend: fix oom_reaper vs.
oom_killer_disable race"): freeze_processes returns right after
oom_killer_disable() succeeds.  ``--kernel v4.8-no74070542099c``."""

from .v4_8 import NO_74070542099C as KERNEL

__all__ = ["KERNEL"]
