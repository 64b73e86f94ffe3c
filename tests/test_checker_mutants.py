"""Mutation tests: each mutant turns its property
violated (the base version holds it in the same scenario), and the
equivalent mutant survives every standard scenario.  The mutants are
user kernel files (tests/mutants/*.py), loaded like `--kernel FILE.py`."""

from __future__ import annotations

import pytest
from checker_common import MUTANTS, load_mutant, replay, result

from oomnb.checker.run import check
from oomnb.kernel import STANDARD, VERSIONS, load_kernel, parse_scenario

MUTANT_NAMES = ["m1_", "m2_", "m3a_", "m3b_", "m4_", "m5_", "m6_", "m7_", "m8_"]


@pytest.mark.parametrize("name", MUTANT_NAMES)
def test_mutant_is_killed(name):
    k, expect, path = load_mutant(name)
    assert load_kernel(str(path)).name == k.name          # loads as a --kernel file
    base = next(v for v in VERSIONS.values() if k.name.startswith(v.name + "-"))
    sc = parse_scenario(expect["scenario"])
    prop = expect["property"]
    r_base = check(base, sc)
    r_mut = check(k, sc)
    assert r_base.verdicts[prop].verdict == "holds"
    v = r_mut.verdicts[prop]
    assert v.verdict == "violated"
    replay(k, sc, v.steps)


def test_mutant_suspend_also_group_reading():
    for name in ("m2_", "m3a_", "m3b_"):
        k, expect, _ = load_mutant(name)
        r = check(k, parse_scenario(expect["scenario"]))
        assert r.verdicts["disable_contract[group]"].verdict == "violated"


def test_all_mutant_files_are_tested():
    files = sorted(p.name for p in MUTANTS.glob("*.py"))
    assert len(files) == len(MUTANT_NAMES) + 1
    assert all(any(f.startswith(n) for n in MUTANT_NAMES + ["e1_"]) for f in files)


@pytest.mark.parametrize("sc", [s.key for s in STANDARD] + ["victim-oom/2t", "aio-blocked/1t"])
def test_equivalent_mutant_survives(sc):
    """v6.18 exit_mmap without set_bit(MMF_OOM_SKIP): the reaper's done:
    sets it anyway (after one timer step and one attempt on the emptied
    maple tree); only the abort window grows."""
    k, _, _ = load_mutant("e1_")
    s = next((x for x in STANDARD if x.key == sc), None) or parse_scenario(sc)
    mut = check(k, s)
    base = result("v6.18", sc)
    assert {p: v.verdict for p, v in mut.verdicts.items()} == \
        {p: v.verdict for p, v in base.verdicts.items()}
