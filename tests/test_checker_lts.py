"""The LTS kernels (v4.19, v5.15, v6.1): derived versions whose verdicts
come from exploration and are compared with their stored oracle
(oomnb/checker/expected/lts.json), and the changes that separate them,
each shown by removing it."""

from __future__ import annotations

import json

import pytest

from oomnb.checker.oracle import MECH_SCENARIOS
from oomnb.checker.run import LTS_ORACLE, MECH_ORACLE, check, compare_oracle, load_oracle
from oomnb.kernel import STANDARD, parse_scenario
from oomnb.kernel.properties import EXTRA, PROPERTIES, scenario_properties
from oomnb.kernel.transitions import transitions_for
from oomnb.kernel.versions import ALL, LTS, VERSIONS, load_kernel

SCENARIOS = [s.key for s in STANDARD]


def violated(r):
    return {p for p, v in r.verdicts.items() if v.verdict == "violated"}


@pytest.mark.parametrize("key", SCENARIOS)
def test_lts_verdicts_match_their_oracle(key):
    sc = next((s for s in STANDARD if s.key == key), None) or parse_scenario(key)
    oracle = load_oracle()
    for k in LTS.values():
        r = check(k, sc)
        cmp = compare_oracle(r, oracle)
        assert all(v == "ok" for v in cmp.values()), (k.name, key, cmp)


def test_lts_oracle_is_separate_and_complete():
    lts = json.loads(LTS_ORACLE.read_text())
    assert set(lts) == set(SCENARIOS)
    for per in lts.values():
        assert set(per) == set(LTS)          # no entry for the standard versions here
    mech = json.loads(MECH_ORACLE.read_text())
    assert set(mech) == {parse_scenario(s).key for s in MECH_SCENARIOS}
    for per in mech.values():
        assert set(per) == set(ALL)


@pytest.mark.parametrize("key", MECH_SCENARIOS)
def test_mechanism_scenarios_match_their_oracle(key):
    sc, oracle = parse_scenario(key), load_oracle()
    for k in ALL.values():
        cmp = compare_oracle(check(k, sc, PROPERTIES + EXTRA + scenario_properties(sc)), oracle)
        assert all(v == "ok" for v in cmp.values()), (k.name, key, cmp)


def test_versions_are_named_and_ordered():
    assert list(ALL) == ["v4.5", "v4.8", "v4.9", "v4.19", "v5.15", "v6.1", "v6.18"]
    for name in LTS:
        assert load_kernel(name) is LTS[name] and name not in VERSIONS
    assert load_kernel("5.15") is LTS["v5.15"]


def test_derivations_are_the_cited_changes():
    v419, v515, v61 = LTS["v4.19"], LTS["v5.15"], LTS["v6.1"]
    # ... and 7775face2079 (v5.1) in the memcg OOM path
    assert set(v515.diff(v419)) == {"queue_mmf_test", "process_mrelease", "memcg_oom_lock",
                                    "memcg_dying_bail"}
    assert v61.diff(load_kernel("v6.12")) == {}       # same model as the 6.12 tree
    d = v419.diff(VERSIONS["v4.9"])
    assert set(d) == {"reaper_oom_lock", "reaper_mmget_gate", "reaper_skip_check",
                      "mmput_sets_skip", "exit_mmap_oom_barrier", "exit_mmap_self_reap",
                      "unable_quiet_if_skip", "memcg_oom_group",
                      "reaper_mmu_notifier"}       # + 93065ac753e4
    keys = {t.key for t in transitions_for(v515)}
    assert {"exit_mmap_oom", "exit_mmap_barrier"} <= keys
    assert not {"exit_mmap_oom", "exit_mmap_barrier"} & {t.key for t in transitions_for(v61)}


def test_mmf_oom_reap_queued_separates_4_19_from_5_15():
    """v5.0 'do not enqueue same task twice': a victim thread's own OOM call
    queues the task a second time in v4.19, not in v5.15."""
    sc = parse_scenario(MECH_SCENARIOS[0])
    assert "reaper_queue_integrity" in violated(check(LTS["v4.19"], sc))
    assert "reaper_queue_integrity" not in violated(check(LTS["v5.15"], sc))


@pytest.mark.parametrize("change,flag,prop", [
    # 212925802454: without the write-lock barrier the reaper walks VMAs exit_mmap frees
    ("barrier", "exit_mmap_oom_barrier", "no_reap_after_teardown"),
    # 27ae357fa82b: without the self-reap exit_mmap hides the mm (MMF_OOM_SKIP) while
    # its memory is still mapped, and the next OOM kill picks another process
    ("self-reap", "exit_mmap_self_reap", "no_premature_kill"),
    # the MMF_OOM_SKIP test under the read lock is what the barrier serialises with
    ("skip-check", "reaper_skip_check", "no_reap_after_teardown"),
])
def test_each_lts_change_matters(change, flag, prop):
    k = LTS["v5.15"]
    sc = STANDARD[0]
    assert prop not in violated(check(k, sc))
    mutant = k.derive(f"v5.15-no-{change}", **{flag: False})
    assert prop in violated(check(mutant, sc))
