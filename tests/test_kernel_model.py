"""Unit tests of the kernel model (oomnb.kernel): transitions, versions,
scenarios.  Each checks one kernel fact the model encodes."""

from __future__ import annotations

import dataclasses

import pytest

from oomnb.errors import OomnbError
from oomnb.kernel import (BY_KEY, STANDARD, TRANSITIONS, VERSIONS, initial_state, load_kernel,
                          parse_scenario, successors, transitions_for)
from oomnb.kernel.state import (EXITING, FROZEN, MMF_REAP_QUEUED, MMF_SKIP, MMPUT, P_FREEZE,
                                RUN, State)
from oomnb.kernel.transitions import (find_lock_task_mm, freezing, kill_victim, mark_oom_victim,
                                      wake_oom_reaper)

V45, V48, V49, V618 = (VERSIONS[v] for v in ("v4.5", "v4.8", "v4.9", "v6.18"))


def _th(s, i, pc):
    th = list(s.th)
    th[i] = (pc,) + th[i][1:]
    return s._replace(th=tuple(th))


def test_state_is_immutable_and_hashable():
    s = initial_state(V49, parse_scenario("aio-blocked+threads=2"))
    assert isinstance(s, State)
    assert hash(s) == hash(s._replace())
    with pytest.raises(AttributeError):
        s.killed = 1
    assert s.mm_users == 2 and s.mm_count == 1 and s.io == 1


def test_find_lock_task_mm_is_first_thread_with_mm():
    s = initial_state(V49, parse_scenario("threads=3"))
    assert find_lock_task_mm(s) == 0
    s = _th(s, 0, MMPUT)              # T0 passed exit_mm
    assert find_lock_task_mm(s) == 1
    s = _th(_th(s, 1, MMPUT), 2, MMPUT)
    assert find_lock_task_mm(s) == -1


def test_kill_marks_find_lock_task_mm_thread_deterministically():
    sc = parse_scenario("threads=2")
    s = _th(initial_state(V49, sc), 0, MMPUT)
    tags = set()
    s2 = kill_victim(V49, s, tags)
    assert s2.th[1][1] == 1 and s2.th[0][1] == 0      # T1 gets TIF_MEMDIE, not T0
    assert s2.rlist == (1,)


def test_mark_oom_victim_takes_one_mm_count_for_oom_mm():
    s = initial_state(V49, parse_scenario("threads=2"))
    s1 = mark_oom_victim(V49, s, 0)
    s2 = mark_oom_victim(V49, s1, 1)
    assert (s1.oom_mm, s1.mm_count, s1.oom_victims) == (1, 2, 1)
    assert (s2.mm_count, s2.oom_victims) == (2, 2)         # cmpxchg fails: no second ref
    assert mark_oom_victim(V49, s2, 1) == s2                # test_and_set TIF_MEMDIE
    s48 = mark_oom_victim(V48, initial_state(V48, parse_scenario("")), 0)
    assert (s48.oom_mm, s48.sig_victims, s48.mm_count) == (0, 1, 1)


def test_wake_oom_reaper_v4_8_queues_tail_task_twice():
    """'oom, oom_reaper: do not enqueue same task twice' (v5.0): the test
    tsk == oom_reaper_list || tsk->oom_reaper_list misses the tail."""
    s = initial_state(V48, parse_scenario("threads=2"))
    s = wake_oom_reaper(V48, s, 0, set())
    s = wake_oom_reaper(V48, s, 1, set())
    assert s.rlist == (1, 0)
    assert wake_oom_reaper(V48, s, 1, set()) == s           # head: skipped
    s3 = wake_oom_reaper(V48, s, 0, set())                  # tail: queued again
    assert s3.rlist == (0, 1, 0) and s3.rrefs == 3


def test_queue_oom_reaper_v6_18_once_per_mm():
    s = initial_state(V618, parse_scenario("threads=2"))
    s = wake_oom_reaper(V618, s, 0, set())
    assert s.rtimers == (0,) and s.mmf & MMF_REAP_QUEUED and s.rrefs == 1
    assert wake_oom_reaper(V618, s, 1, set()) == s


def test_freezer_exemption_tif_vs_group():
    sc = parse_scenario("threads=2+suspend")
    for k, t1_exempt in ((V49, False), (V618, True)):
        s = initial_state(k, sc)._replace(pm=P_FREEZE)
        s = mark_oom_victim(k, s, 0)
        assert not freezing(k, sc, s, 0)
        assert freezing(k, sc, s, 1) is (not t1_exempt)


