"""process_mrelease() (v5.15+): a second reaper driven from userspace,
racing the oom_reaper and exit_mmap.  The use-after-free of v5.15 (a VMA
list exit_mmap freed without the lock and left in mm->mmap, walked under
the read lock; fixed by f798a1d4f94d) comes out of the exploration, and
so does its absence in v6.1/v6.18 and in a v6.1 with only one of its two
defences."""

from __future__ import annotations

import pytest
from checker_common import replay

from oomnb.checker.run import check
from oomnb.kernel import parse_scenario
from oomnb.kernel.transitions import transitions_for
from oomnb.kernel.versions import ALL, LTS

MRELEASE = ("process_mrelease", "mrelease_lock", "mrelease_reap", "user_sigkill")


def verdict(k, key, prop="no_reap_after_teardown"):
    return check(k, parse_scenario(key)).verdicts[prop]


def test_only_kernels_with_the_syscall_have_it():
    have = {n for n, k in ALL.items() if set(MRELEASE) <= {t.key for t in transitions_for(k)}}
    assert have == {"v5.15", "v6.1", "v6.18"}


def test_v5_15_use_after_free_is_found_and_replays():
    k, sc = LTS["v5.15"], parse_scenario("process-mrelease")
    v = check(k, sc).verdicts["no_reap_after_teardown"]
    assert v.verdict == "violated"
    keys = [s.key for s in v.steps]
    # exit_mmap unmaps and starts freeing without the lock, then process_mrelease walks
    assert keys[-1] == "mrelease_reap" and "exit_mmap_unmap" in keys
    assert keys.index("exit_mmap_unmap") < keys.index("mrelease_lock")
    replay(k, sc, v.steps)


@pytest.mark.parametrize("name", ["v6.1", "v6.18"])
@pytest.mark.parametrize("key", ["process-mrelease", "second-oom+process-mrelease/2t"])
def test_fixed_kernels_hold(name, key):
    assert verdict(ALL[name], key).verdict == "holds"


def test_reverting_the_fix_is_caught():
    """v6.1 without f798a1d4f94d's reset of the VMA tree and without the
    MMF_OOM_SKIP re-check under the lock: process_mrelease walks the freed
    tree after exit_mmap; either defence alone prevents it."""
    k = LTS["v6.1"]
    mutant = k.derive("v6.1-no-f798a1d4f94d", tree_cleared=False, mrelease_skip_check=False)
    v = verdict(mutant, "process-mrelease")
    assert v.verdict == "violated" and v.steps[-1].key == "mrelease_reap"
    replay(mutant, parse_scenario("process-mrelease"), v.steps)
    for kw in ({"tree_cleared": False}, {"mrelease_skip_check": False}):
        assert verdict(k.derive("one-defence", **kw), "process-mrelease").verdict == "holds"


def test_mrelease_keeps_the_mm_alive():
    """process_mrelease holds an mm_count reference (mmgrab) across the
    lock: no dereference of a freed mm_struct in any version that has it."""
    for name in ("v5.15", "v6.1", "v6.18"):
        assert verdict(ALL[name], "process-mrelease", "no_mm_use_after_free").verdict == "holds"
