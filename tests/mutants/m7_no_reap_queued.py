"""Mutant 7: v6.18 queue_oom_reaper without the MMF_OOM_REAP_QUEUED test."""
from oomnb.kernel.versions import V6_18

KERNEL = V6_18.derive("v6.18-m7-no-reap-queued", queue_mmf_test=False)
EXPECT = {"property": "reaper_queue_integrity", "scenario": "victim-oom"}
