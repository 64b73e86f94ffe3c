"""Memory the reaper cannot unmap (hugetlb; VM_LOCKED before v5.18) and
the two readings of no_premature_kill: the reapable one (the standard
property) and the strong one (memory the victim's exit will still free)."""

from __future__ import annotations

import pytest
from checker_common import replay

from oomnb.checker.run import check
from oomnb.kernel import STANDARD, parse_scenario
from oomnb.kernel.properties import NO_PREMATURE_KILL, NO_PREMATURE_KILL_STRONG, select
from oomnb.kernel.versions import ALL

READINGS = (NO_PREMATURE_KILL, NO_PREMATURE_KILL_STRONG)


def verdicts(name, key):
    r = check(ALL[name], parse_scenario(key), READINGS)
    return r.verdicts[NO_PREMATURE_KILL.name], r.verdicts[NO_PREMATURE_KILL_STRONG.name]


def test_current_kernel_holds_reapable_violates_strong_with_hugetlb():
    reap, strong = verdicts("v6.18", "hugetlb+second-oom")
    assert reap.verdict == "holds" and strong.verdict == "violated"
    last = strong.steps[-1]
    assert last.key == "out_of_memory" and "w_killed=0->1" in last.changes
    assert last.pre.mem != 0            # the reapable part is gone; hugetlb still mapped
    replay(ALL["v6.18"], parse_scenario("hugetlb+second-oom"), strong.steps)


@pytest.mark.parametrize("name,strong", [("v4.19", "violated"), ("v5.15", "violated"),
                                         ("v6.1", "holds"), ("v6.18", "holds")])
def test_mlocked_is_reaped_from_v5_18(name, strong):
    reap, st = verdicts(name, "mlocked+second-oom")
    assert reap.verdict == "holds" and st.verdict == strong


@pytest.mark.parametrize("sc", [s for s in STANDARD if not s.suspend], ids=lambda s: s.key)
def test_readings_agree_without_unreapable_memory(sc):
    for k in ALL.values():
        r = check(k, sc, READINGS)
        assert r.verdicts[NO_PREMATURE_KILL.name].verdict == \
            r.verdicts[NO_PREMATURE_KILL_STRONG.name].verdict, k.name


def test_strong_reading_is_selectable_by_name():
    assert select(["no_premature_kill[strong]"]) == (NO_PREMATURE_KILL_STRONG,)
