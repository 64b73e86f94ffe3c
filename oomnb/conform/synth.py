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


def random_walk(g, seed: int, max_steps: int = 60, t0: float = 0.0):
    """``(time, edge)`` of a seeded random path through state graph ``g``
    from the initial state, one step a millisecond."""
    rng = np.random.default_rng(seed)
    u, t = 0, t0
    for _ in range(max_steps):
        out = list(g.out_edges(u))
        if not out:
            return
        e = out[int(rng.integers(len(out)))]
        t += 0.001
        yield t, e
        u = e.dst


def random_episode(version, scenario, seed: int, max_steps: int = 60) -> Episode:
    g = model.state_graph(version, scenario)
    obs = []
    for t, e in random_walk(g, seed, max_steps):
        for o in e.observations:
            if o.lines:
                obs.append(Observed(o.what, pid_of(o.subject), round(t, 6), o.lines[0],
                                    f"{e.key}"))
    n = g.scenario.threads
    return Episode(f"sim/{g.kernel.name}/{g.scenario.key}/{seed}", "sim", None, None, PID0,
                   tuple(PID0 + i for i in range(n)), obs, capture_of_version(g),
                   clock="sim", release=g.kernel.release)


def _trace_line(name: str, pid: int, t: float, comm: str) -> str:
    from .. import events as ev
    if name in (ev.SCHED_PROCESS_EXIT, ev.SCHED_PROCESS_FREE):
        body = f"comm={comm} pid={pid} prio=120"
        if name == ev.SCHED_PROCESS_EXIT:
            body += " group_dead=true"
    elif name == ev.MARK_VICTIM:
        body = (f"pid={pid} comm={comm} total-vm=1000kB anon-rss=900kB file-rss:0kB "
                f"shmem-rss:0kB uid=0 pgtables=8kB oom_score_adj=0")
    else:
        body = f"pid={pid}"
    return f"{comm:>16}-{pid:<7} [000] .....  {t:.6f}: {name}: {body}"


def _log_line(name: str, pid: int, t: float, comm: str) -> str:
    from .. import events as ev
    text = {
        ev.KILLED: f"Memory cgroup out of memory: Killed process {pid} ({comm}) total-vm:1000kB, "
                   f"anon-rss:900kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:8kB "
                   f"oom_score_adj:0",
        ev.REAPED: f"oom_reaper: reaped process {pid} ({comm}), now anon-rss:0kB, "
                   f"file-rss:0kB, shmem-rss:0kB",
        ev.REAP_UNABLE_LINE: f"oom_reaper: unable to reap pid:{pid} ({comm})",
    }[name]
    return f"[{t:12.6f}] {text}"


def text_files(version, scenario, seed: int, max_steps: int = 60, comm: str = "victim"):
    """A random behaviour as the files a capture of it would hold:
    ``(trace text, log text)`` with every line the version emits (ftrace
    format for tracepoints and sched events, kernel-log format for printk
    lines, one clock)."""
    from .. import events as ev
    g = model.state_graph(version, scenario)
    trace, log = [], []
    for t, e in random_walk(g, seed, max_steps, t0=1000.0):
        for o in e.observations:
            for name in o.lines:
                pid = pid_of(o.subject)
                if ev.EVENTS[name].kind == "printk":
                    log.append(_log_line(name, pid, t, comm))
                else:
                    trace.append(_trace_line(name, pid, t, comm))
    head = "# tracer: nop\n#\n"
    return head + "\n".join(trace) + "\n", "\n".join(log) + "\n"
