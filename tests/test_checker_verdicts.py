"""Verdicts of the standard scenarios (from exploration) against the
expected table (DIFFERENCES.md, section 1) and the stored oracle, plus the derived
expectations and the documented differences (DIFFERENCES.md)."""

from __future__ import annotations

import json

import pytest
from checker_common import result, result_of

from oomnb.checker.run import ORACLE, compare_oracle, load_oracle
from oomnb.kernel import STANDARD, VERSIONS

VS = ("v4.5", "v4.8", "v4.9", "v6.18")
S1 = "aio-blocked+suspend+second-oom/1t"
S2 = "aio-blocked+suspend+second-oom/2t"
LOCK = "mmap-lock-forever+second-oom/1t"

DSUSP = "dstate-thread+suspend/2t"

# expected verdicts, aio-blocked+suspend+second-oom, 1 thread (DIFFERENCES.md 1)
ISSUE_TABLE = {
    "no_mm_use_after_free": ("vacuous", "holds", "holds", "holds"),
    # v4.8 has 74070542099c: the reaper's remote exit_oom_victim lets the disable
    # return early, the second freezing pass keeps suspend from proceeding
    "disable_contract[tif]": ("holds", "violated", "holds", "holds"),
    "disable_contract[group]": ("holds", "violated", "holds", "holds"),
    "suspend_exclusion[tif]": ("holds", "holds", "holds", "holds"),
    "suspend_exclusion[group]": ("holds", "holds", "holds", "holds"),
    # past exit_mm the victim still runs exit_files/exit_task_work
    "disable_contract[do_exit]": ("violated", "violated", "violated", "violated"),
    "suspend_exclusion[do_exit]": ("violated", "holds", "violated", "violated"),
    "pm_progress": ("violated", "holds", "holds", "holds"),
    "oom_progress": ("violated", "holds", "holds", "holds"),
    "reap_progress": ("violated", "violated", "violated", "holds"),
    "no_premature_kill": ("holds", "violated", "violated", "holds"),
}


@pytest.mark.parametrize("prop", sorted(ISSUE_TABLE))
def test_issue_table_one_thread(prop):
    got = tuple(result(v, S1).verdicts[prop].verdict for v in VS)
    assert got == ISSUE_TABLE[prop]


def test_derived_two_threads():
    r = {v: result(v, S2).verdicts for v in VS}
    assert r["v4.5"]["no_premature_kill"].verdict == "violated"
    for p in ("disable_contract", "suspend_exclusion"):
        assert r["v6.18"][p + "[group]"].verdict == "violated"
        assert r["v6.18"][p + "[tif]"].verdict == "holds"
        assert r["v4.9"][p + "[group]"].verdict == "holds"
        assert r["v4.9"][p + "[tif]"].verdict == "holds"


def test_derived_mmap_lock_forever():
    r = {v: result(v, LOCK).verdicts for v in VS}
    assert all(r[v]["reap_progress"].verdict == "out-of-scope" for v in VS)
    assert r["v4.5"]["oom_progress"].verdict == "violated"
    for v in ("v4.8", "v4.9", "v6.18"):
        assert r[v]["oom_progress"].verdict == "holds"
        assert r[v]["no_premature_kill"].verdict == "holds"
    assert r["v4.5"]["no_premature_kill"].verdict in ("holds", "vacuous")
    assert r["v4.8"]["oom_progress"].bound["attempt"] == 10
    assert r["v4.9"]["oom_progress"].bound["attempt"] == 10
    assert r["v6.18"]["oom_progress"].bound == {"attempt": 10, "timer": 1}


def test_queue_integrity_victim_reenters_oom():
    """v4.8/v4.9 enqueue the same task twice (fixed in v5.0)."""
    got = {v: result(v, "victim-oom/2t").verdicts["reaper_queue_integrity"].verdict for v in VS}
    assert got == {"v4.5": "vacuous", "v4.8": "violated", "v4.9": "violated", "v6.18": "holds"}


def test_weak_oom_lock_fairness_starves_the_v4_8_v4_9_reaper():
    for v in VS:
        weak = result(v, S1, "weak-oom_lock").verdicts
        std = result(v, S1).verdicts
        changed = {p for p in std if std[p].verdict != weak[p].verdict}
        if v in ("v4.8", "v4.9"):
            assert changed == {"pm_progress", "oom_progress"}
        else:
            assert changed == set()


def test_v4_8_without_74070542099c_lets_suspend_proceed():
    """The second freezing pass is what keeps v4.8's suspend_exclusion."""
    from oomnb.kernel import load_kernel
    k = load_kernel("v4.8-no74070542099c")
    assert VERSIONS["v4.8"].diff(k) == {"second_freeze_pass": (True, False)}
    r = result_of(k, S1)
    base = result("v4.8", S1)
    changed = {p for p in r.verdicts if r.verdicts[p].verdict != base.verdicts[p].verdict}
    assert changed == {"suspend_exclusion[tif]", "suspend_exclusion[group]",
                       "suspend_exclusion[do_exit]"}
    assert all(r.verdicts[p].verdict == "violated" for p in changed)


