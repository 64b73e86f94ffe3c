"""Verdicts of the standard scenarios (from exploration) against the
issue's expected table and the stored oracle, plus the derived
expectations and the documented differences (DIFFERENCES.md)."""

from __future__ import annotations

import json

import pytest
from checker_common import result

from oomnb.checker.run import ORACLE, compare_oracle, load_oracle
from oomnb.kernel import STANDARD, VERSIONS

VS = ("v4.5", "v4.8", "v4.9", "v6.18")
S1 = "aio-blocked+suspend+second-oom/1t"
S2 = "aio-blocked+suspend+second-oom/2t"
LOCK = "mmap-lock-forever+second-oom/1t"

# issue 3, "Expected verdicts", aio-blocked+suspend+second-oom, 1 thread
ISSUE_TABLE = {
    "no_mm_use_after_free": ("vacuous", "holds", "holds", "holds"),
    "pm_exclusion[tif]": ("holds", "violated", "holds", "holds"),
    "pm_exclusion[group]": ("holds", "violated", "holds", "holds"),
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
    assert r["v6.18"]["pm_exclusion[group]"].verdict == "violated"
    assert r["v6.18"]["pm_exclusion[tif]"].verdict == "holds"
    assert r["v4.9"]["pm_exclusion[group]"].verdict == "holds"
    assert r["v4.9"]["pm_exclusion[tif]"].verdict == "holds"


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


def test_second_freeze_pass_costs_states_not_verdicts():
    from oomnb.checker.run import check
    from oomnb.kernel import parse_scenario
    k = VERSIONS["v4.8"]
    sc = parse_scenario(S1)
    a = result("v4.8", S1)
    b = check(k.derive("v4.8+2nd", second_freeze_pass=True), sc)
    assert b.states > a.states
    assert {p: v.verdict for p, v in a.verdicts.items()} == \
        {p: v.verdict for p, v in b.verdicts.items()}


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
    assert total < 120_000


def test_v6_12_freezer_exemption_vs_v6_18():
    """6.12 exempts only TIF_MEMDIE threads from freezing; 6.18 ("Thaw the
    entire OOM victim process") the whole group: only the group reading of
    pm_exclusion changes, with 2 threads."""
    from oomnb.checker.run import check
    from oomnb.kernel import load_kernel, parse_scenario
    k612 = load_kernel("v6.12")
    assert k612.freeze_exempt == "tif" and VERSIONS["v6.18"].diff(k612) == {
        "freeze_exempt": ("group", "tif")}
    r = check(k612, parse_scenario(S2))
    base = result("v6.18", S2)
    changed = {p for p in r.verdicts if r.verdicts[p].verdict != base.verdicts[p].verdict}
    assert changed == {"pm_exclusion[group]"}
    assert r.verdicts["pm_exclusion[group]"].verdict == "holds"
