"""The memcg OOM path (``memcg-oom``) and memory.oom.group (``oom-group``):
the charger waits for oom_lock in the mutex's queue (killable from
7775face2079), re-checks task_is_dying() under the lock (v5.1 .. 6.12), and
a group kill makes W a second OOM victim that the reaper must handle too.
Every verdict here comes out of the exploration; the mutants
(tests/mutants/memcg/*.py, loadable with ``--kernel FILE.py``) plant one
bug each and show the verdict that changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from checker_common import replay, result_of

from oomnb import model
from oomnb.checker.explore import explore
from oomnb.cli import main
from oomnb.errors import OomnbError
from oomnb.kernel import load_kernel, parse_scenario
from oomnb.kernel.state import A_WAITS, W_TASK
from oomnb.kernel.transitions import BY_KEY, MEMCG_GROUP_KEYS, fairness_of, transitions_for
from oomnb.kernel.versions import ALL

GROUP = "memcg-oom+oom-group+second-oom/1t"
DYING = "memcg_dying_charger_bails"
MUTANTS = sorted((Path(__file__).parent / "mutants" / "memcg").glob("mc*.py"))


def verdict(k, prop, key=GROUP):
    return result_of(k, key).verdicts[prop]


def test_tokens():
    sc = parse_scenario("memcg-oom+oom-group+second-oom")
    assert sc.memcg_oom and sc.oom_group and sc.key == "second-oom+memcg-oom+oom-group/1t"
    with pytest.raises(OomnbError, match="oom-group needs memcg-oom"):
        parse_scenario("oom-group")


def test_group_kill_exists_from_v4_19():
    have = {n for n, k in ALL.items() if MEMCG_GROUP_KEYS <= {t.key for t in transitions_for(k)}}
    assert have == {"v4.19", "v5.15", "v6.1", "v6.18"}
    # without memory.oom.group W is never an OOM victim: the single-process kill
    for name in ("v4.5", "v4.8", "v4.9"):
        g = explore(ALL[name], parse_scenario(GROUP))
        assert not any(s.w_oom_mm for s in g.states)
        assert verdict(ALL[name], "group_reap_progress").verdict == "vacuous"


@pytest.mark.parametrize("name,want", [("v4.19", "violated"), ("v5.15", "holds"),
                                       ("v6.1", "holds"), ("v6.12", "holds"),
                                       ("v6.18", "violated")])
def test_dying_charger(name, want):
    """4.19: plain mutex_lock, no re-check; v5.1 .. 6.12: killable wait and
    task_is_dying() under the lock; 6.18 dropped the re-check again."""
    k = load_kernel(name)
    v = verdict(k, DYING)
    assert v.verdict == want
    if want == "violated":
        keys = [s.key for s in v.steps]
        # A queues, a thread of V kills the group (A with it), A then runs out_of_memory
        assert keys[0] == "mem_cgroup_oom" and "thread_mem_cgroup_oom" in keys
        assert keys[-2:] == ["memcg_oom_lock", "memcg_out_of_memory"]
        assert v.steps[-1].pre.w_killed
        replay(k, parse_scenario(GROUP), v.steps)


@pytest.mark.parametrize("name", ["v4.19", "v6.1", "v6.18"])
def test_group_victims_are_reaped(name):
    k = ALL[name]
    r = result_of(k, GROUP)
    for p in ("group_reap_progress", "reap_progress", "reaper_queue_integrity",
              "oom_victims_accounting", "no_mm_use_after_free", "no_reap_after_teardown"):
        assert r.verdicts[p].verdict == "holds", p


def test_the_reaper_takes_both_victims_in_turn():
    """v4.19 (LIFO oom_reaper_list): the group kill queues V then W, the
    reaper pops W first with V still queued; v6.18: both OOM_REAPER_DELAY
    timers are pending at once."""
    g = explore(ALL["v4.19"], parse_scenario(GROUP))
    assert any(s.rlist == (W_TASK, 0) for s in g.states)
    assert any(s.rtask == W_TASK and s.rlist == (0,) for s in g.states)
    g = explore(ALL["v6.18"], parse_scenario(GROUP))
    assert any(s.rtimers == (0, W_TASK) for s in g.states)
    assert any(s.rtask == W_TASK for s in g.states)


def test_killable_wait_is_left_on_sigkill():
    """Only a killable wait can be abandoned; the queued waiter is strongly
    fair even where oom_lock acquisition is only weakly fair (trylock)."""
    def abandons(k):
        g = explore(k, parse_scenario(GROUP))
        return any(lab[0].key == "memcg_oom_lock_killed" for lab in g.labels), g
    got, g = abandons(load_kernel("v6.12"))
    assert got and any(s.apc == A_WAITS and s.w_killed for s in g.states)
    got, g = abandons(ALL["v4.19"])
    assert not got and any(s.apc == A_WAITS and s.w_killed for s in g.states)
    t = BY_KEY["memcg_oom_lock"]
    assert fairness_of(t, ALL["v6.18"], "weak-oom_lock") == "strong"
    assert fairness_of(BY_KEY["alloc_may_oom"], ALL["v6.18"], "weak-oom_lock") == "weak"


def test_killable_wait_alone_does_not_suffice():
    """"A few threads which were not waiting at mutex_lock_killable() can fail
    to bail out. Therefore, check again after holding oom_lock." (6.12
    mm/memcontrol.c): with the re-check the plain mutex is enough, without
    it the killable wait is not."""
    k = load_kernel("v6.12")
    assert verdict(k.derive("mutex+bail", memcg_oom_lock="mutex"), DYING).verdict == "holds"
    assert verdict(k.derive("killable-no-bail", memcg_dying_bail=False), DYING).verdict \
        == "violated"


@pytest.mark.parametrize("path", MUTANTS, ids=lambda p: p.stem)
def test_memcg_mutant(path):
    k = load_kernel(str(path))                        # loads as a --kernel file
    import runpy
    expect = runpy.run_path(str(path))["EXPECT"]
    base = load_kernel(k.name.split("-mc")[0])
    sc = parse_scenario(expect["scenario"])
    assert verdict(base, expect["property"], sc.key).verdict == expect["base"]
    v = verdict(k, expect["property"], sc.key)
    assert v.verdict == expect["mutant"]
    if v.verdict == "violated":
        replay(k, sc, v.steps)


def test_group_not_queued_counterexample_shows_w_left_alone():
    k = load_kernel(str(next(p for p in MUTANTS if p.stem.startswith("mc3_"))))
    v = verdict(k, "group_reap_progress")
    assert v.verdict == "violated"
    last = v.steps[-1].post
    assert last.w_oom_mm and last.w_mem == 0 and W_TASK not in last.rlist + last.rtimers
    assert "w_exit" not in {s.key for s in v.steps}


def test_w_is_observed():
    """W's kill, queueing and reaping show up as observations of W."""
    g = model.state_graph("v6.18", parse_scenario(GROUP))
    seen = {(o.what, e.key) for e in g.edges() for o in e.observations if o.subject == "W"}
    assert ("kill_other", "memcg_out_of_memory") in seen
    assert ("kill_other", "thread_mem_cgroup_oom") in seen
    assert ("reaper_wake", "wake_oom_reaper_timer") in seen
    assert {("reap_start", "w_reap_attempt"), ("reap_finish", "w_reap_unmap")} <= seen


def test_check_end_to_end(capsys):
    rc = main(["check", "--kernel", "v6.18", "--scenario", "memcg-oom+oom-group+second-oom",
               "--no-swimlane"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "memcg_dying_charger_bails  VIOLATED =" in out
    assert "group_reap_progress        holds =" in out
    assert "Counterexample: v6.18 second-oom+memcg-oom+oom-group/1t memcg_dying_charger_bails" \
        in out


def test_explain_shows_the_cited_docstring(capsys):
    assert main(["explain", "memcg_out_of_memory"]) == 0
    out = capsys.readouterr().out
    assert "7775face2079" in out and "task_is_dying()" in out and "3d8b38eb81ca" in out
    assert main(["explain", "group_reap_progress"]) == 0
    assert "memory.oom.group" in capsys.readouterr().out
