"""Shared, cached checker runs for tests/test_checker_*.py (not a test module)."""

from __future__ import annotations

import functools
import runpy
from pathlib import Path

from oomnb.checker.run import check
from oomnb.kernel import STANDARD, VERSIONS, parse_scenario

MUTANTS = Path(__file__).parent / "mutants"


@functools.lru_cache(maxsize=None)
def result(version: str, scenario_key: str, mode: str = "standard"):
    sc = next((s for s in STANDARD if s.key == scenario_key), None) or parse_scenario(scenario_key)
    k = VERSIONS[version] if version in VERSIONS else load_mutant(version)[0]
    return check(k, sc, mode=mode)


@functools.lru_cache(maxsize=None)
def result_of(kernel, scenario_key: str, mode: str = "standard"):
    """A cached run of a kernel object (extra versions, fixes)."""
    sc = next((s for s in STANDARD if s.key == scenario_key), None) or parse_scenario(scenario_key)
    return check(kernel, sc, mode=mode)


@functools.lru_cache(maxsize=None)
def load_mutant(name: str):
    path = next(MUTANTS.glob(name + "*.py"))
    ns = runpy.run_path(str(path))
    return ns["KERNEL"], ns["EXPECT"], path


def replay(kernel, scenario, steps):
    """Replay a counterexample step by step; every step must be enabled
    (:func:`oomnb.model.replay`), and a fair cycle must close."""
    from oomnb.model import ReplayError
    from oomnb.model import replay as model_replay
    try:
        s, _ = model_replay(kernel, scenario, steps)
    except ReplayError as e:
        raise AssertionError(str(e)) from None
    loop = [st for st in steps if st.loop]
    if loop:
        assert s == loop[0].pre, "the fair cycle does not close"
    return s
