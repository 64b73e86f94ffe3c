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


# --- task_will_free_mem's loop over the processes sharing the mm ---------------

MRELEASE = "process-mrelease+mm-sharer"


@pytest.mark.parametrize("name", ["v5.15", "v6.1", "v6.18"])
def test_process_mrelease_leaves_a_live_sharers_mm(name):
    """A userspace kill reaches V alone; S still uses the mm, so
    task_will_free_mem() is false and process_mrelease() returns -EINVAL."""
    r = check(ALL[name], parse_scenario(MRELEASE))
    assert r.verdicts["live_sharer_not_reaped"].verdict == "holds"


def test_sharer_loop_removed_is_caught():
    """Without the loop, process_mrelease() reaps memory S still uses: the
    counterexample ends in its __oom_reap_task_mm with S alive."""
    k = ALL["v6.18"].derive("v6.18-no-sharer-loop", twfm_sharer_loop=False)
    sc = parse_scenario(MRELEASE)
    v = check(k, sc).verdicts["live_sharer_not_reaped"]
    assert v.verdict == "violated"
    assert [s.actor for s in v.steps] == ["mrelease"] * len(v.steps)
    assert v.steps[-1].key == "mrelease_reap"
    assert "sharer_exit" not in [s.key for s in v.steps]
    replay(k, sc, v.steps)


def test_oom_kill_takes_the_sharer_with_the_victim():
    """An OOM kill of V kills S too (__oom_kill_process): then the mm may be
    reaped, and the property is vacuous in the OOM-only scenario."""
    r = check(ALL["v6.18"], parse_scenario(SCENARIO))
    assert r.verdicts["live_sharer_not_reaped"].verdict == "vacuous"