def test_6_18_finding_dstate_thread_suspend():
    """6.18 exempts the whole victim group from freezing while oom_victims
    counts only the TIF_MEMDIE thread: the thread in D state runs on after
    oom_killer_disable() and freeze_processes() succeeded.  6.12 holds."""
    from oomnb.kernel import load_kernel
    r618 = result("v6.18", DSUSP).verdicts
    r612 = result_of(load_kernel("v6.12"), DSUSP).verdicts
    for p in ("disable_contract[group]", "suspend_exclusion[group]"):
        assert r618[p].verdict == "violated" and r612[p].verdict == "holds"
        st = r618[p].steps
        assert st[-1].actor == "T1" and not st[-1].pre.th[1][2]      # T1 never had TIF_MEMDIE
        assert any(s.key == "dstate_io_done" and s.actor == "IO" for s in st)
    for p in ("disable_contract[tif]", "suspend_exclusion[tif]"):
        assert r618[p].verdict == "holds"


@pytest.mark.parametrize("fix", ["v6.18+group-oom-victims", "v6.18+tif-exempt"])
def test_6_18_candidate_fixes(fix):
    """Both fixes close the 6.18 suspend race; only counting victims per
    group keeps what 6.18 fixed (frozen_sibling_exit) and also covers the
    rest of do_exit; restoring the TIF_MEMDIE exemption is 6.12 again."""
    from oomnb.kernel import load_kernel
    k = load_kernel(fix)
    for sc in (DSUSP, S2):
        v = result_of(k, sc).verdicts
        for p in ("disable_contract", "suspend_exclusion"):
            assert v[p + "[tif]"].verdict == "holds" and v[p + "[group]"].verdict == "holds"
        assert v["oom_victims_accounting"].verdict == "holds"
        want = "holds" if fix == "v6.18+group-oom-victims" else "violated"
        assert v["suspend_exclusion[do_exit]"].verdict == want
    frozen = result_of(k, "cgroup-frozen/2t").verdicts["frozen_sibling_exit"].verdict
    assert frozen == ("holds" if fix == "v6.18+group-oom-victims" else "violated")


def test_frozen_sibling_exit_is_what_6_18_fixed():
    from oomnb.kernel import load_kernel
    assert result("v6.18", "cgroup-frozen/2t").verdicts["frozen_sibling_exit"].verdict == "holds"
    v612 = result_of(load_kernel("v6.12"), "cgroup-frozen/2t").verdicts["frozen_sibling_exit"]
    assert v612.verdict == "violated"
    assert v612.steps[-1].post.th[1][0] == 1                 # T1 stays FROZEN


def test_second_freeze_pass_covers_the_rest_of_do_exit_except_in_6_18():
    """A second freezing pass after oom_killer_disable() also waits for a
    victim still in exit_files/exit_task_work (it is no longer exempt once
    TIF_MEMDIE is clear), so it would make suspend_exclusion[do_exit] hold
    in v4.5 and v4.9; not in 6.18, whose tsk_is_oom_victim exemption is
    sticky."""
    from oomnb.checker.run import check
    from oomnb.kernel import parse_scenario
    for v, want in (("v4.5", {"suspend_exclusion[do_exit]"}),
                    ("v4.9", {"suspend_exclusion[do_exit]"}), ("v6.18", set())):
        a = result(v, S1)
        b = check(VERSIONS[v].derive(v + "+2nd", second_freeze_pass=True), parse_scenario(S1))
        assert b.states > a.states
        changed = {p for p in a.verdicts if a.verdicts[p].verdict != b.verdicts[p].verdict}
        assert changed == want
        assert all(b.verdicts[p].verdict == "holds" for p in changed)


@pytest.mark.parametrize("sc", [s.key for s in STANDARD])
def test_standard_scenarios_match_oracle(sc):
    oracle = load_oracle()
    assert oracle, f"missing {ORACLE}"
    for v in VS:
        cmp = compare_oracle(result(v, sc), oracle)
        assert set(cmp.values()) == {"ok"}, (v, sc, cmp)


def test_oracle_file_is_plain_data():
    data = json.loads(ORACLE.read_text())
    assert set(data) == {s.key for s in STANDARD}
    for sc in data.values():
        assert set(sc) == set(VERSIONS)


def test_compare_oracle_reports_a_difference():
    r = result("v4.9", "fast-exit/1t")
    fake = {"fast-exit/1t": {"v4.9": {"states": 1, "transitions": 1, "depth": 1,
                                      "verdicts": {"oom_progress": "violated"}}}}
    cmp = compare_oracle(r, fake)
    assert cmp["oom_progress"] == "DIFF(violated)" and cmp["_counts"].startswith("DIFF")


def test_performance_standard_all_versions_is_small():
    """Not a timing test: the state spaces stay small enough for < 30 s."""
    total = sum(result(v, s.key).states for v in VS for s in STANDARD)
    assert total < 150_000


def test_v6_12_freezer_exemption_vs_v6_18():
    """6.12 exempts only TIF_MEMDIE threads from freezing; 6.18 ("thaw the
    entire OOM victim process") the whole group: only the group readings of
    the suspend properties change, with 2 threads.  (6.12 also still has the
    memcg path's task_is_dying() re-check: tests/test_checker_memcg.py.)"""
    from oomnb.checker.run import check
    from oomnb.kernel import load_kernel, parse_scenario
    k612 = load_kernel("v6.12")
    assert k612.freeze_exempt == "tif" and VERSIONS["v6.18"].diff(k612) == {
        "freeze_exempt": ("group", "tif"), "memcg_dying_bail": (False, True)}
    r = check(k612, parse_scenario(S2))
    base = result("v6.18", S2)
    changed = {p for p in r.verdicts if r.verdicts[p].verdict != base.verdicts[p].verdict}
    assert changed == {"disable_contract[group]", "suspend_exclusion[group]"}
    assert all(r.verdicts[p].verdict == "holds" for p in changed)