def test_exit_mm_blocks_on_mmap_lock_held_for_write():
    sc = parse_scenario("mmap-lock-forever")
    s = _th(initial_state(V49, sc), 0, EXITING)._replace(killed=1)
    assert not BY_KEY["exit_mm"].fire(V49, sc, s, 0)
    assert not BY_KEY["lock_release"].fire(V49, sc, s, None)    # forever
    sc2 = parse_scenario("mmap-lock")
    assert BY_KEY["lock_release"].fire(V49, sc2, s, None)


def test_v6_18_reaper_works_on_mm_users_zero_v4_9_does_not():
    sc = parse_scenario("aio-blocked")
    for k, reaps in ((V49, False), (V618, True)):
        s = initial_state(k, sc)
        s = kill_victim(k, s, set())
        s = s._replace(mm_users=0, th=((MMPUT + 1, 1, 1),), town=0, tpc=1, rpc=1, rtask=0,
                       rlist=(), rtimers=())
        (s2, tags), = BY_KEY["reap_attempt"].fire(k, sc, s, None)
        assert (s2.rpc == 2) is reaps            # R_UNMAP only in v6.18


def test_v4_9_reaper_sets_skip_always_v4_8_two_strike():
    sc = parse_scenario("")
    for k in (V48, V49):
        s = kill_victim(k, initial_state(k, sc), set())
        s = s._replace(rpc=4, rtask=0, rlist=(), ratt=11)      # exhausted
        (s2, _), = BY_KEY["oom_reap_task"].fire(k, sc, s, None)
        if k is V49:
            assert s2.mmf & MMF_SKIP and s2.gave_up and s2.th[0][1] == 1
        else:
            assert not s2.mmf & MMF_SKIP and s2.th[0][1] == 0     # NOT_REAPABLE only; remote clear
            (s3, _), = BY_KEY["oom_reap_task"].fire(k, sc, s2._replace(rpc=4, rtask=0, ratt=11,
                                                                       rrefs=1), None)
            assert s3.mmf & MMF_SKIP and s3.gave_up


def test_frozen_victim_thaws_when_marked():
    sc = parse_scenario("suspend")
    s = _th(initial_state(V48, sc), 0, FROZEN)._replace(pm=P_FREEZE)
    assert not BY_KEY["refrigerator_exit"].fire(V48, sc, s, 0)
    s = kill_victim(V48, s, set())
    (s2, _), = BY_KEY["refrigerator_exit"].fire(V48, sc, s, 0)
    assert s2.th[0][0] == RUN


def test_every_transition_is_documented_and_cited():
    for t in TRANSITIONS:
        assert t.doc and len(t.doc) > 40, t.key
        assert t.cite, t.key
        assert t.fair in ("weak", "strong", "none")
        assert t.kind in ("cpu", "lock", "io", "timer", "sleep")


def test_versions_are_data_on_one_transition_set():
    assert {t.key for t in transitions_for(V45)} < {t.key for t in TRANSITIONS}
    assert not any(t.actor == "oom_reaper" for t in transitions_for(V45))
    d = V49.diff(V618)
    assert d["queue"] == ("list", "timer") and d["reaper_oom_lock"] == (True, False)
    with pytest.raises(TypeError):
        V49.derive("x", no_such_flag=1)
    assert dataclasses.is_dataclass(V49)


def test_user_kernel_file(tmp_path):
    f = tmp_path / "patch.py"
    f.write_text("from oomnb.kernel.versions import V4_9\n"
                 "KERNEL = V4_9.derive('v4.9+p', disable_timeout=False)\n")
    k = load_kernel(str(f))
    assert k.name == "v4.9+p" and not k.disable_timeout
    bad = tmp_path / "bad.py"
    bad.write_text("KERNEL = undefined_name\n")
    with pytest.raises(OomnbError):
        load_kernel(str(bad))
    with pytest.raises(OomnbError):
        load_kernel("v9.9")


