"""Executable model of the OOM killer, the victim's exit path and the
oom_reaper, shared by the checker, the simulator, the bounds and the trace
conformance check.  See :mod:`oomnb.kernel.transitions` for the one
transition set and :mod:`oomnb.kernel.versions` for the versions."""

from .kernel import Kernel
from .scenario import STANDARD, Scenario, parse_scenario
from .state import State
from .transitions import BY_KEY, TRANSITIONS, initial_state, successors, transitions_for
from .versions import VERSIONS, load_kernel

__all__ = ["Kernel", "Scenario", "STANDARD", "parse_scenario", "State", "TRANSITIONS", "BY_KEY",
           "initial_state", "successors", "transitions_for", "VERSIONS", "load_kernel"]
