"""Timelines of victim and oom_reaper: the kernel model driven by time.

The simulator executes the model's own transitions (the explored state
graph of :func:`oomnb.model.state_graph`) as a timed race: each enabled
transition instance holds a clock drawn from its delay class's law, the
earliest fires (:mod:`oomnb.sim.engine`).  Laws are named distributions
fitted from the shipped traces (:mod:`oomnb.calibrate`,
:mod:`oomnb.sim.laws`), overridable by spec strings.  Simulated runs come
out in the traces' own schema (:mod:`oomnb.sim.output`)::

    from oomnb import sim
    eps = sim.simulate("v6.18", "aio-blocked", runs=1000, seed=1)
    sim.summary(eps)["latency_s"]["kill_to_reap_start"]["median"]
    eps = sim.simulate("v4.9", "aio-blocked+second-oom", runs=5, record=True)
    sim.episodes_table(eps)            # columns of oomnb.trace.df_episodes
    sim.timeline(eps, 0)               # slices per actor, moments, memory

Sweeps run in local processes or on a Dask cluster
(:mod:`oomnb.sim.sweep`).
"""

from __future__ import annotations

import functools

from .engine import Episodes, compile_graph, run
from .laws import DEFAULTS, Law, parse_overrides, resolve
from .output import (ascii_timelines, episodes_table, events_table, latencies, recorded_steps,
                     summary, timeline, write_perfetto)
from .sweep import grid, sweep


@functools.lru_cache(maxsize=1)
def calibration():
    """The calibration of the shipped data (once per process)."""
    from ..calibrate import calibrate_data
    return calibrate_data()


def simulate(kernel, scenario, runs: int = 1000, seed: int = 0, *, laws=None,
             calibrated: bool = True, machine: str = "all", horizon: float = 60.0,
             record: bool = False) -> Episodes:
    """Simulate ``runs`` episodes of ``kernel`` (name, ``FILE.py`` or
    object) in ``scenario`` with the calibrated laws (``laws``: spec
    overrides, ``{"reap_throughput": "const:8e9"}``)."""
    c = compile_graph(kernel, scenario)
    lw = resolve(laws, calibration=calibration() if calibrated else None, machine=machine,
                 hz=c.kernel.hz)
    return run(c, lw, runs, seed, horizon=horizon, record=record)


__all__ = ["simulate", "calibration", "compile_graph", "run", "Episodes", "resolve", "Law",
           "DEFAULTS", "parse_overrides", "summary", "latencies", "events_table",
           "episodes_table", "recorded_steps", "timeline", "ascii_timelines", "write_perfetto",
           "grid", "sweep"]
