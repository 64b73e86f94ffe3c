"""Global init sharing the victim's mm.  __oom_kill_process does not kill
init; from v4.8 it hides the mm (the skip flag) and does not queue the
reaper ("oom killer ... has mm pinned by ...").  Init holds mm_users for
ever: the memory is never unmapped, and the OOM killer moves on to the
next process at once while the victim's memory is still mapped."""

from __future__ import annotations

import pytest
from checker_common import replay

from oomnb.checker.explore import explore
from oomnb.checker.run import check
from oomnb.errors import OomnbError
from oomnb.kernel import parse_scenario
from oomnb.kernel.properties import INIT_MM_NOT_REAPED, NO_PREMATURE_KILL, REAP_PROGRESS
from oomnb.kernel.state import MEM_MAPPED, MMF_SKIP, R_IDLE, TP_NONE
from oomnb.kernel.versions import ALL

KEY = "second-oom+init-sharer"
PROPS = (INIT_MM_NOT_REAPED, NO_PREMATURE_KILL, REAP_PROGRESS)


def run(k, key=KEY):
    return check(k, parse_scenario(key), PROPS).verdicts


@pytest.mark.parametrize("name", list(ALL))
def test_init_pins_the_mm_for_ever(name):
    v = run(ALL[name])
    assert v["init_mm_not_reaped"].verdict == "holds"
    assert v["reap_progress"].verdict == "violated"          # nothing ever unmaps it
    assert v["no_premature_kill"].verdict == "violated"      # W goes while V's memory is mapped
    for s in explore(ALL[name], parse_scenario(KEY)).states:
        assert s.mem == MEM_MAPPED and s.tpc == TP_NONE and s.mm_users >= 1
        assert s.shm == 1                                     # init keeps its reference


@pytest.mark.parametrize("name", ["v4.8", "v4.9", "v6.1", "v6.18"])
def test_hidden_and_not_queued(name):
    k = ALL[name]
    for s in explore(k, parse_scenario(KEY)).states:
        assert not s.rlist and not s.rtimers and s.rpc == R_IDLE
        if s.killed:
            assert s.mmf & MMF_SKIP
    # the next OOM kill follows the first at once: no victim thread moves in between
    v = run(k)["no_premature_kill"]
    assert {s.actor for s in v.steps} == {"A"}
    replay(k, parse_scenario(KEY), v.steps)


def test_v4_5_moves_on_only_after_the_victim_exits():
    """v4.5 skips init silently: TIF_MEMDIE aborts the scan until exit_mm."""
    k = ALL["v4.5"]
    v = run(k)["no_premature_kill"]
    keys = [s.key for s in v.steps]
    assert "exit_oom_victim" in keys and keys.index("exit_oom_victim") < len(keys) - 1
    replay(k, parse_scenario(KEY), v.steps)


@pytest.mark.parametrize("name", ["v4.8", "v4.9", "v6.18"])
def test_a_sharer_loop_without_the_init_test_is_caught(name):
    """Planted bug: no is_global_init test, the reaper is queued and unmaps
    memory init still uses."""
    mutant = ALL[name].derive(f"{name}-no-init-test", init_sharer="none")
    v = run(mutant)["init_mm_not_reaped"]
    assert v.verdict == "violated" and v.steps[-1].key == "reap_unmap"
    replay(mutant, parse_scenario(KEY), v.steps)
    assert run(ALL[name])["init_mm_not_reaped"].verdict == "holds"


def test_combinations_not_modelled_are_refused():
    with pytest.raises(OomnbError):
        parse_scenario("init-sharer+mm-sharer")          # one sharer process in the model


@pytest.mark.parametrize("name", ["v5.15", "v6.1", "v6.18"])
def test_process_mrelease_leaves_init_s_mm(name):
    """task_will_free_mem(): init sharing the mm is never dying, so a userspace
    killer's process_mrelease() returns -EINVAL and nothing unmaps the mm;
    without the loop over the sharers it reaps memory init still uses."""
    sc = parse_scenario("init-sharer+process-mrelease")
    r = check(ALL[name], sc)
    assert r.verdicts["init_mm_not_reaped"].verdict in ("holds", "vacuous")
    k = ALL[name].derive(f"{name}-no-sharer-loop", twfm_sharer_loop=False)
    v = check(k, sc).verdicts["init_mm_not_reaped"]
    assert v.verdict == "violated" and v.steps[-1].key == "mrelease_reap"
    replay(k, sc, v.steps)
