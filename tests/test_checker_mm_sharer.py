"""An mm shared with a process outside the victim's thread group: the
sharer may drop the last mm_users reference and run exit_mmap itself.
Since 4837fe37adff exit_mmap asks whether the *mm* is an OOM victim
(MMF_OOM_VICTIM) rather than whether *current* is; with the old test the
sharer skips the MMF_OOM_SKIP + write-lock barrier and the oom_reaper
walks VMAs exit_mmap is freeing."""

from __future__ import annotations

import pytest
from checker_common import replay

from oomnb.checker.run import check
from oomnb.kernel import parse_scenario
from oomnb.kernel.versions import ALL

SCENARIO = "mm-sharer+second-oom"


@pytest.mark.parametrize("name", ["v4.9", "v4.19", "v5.15", "v6.1", "v6.18"])
def test_sharer_running_exit_mmap_is_safe(name):
    r = check(ALL[name], parse_scenario(SCENARIO))
    assert r.verdicts["no_reap_after_teardown"].verdict == "holds"
    assert r.verdicts["no_mm_use_after_free"].verdict == "holds"


def test_current_victim_test_is_caught():
    k = ALL["v5.15"].derive("v5.15-tsk_is_oom_victim", exit_mmap_victim_test="current")
    sc = parse_scenario(SCENARIO)
    v = check(k, sc).verdicts["no_reap_after_teardown"]
    assert v.verdict == "violated"
    keys = [s.key for s in v.steps]
    assert "sharer_exit" in keys and "exit_mmap_barrier" not in keys
    assert any(s.actor == "S" for s in v.steps)          # the sharer runs __mmput
    replay(k, sc, v.steps)


def test_sharer_holds_the_mm():
    """The sharer's reference keeps exit_mmap from running while it lives."""
    from oomnb.checker.explore import explore
    g = explore(ALL["v6.18"], parse_scenario(SCENARIO))
    assert any(s.town == 10 for s in g.states)          # the sharer ran __mmput somewhere
    for s in g.states:
        if s.shm:
            assert s.tpc == 0 and s.mm_users >= 1