def test_scenario_parsing():
    sc = parse_scenario("aio-blocked+suspend+second-oom+threads=2")
    assert (sc.threads, sc.aio_blocked, sc.suspend, sc.second_oom) == (2, True, True, True)
    assert parse_scenario("aio-blocked/2t") == parse_scenario("aio-blocked+threads=2")
    assert parse_scenario("dstate-thread").threads == 2
    assert {s.key for s in STANDARD} == {
        "aio-blocked+suspend+second-oom/1t", "aio-blocked+suspend+second-oom/2t",
        "mmap-lock-forever+second-oom/1t", "dstate-thread+second-oom/2t", "fast-exit/1t",
        "dstate-thread+suspend/2t", "second-oom+memcg-oom+oom-group/1t"}
    for bad in ("nonsense", "threads=4", "dstate-thread+threads=1"):
        with pytest.raises(OomnbError):
            parse_scenario(bad)


def test_successors_are_enabled_transitions():
    sc = parse_scenario("aio-blocked+suspend+second-oom")
    s = initial_state(V618, sc)
    keys = {t.key for t, i, s2, tags in successors(V618, sc, s)}
    assert keys == {"alloc_may_oom", "freeze_processes", "aio_complete"}


def test_v4_5_freezer_tests_current_not_the_victim():
    """v4.5 freezing_slow_path reads current's TIF_MEMDIE: the victim sees
    itself exempt, try_to_freeze_tasks (current = the freezer) does not."""
    from oomnb.kernel import VERSIONS
    k45 = VERSIONS["v4.5"]
    sc = parse_scenario("suspend")
    s = mark_oom_victim(k45, initial_state(k45, sc)._replace(pm=P_FREEZE), 0)
    assert not freezing(k45, sc, s, 0)                 # its own view: exempt
    assert freezing(k45, sc, s, 0, by_pm=True)         # the freezer's view: must freeze
    k48 = VERSIONS["v4.8"]
    s = mark_oom_victim(k48, initial_state(k48, sc)._replace(pm=P_FREEZE), 0)
    assert not freezing(k48, sc, s, 0, by_pm=True)


def test_io_completions_are_steps_of_the_io_actor():
    sc = parse_scenario("aio-blocked+dstate-thread")
    s = initial_state(V618, sc)
    for key, inst in (("aio_complete", None), ("dstate_io_done", 1)):
        t = BY_KEY[key]
        assert t.fire(V618, sc, s, inst) and t.actor_of(s, inst) == "IO"


def test_do_exit_goes_on_after_exit_mm_to_exit_files_and_task_work():
    from oomnb.kernel.state import DEAD, FILES, POST
    sc = parse_scenario("fast-exit")
    s = _th(initial_state(V618, sc), 0, POST)
    (s2, _), = BY_KEY["exit_files"].fire(V618, sc, s, 0)
    assert s2.th[0][0] == FILES and not BY_KEY["do_exit_tail"].fire(V618, sc, s, 0)
    (s3, _), = BY_KEY["do_exit_tail"].fire(V618, sc, s2, 0)
    assert s3.th[0][0] == DEAD and s3.mm_count == s.mm_count - 1


def test_reaper_freezable_per_version():
    from oomnb.kernel import VERSIONS, load_kernel
    from oomnb.kernel.state import P_SUSP
    assert {v: k.reaper_freezable for v, k in VERSIONS.items()} == \
        {"v4.5": False, "v4.8": True, "v4.9": False, "v6.18": True}
    assert load_kernel("v6.12").reaper_freezable
    sc = parse_scenario("suspend")
    for k, frozen in ((VERSIONS["v4.9"], False), (V618, True)):
        s = initial_state(k, sc)._replace(rlist=(0,), rrefs=1, pm=P_SUSP)
        assert bool(BY_KEY["oom_reaper"].fire(k, sc, s, None)) is (not frozen)


def test_group_counting_fix_uncounts_at_the_groups_last_exit():
    from oomnb.kernel import load_kernel
    from oomnb.kernel.state import DEAD, FILES
    k = load_kernel("v6.18+group-oom-victims")
    sc = parse_scenario("threads=2")
    s = initial_state(k, sc)
    s = mark_oom_victim(k, s, 0)
    s = mark_oom_victim(k, s, 1)
    assert s.oom_victims == 1 and s.sig_victims == 1
    s = _th(_th(s, 0, FILES), 1, FILES)
    (s2, _), = BY_KEY["do_exit_tail"].fire(k, sc, s, 0)
    assert s2.oom_victims == 1                          # T1 still alive
    (s3, _), = BY_KEY["do_exit_tail"].fire(k, sc, _th(s2, 0, DEAD), 1)
    assert s3.oom_victims == 0 and s3.sig_victims == 0
