"""Shared, cached checker runs for tests/test_checker_*.py (not a test module)."""

from __future__ import annotations

import functools
import runpy
from pathlib import Path

from oomnb.checker.run import check
from oomnb.kernel import STANDARD, VERSIONS, parse_scenario
from oomnb.kernel.transitions import BY_KEY, initial_state

MUTANTS = Path(__file__).parent / "mutants"


@functools.lru_cache(maxsize=None)
def result(version: str, scenario_key: str, mode: str = "standard"):
    sc = next((s for s in STANDARD if s.key == scenario_key), None) or parse_scenario(scenario_key)
    k = VERSIONS[version] if version in VERSIONS else load_mutant(version)[0]
    return check(k, sc, mode=mode)


@functools.lru_cache(maxsize=None)
def load_mutant(name: str):
    path = next(MUTANTS.glob(name + "*.py"))
    ns = runpy.run_path(str(path))
    return ns["KERNEL"], ns["EXPECT"], path


def replay(kernel, scenario, steps):
    """Replay a counterexample step by step; every step must be enabled."""
    s = initial_state(kernel, scenario)
    loop_start = None
    for st in steps:
        if st.loop and loop_start is None:
            loop_start = st.pre
        assert st.pre == s, f"step {st.n} does not start where the previous one ended"
        outs = [s2 for s2, tags in BY_KEY[st.key].fire(kernel, scenario, s, st.instance)]
        assert outs, f"step {st.n} {st.key} is not enabled"
        assert st.post in outs, f"step {st.n} {st.key} does not lead to the recorded state"
        s = st.post
    if loop_start is not None:
        assert s == loop_start, "the fair cycle does not close"
    return s
