"""Every counterexample the checker prints replays step by step: each step
is an enabled transition of the model leading to the recorded state, the
fair cycle of a liveness counterexample closes, and the last step (or
state) really is bad for the property."""

from __future__ import annotations

import pytest
from checker_common import replay, result

from oomnb.kernel import STANDARD, parse_scenario
from oomnb.kernel.properties import BY_NAME, EXTRA_BY_NAME, MECH_BY_NAME

BY_NAME = {**BY_NAME, **EXTRA_BY_NAME, **MECH_BY_NAME}  # the mechanisms' own properties too

CASES = [(v, s.key) for s in STANDARD for v in ("v4.5", "v4.8", "v4.9", "v6.18")] + \
    [(v, "victim-oom/2t") for v in ("v4.8", "v4.9")] + \
    [(v, "aio-blocked+suspend+second-oom/1t", "weak-oom_lock") for v in ("v4.8", "v4.9")]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(c))
def test_counterexamples_replay(case):
    r = result(*case)
    k, sc = r.kernel, r.scenario
    n = 0
    for name, v in r.verdicts.items():
        if v.verdict != "violated":
            continue
        n += 1
        assert v.steps, name
        end = replay(k, sc, v.steps)
        p = BY_NAME[name]
        last = v.steps[-1]
        if p.shape == "edge":
            from oomnb.kernel.transitions import BY_KEY
            t = BY_KEY[last.key]
            tags = next(tg for s2, tg in t.fire(k, sc, last.pre, last.instance)
                        if s2 == last.post)
            assert p.bad_edge(k, sc, last.pre, last.actor, t, tags, last.post)
        elif p.shape == "invariant":
            assert p.bad_state(k, sc, end)
        else:
            prefix = [s for s in v.steps if not s.loop]
            states = [s.post for s in v.steps]
            # P held somewhere on the prefix and Q never holds after it
            assert any(p.P(k, sc, s.post) for s in prefix) or p.P(k, sc, prefix[0].pre)
            i = max(j for j, s in enumerate(prefix) if p.P(k, sc, s.post)) \
                if any(p.P(k, sc, s.post) for s in prefix) else 0
            assert not any(p.Q(k, sc, s) for s in states[i:])
    assert n == sum(1 for v in r.verdicts.values() if v.verdict == "violated")


def test_v4_8_disable_contract_counterexample_is_the_74070542099c_race():
    """The reaper clears TIF_MEMDIE remotely, oom_killer_disable() returns,
    and the last step is the victim's own exit path (mmput/exit_mm), as in
    the changelog of 74070542099c; an IO completion is never the step."""
    r = result("v4.8", "aio-blocked+suspend+second-oom/1t")
    steps = r.verdicts["disable_contract[tif]"].steps
    keys = [s.key for s in steps]
    i_clear = next(i for i, s in enumerate(steps) if s.key == "oom_reap_task"
                   and "T0.TIF_MEMDIE=1->0" in s.changes)
    i_ret = keys.index("oom_killer_disable_return")
    assert i_clear < i_ret < len(steps) - 1
    assert steps[-1].actor == "T0" and steps[-1].key in ("mmput", "exit_aio", "exit_mmap_unmap",
                                                         "exit_mmap_free", "exit_oom_victim")
    assert not any(s.key == "aio_complete" and s.actor != "IO" for s in steps)


def test_v4_9_no_premature_kill_is_mmget_not_zero_failing_in_mmput():
    r = result("v4.9", "aio-blocked+suspend+second-oom/1t")
    steps = r.verdicts["no_premature_kill"].steps
    att = next(s for s in steps if s.key == "reap_attempt")
    assert att.pre.mm_users == 0 and att.post.rpc == 4        # gate fails -> done
    assert "w_killed=0->1" in steps[-1].changes


def test_replay_rejects_a_wrong_step():
    r = result("v4.8", "aio-blocked+suspend+second-oom/1t")
    steps = list(r.verdicts["disable_contract[tif]"].steps)
    steps[0], steps[1] = steps[1], steps[0]
    with pytest.raises(AssertionError):
        replay(r.kernel, parse_scenario("aio-blocked+suspend+second-oom"), steps)
