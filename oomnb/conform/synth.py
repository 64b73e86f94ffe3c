"""Synthetic episodes: random behaviours of the model, seen as a capture would.

A random walk of a version's state graph emits, step by step, the lines
that version prints or traces for each observation
(:attr:`oomnb.kernel.observe.Observation.lines`); the episode keeps the
observations that have a line and says that its capture records exactly
those (the version's own instrumentation).  Such an episode must conform
to the version and scenario that produced it: a check of the replay, and
the way simulated traces are compared with the model.
"""

from __future__ import annotations

import numpy as np

from .. import model
from .observed import Episode, Observed

PID0, PID_W = 1000, 2000


def pid_of(subject: str) -> int:
    return PID_W if subject == "W" else PID0 + int(subject[1:])


def capture_of_version(g) -> frozenset:
    """Observations the version emits a line for somewhere in this graph."""
    return frozenset(o.what for e in g.edges() for o in e.observations if o.lines)


def random_episode(version, scenario, seed: int, max_steps: int = 60) -> Episode:
    g = model.state_graph(version, scenario)
    rng = np.random.default_rng(seed)
    u, t, obs = 0, 0.0, []
    for _ in range(max_steps):
        out = list(g.out_edges(u))
        if not out:
            break
        e = out[int(rng.integers(len(out)))]
        t += 0.001
        for o in e.observations:
            if o.lines:
                obs.append(Observed(o.what, pid_of(o.subject), round(t, 6), o.lines[0],
                                    f"{e.key}"))
        u = e.dst
    n = g.scenario.threads
    return Episode(f"sim/{g.kernel.name}/{g.scenario.key}/{seed}", "sim", None, None, PID0,
                   tuple(PID0 + i for i in range(n)), obs, capture_of_version(g),
                   clock="sim", release=g.kernel.release)
