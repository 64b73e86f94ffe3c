"""Mutant 2: v4.9 oom_reap_task keeps v4.8's remote exit_oom_victim(tsk)
(undoes 7d2e7a22cf27)."""
from oomnb.kernel.versions import V4_9

KERNEL = V4_9.derive("v4.9-m2-remote-exit", reaper_remote_exit_oom_victim=True)
EXPECT = {"property": "disable_contract[tif]", "scenario": "aio-blocked+suspend+second-oom"}
