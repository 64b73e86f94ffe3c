"""Executable model of the OOM killer, the victim's exit path and the
oom_reaper, shared by the checker, the simulator, the bounds and the trace
conformance check.  See :mod:`oomnb.kernel.transitions` for the one
transition set and :mod:`oomnb.kernel.versions` for the versions.

Reuse (simulator, bounds, trace conformance)::

    from oomnb.kernel import VERSIONS, parse_scenario, initial_state, successors
    k, sc = VERSIONS["v6.18"], parse_scenario("aio-blocked+suspend")
    s = initial_state(k, sc)
    for t, inst, s2, tags in successors(k, sc, s):
        t.actor_of(s, inst)   # "T0", "oom_reaper", "timer", "kworker", ...
        k.fn_name(t)          # kernel function in this version
        t.delay               # what decides its duration (oomnb.kernel.timing)
        observe(k, t, inst, s, s2, tags)   # observations + lines it emits
        t.cite, t.doc         # citation, what the step abstracts

:mod:`oomnb.model` wraps this as explored state graphs (edges with
observations and delay classes), replays and the map from the
collector's scenarios to the model's.
"""

from .kernel import Kernel
from .observe import Observation, observe
from .scenario import STANDARD, Scenario, parse_scenario
from .state import State
from .transitions import BY_KEY, TRANSITIONS, initial_state, successors, transitions_for
from .versions import VERSIONS, load_kernel

__all__ = ["Kernel", "Scenario", "STANDARD", "parse_scenario", "State", "TRANSITIONS", "BY_KEY",
           "initial_state", "successors", "transitions_for", "VERSIONS", "load_kernel",
           "Observation", "observe"]
