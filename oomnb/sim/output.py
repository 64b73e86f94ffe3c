"""Simulated episodes in the traces' own schema, summaries and timelines.

* :func:`events_table`: the rows the readers produce from real traces
  (columns of :data:`oomnb.trace.reader.COLUMNS`), one per line the
  version emits for each observation (:mod:`oomnb.kernel.observe`);
* :func:`episodes_table`: those rows through the same episode builder as
  real traces (:func:`oomnb.trace.episodes.build_episodes`), so every
  plot and check of real episodes takes simulated ones too;
* :func:`summary`: Monte Carlo summaries (time until the OOM killer may
  select again, until the memory is unmapped, until the victim is freed;
  premature second kills; reaper attempts; the ``unable to reap`` rate);
* :func:`timeline`: one episode as slices per actor (victim threads,
  oom_reaper, the allocating task, IO, the reaper timer) with the moments
  that matter, for swimlanes, ASCII and Perfetto.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import events as ev
from ..kernel.state import (KWORKER, MEM_STILL_MAPPED, MMF_SKIP, PC_NAMES, R_IDLE, R_NAMES, RELEASED, RUN,
                            TP_DONE, TP_NAMES, TP_NONE)
from .engine import MARK

PID0 = 1000          # simulated victim pids: PID0 + 10 * episode (+ thread index)
KB = 1024.0

#: (summary key, start mark, end mark) of the latencies, all from the kill
LATENCIES = (
    ("kill_to_reaper_wake", ev.KILL, ev.REAPER_WAKE),
    ("kill_to_reap_start", ev.KILL, ev.REAP_START),
    ("kill_to_may_select", ev.KILL, "may_select"),
    ("kill_to_unmapped", ev.KILL, "unmapped"),
    ("kill_to_mmf_skip", ev.KILL, "mmf_skip"),
    ("kill_to_exit_start", ev.KILL, ev.EXIT_START),
    ("kill_to_free", ev.KILL, "freed"),
    ("kill_to_second_kill", ev.KILL, ev.KILL_OTHER),
    ("reap_duration", ev.REAP_START, ev.REAP_FINISH),
)


def latencies(eps) -> pd.DataFrame:
    """One row per simulated episode: the latencies of :data:`LATENCIES`
    (NaN where it never happened), reaper attempts, premature second
    kills, ``unable`` and the RSS."""
    out = {}
    for name, a, b in LATENCIES:
        with np.errstate(invalid="ignore"):
            d = eps.mark(b) - eps.mark(a)
        out[name] = np.where(np.isfinite(d), d, np.nan)
    out["reap_attempts"] = eps.attempts
    out["premature_kills"] = eps.premature
    out["unable"] = np.isfinite(eps.mark(ev.REAP_UNABLE))
    out["anon_rss_kb"] = eps.rss / KB
    return pd.DataFrame(out)


def _q(x) -> dict:
    x = np.asarray(x, float)
    f = x[np.isfinite(x)]
    if not f.size:
        return {"reached": 0.0}
    p = np.quantile(f, [0.05, 0.5, 0.95])
    return {"reached": round(f.size / x.size, 6), "p05": float(p[0]), "median": float(p[1]),
            "p95": float(p[2]), "mean": float(f.mean()), "max": float(f.max())}


def summary(eps) -> dict:
    """Monte Carlo summary of a run (JSON-ready)."""
    lat = latencies(eps)
    c = eps.compiled
    return {
        "kernel": c.kernel.name, "scenario": c.scenario.key, "runs": int(eps.n), "seed": eps.seed,
        "horizon_s": eps.horizon,
        "laws": {k: str(v) for k, v in sorted(eps.laws.items())},
        "latency_s": {name: _q(lat[name]) for name, _, _ in LATENCIES},
        "reap_attempts": {"mean": float(lat.reap_attempts.mean()), "max": int(lat.reap_attempts.max())},
        "premature_second_kill_rate": float((lat.premature_kills > 0).mean()),
        "second_kill_rate": float(np.isfinite(eps.mark(ev.KILL_OTHER)).mean()),
        "unable_to_reap_rate": float(lat.unable.mean()),
        "unmapped_before_io_done": int((eps.mark("unmapped") < eps.mark("io_done")).sum()),
        "settled_rate": float(eps.settled.mean()),
    }


# --- the events table ----------------------------------------------------------

def _steps(eps):
    """Per episode: [(time, armed time, edge)] in firing order."""
    if not eps.trail:
        raise ValueError("run the simulation with record=True")
    e, ed, t, a = eps.trail
    order = np.lexsort((np.arange(e.size), e))
    out = {}
    for i in order:
        out.setdefault(int(e[i]), []).append((float(t[i]), float(a[i]), int(ed[i])))
    return out


def _pid(ep: int, subject: str) -> int:
    if subject == "W":
        return PID0 + 10 * ep + 9
    return PID0 + 10 * ep + int(subject[1:])


def events_table(eps, *, machine: str | None = None, episodes=None) -> pd.DataFrame:
    """The simulated lines as an events table (:data:`oomnb.trace.reader.COLUMNS`):
    tracepoints in clock ``trace:sim``, printk lines in ``printk`` (the
    same time base), one ``run`` per episode."""
    from ..trace.reader import COLUMNS
    c = eps.compiled
    machine = machine or f"sim-{c.kernel.name}"
    rows = []
    steps = _steps(eps)
    for ep in sorted(steps) if episodes is None else episodes:
        run = f"{c.scenario.name}-{ep}"
        rss_kb = float(eps.rss[ep] / KB)
        line = 0
        for t, _, j in steps.get(ep, ()):
            e = c.edges[j]
            s, s2 = c.graph.states[e.src], c.graph.states[e.dst]
            for o in e.observations:
                for name in o.lines:
                    line += 1
                    evt = ev.EVENTS[name]
                    r = dict.fromkeys(COLUMNS)
                    r.update(machine=machine, run=run, source=f"<sim {run}>", line=line,
                             format="sim", kind=name, ts=t, ts_raw=f"{t:.6f}",
                             clock="printk" if evt.kind == "printk" else "trace:sim",
                             pid=_pid(ep, o.subject), comm="victim" if o.subject != "W" else "other",
                             in_run=True, dup=False, truncated=False)
                    if name in (ev.MARK_VICTIM, ev.KILLED) and o.subject != "W":
                        r.update(anon_rss_kb=rss_kb, file_rss_kb=0.0, shmem_rss_kb=0.0)
                    if name == ev.REAPED:
                        r.update(anon_rss_kb=0.0 if s2.mem not in MEM_STILL_MAPPED else rss_kb,
                                 file_rss_kb=0.0, shmem_rss_kb=0.0)
                    if name == ev.SCHED_PROCESS_EXIT and o.what == ev.EXIT_START:
                        r["group_dead"] = all(th[0] != RUN for th in s2.th)
                    if name == ev.SIGNAL_GENERATE:
                        r["sig"] = 9
                    r["raw"] = f"{name} {o}"
                    rows.append(r)
    return pd.DataFrame(rows, columns=COLUMNS)


def episodes_table(eps, *, machine: str | None = None, episodes=None) -> pd.DataFrame:
    """The simulated events through the real traces' episode builder
    (columns of :func:`oomnb.trace.df_episodes`)."""
    from ..trace.episodes import build_episodes
    evt = events_table(eps, machine=machine, episodes=episodes)
    c = eps.compiled
    metas = {(m, r): {"scenario": c.scenario.name, "limit_bytes": None}
             for m, r in set(zip(evt.machine, evt.run))}
    return build_episodes(evt, metas=metas)


@dataclass(frozen=True)
class SimStep:
    """One recorded step, in the shape :func:`oomnb.model.replay` accepts."""

    n: int
    key: str
    instance: object
    pre: object
    post: object


def recorded_steps(eps, ep: int) -> list:
    """The model steps episode ``ep`` took (replayable with
    :func:`oomnb.model.replay`), with the lines they emitted."""
    c = eps.compiled
    out = []
    for n, (_, _, j) in enumerate(_steps(eps).get(ep, ()), 1):
        e = c.edges[j]
        out.append(SimStep(n, e.key, e.instance, c.graph.states[e.src], c.graph.states[e.dst]))
    return out


# --- timelines -------------------------------------------------------------------

@dataclass
class Timeline:
    """One episode as slices per actor: ``lanes[actor] = [(t0, t1, label)]``,
    ``moments = [(t, label)]``, ``memory = [(t, bytes)]``."""

    kernel: str
    scenario: str
    lanes: dict = field(default_factory=dict)
    moments: list = field(default_factory=list)
    memory: list = field(default_factory=list)
    end: float = 0.0


def _phases(s, n_threads) -> dict:
    out = {}
    for i, (pc, md, _) in enumerate(s.th):
        if pc == RUN:
            lab = "SIGKILL pending" if s.killed else None
        elif pc == RELEASED:
            lab = None
        else:
            lab = PC_NAMES[pc]
        if s.town == i and s.tpc not in (TP_NONE, TP_DONE):
            lab = f"{TP_NAMES[s.tpc]} (__mmput)"
        out[f"victim T{i}"] = lab
    if s.town == KWORKER and s.tpc not in (TP_NONE, TP_DONE):
        out["kworker"] = f"{TP_NAMES[s.tpc]} (__mmput)"
    out["oom_reaper"] = None if s.rpc == R_IDLE else R_NAMES[s.rpc]
    out["OOM killer (A)"] = "holds oom_lock" if s.apc else None
    out["IO"] = "AIO in flight" if s.io else None
    out["timer"] = "OOM_REAPER_DELAY" if s.rtimers else None
    out["mmap_lock holder"] = "holds mmap_lock" if s.lockf else None
    return out


LANE_ORDER = ("victim T0", "victim T1", "victim T2", "kworker", "oom_reaper", "timer",
              "OOM killer (A)", "IO", "mmap_lock holder")

_MOMENT = {ev.KILL: "kill", ev.REAPER_WAKE: "reaper wake", ev.REAP_START: "reap",
           ev.REAP_SKIP: "reap skipped", ev.KILL_OTHER: "second kill", ev.EXIT_START: "exit",
           ev.REAP_UNABLE: "unable to reap", ev.FREE: "free"}


def timeline(eps, ep: int = 0) -> Timeline:
    """Episode ``ep`` of a recorded run as a :class:`Timeline`."""
    c = eps.compiled
    g = c.graph
    steps = _steps(eps).get(ep, [])
    tl = Timeline(c.kernel.name, c.scenario.name)
    rss = float(eps.rss[ep])
    s = g.states[0]
    cur = {a: (0.0, lab) for a, lab in _phases(s, len(s.th)).items() if lab}
    tl.memory.append((0.0, rss))
    skip_seen = False
    for t, armed, j in steps:
        e = c.edges[j]
        s2 = g.states[e.dst]
        for o in e.observations:
            lab = _MOMENT.get(o.what)
            if lab and not (o.what == ev.KILL and o.subject == "W"):
                tl.moments.append((t, lab))
        if not skip_seen and s2.mmf & MMF_SKIP:
            skip_seen = True
            tl.moments.append((t, "MMF_OOM_SKIP"))
        if s.mem in MEM_STILL_MAPPED and s2.mem not in MEM_STILL_MAPPED:
            tl.memory += [(armed, rss), (t, 0.0)]
        ph = _phases(s2, len(s2.th))
        for a in set(cur) | {a for a, lab in ph.items() if lab}:
            old = cur.get(a)
            new = ph.get(a)
            if old is not None and old[1] != new:
                if t > old[0]:
                    tl.lanes.setdefault(a, []).append((old[0], t, old[1]))
                del cur[a]
            if new and a not in cur:
                cur[a] = (t, new)
        s = s2
    end = steps[-1][0] if steps else 0.0
    tl.end = end
    for a, (t0, lab) in cur.items():
        if end > t0:
            tl.lanes.setdefault(a, []).append((t0, end, lab))
    tl.memory.append((end, tl.memory[-1][1]))
    tl.lanes = {a: tl.lanes[a] for a in LANE_ORDER if a in tl.lanes}
    return tl


def perfetto_events(timelines) -> list:
    """Chrome trace-event JSON events: one process per timeline, one
    thread (track) per actor, an outer slice per track with the phases
    nested inside, instants for the moments."""
    from ..trace.perfetto import check_nesting
    out = []
    us = 1e6
    for p, tl in enumerate(timelines, 1):
        out.append({"ph": "M", "name": "process_name", "pid": p, "tid": 0,
                    "args": {"name": f"{tl.kernel} {tl.scenario}"}})
        for tid, (actor, sls) in enumerate(tl.lanes.items(), 1):
            out.append({"ph": "M", "name": "thread_name", "pid": p, "tid": tid, "args": {"name": actor}})
            # whole microseconds: integer sums, so nesting is exact
            r = [(int(round(a * us)), int(round(b * us)), lab) for a, b, lab in sls]
            x = [{"ph": "X", "pid": p, "tid": tid, "cat": actor, "name": actor,
                  "ts": r[0][0], "dur": r[-1][1] - r[0][0]}]
            x += [{"ph": "X", "pid": p, "tid": tid, "cat": actor, "name": lab, "ts": a,
                   "dur": b - a} for a, b, lab in r]
            if not check_nesting([(e["ts"], e["dur"]) for e in x]):   # pragma: no cover
                raise AssertionError(f"overlapping slices on {actor}")
            out += x
        for t, lab in tl.moments:
            out.append({"ph": "i", "s": "p", "pid": p, "tid": 0, "name": lab, "ts": int(round(t * us))})
    return out


def write_perfetto(timelines, path) -> int:
    import json
    evs = perfetto_events(timelines)
    with open(path, "w") as f:
        json.dump({"traceEvents": evs, "displayTimeUnit": "ms"}, f, indent=0)
    return sum(1 for e in evs if e["ph"] == "X")


_LETTER = {"SIGKILL pending": "s", "EXITING": "e", "MMPUT": "m", "__MMPUT": "m",
           "exit_aio (__mmput)": "A", "exit_mmap:unmap (__mmput)": "U",
           "exit_mmap:skip (__mmput)": "u", "exit_mmap:free (__mmput)": "u", "EXIT_OOM": "o",
           "POST_EXIT_MM": "p", "DEAD": "d", "attempt": "a", "unmapping": "R", "sleep": "z",
           "done": "d", "holds oom_lock": "L",
           "AIO in flight": "~", "OOM_REAPER_DELAY": "-", "holds mmap_lock": "#"}


def ascii_timelines(timelines, width: int = 72, t_max: float | None = None) -> str:
    """The timelines one under another on a common time axis, ``width``
    columns: one row per actor (a letter per phase), a row of moments."""
    lab_w = 12
    cols = width - lab_w - 1
    t_max = t_max or max(tl.end for tl in timelines) or 1.0
    pos = lambda t: min(cols - 1, int(t / t_max * cols))  # noqa: E731
    lines = []
    for tl in timelines:
        lines.append(f"{tl.kernel} {tl.scenario}"[:width])
        for actor, sls in tl.lanes.items():
            row = [" "] * cols
            for a, b, lab in sls:
                for x in range(pos(a), max(pos(a), pos(b)) + 1):
                    row[x] = _LETTER.get(lab, "?")
            name = actor.replace("victim ", "").replace("OOM killer (A)", "killer A")
            lines.append(f"{name[:lab_w]:<{lab_w}} " + "".join(row).rstrip())
        mrow = [" "] * cols
        keys = {"kill": "K", "reaper wake": "W", "reap": "R", "MMF_OOM_SKIP": "S",
                "second kill": "2", "exit": "X", "free": "F", "unable to reap": "U"}
        for t, lab in tl.moments:
            if lab in keys and mrow[pos(t)] == " ":
                mrow[pos(t)] = keys[lab]
        lines.append(f"{'moments':<{lab_w}} " + "".join(mrow).rstrip())
        seen, words = set(), []
        for t, lab in sorted(tl.moments):
            if lab in keys and lab not in seen:
                seen.add(lab)
                words.append(f"{keys[lab]} {t * 1e3:.0f}ms" if t < 1 else f"{keys[lab]} {t:.2f}s")
        row, rows = "", []
        for w in words:
            if len(row) + len(w) + 2 > width - lab_w - 1:
                rows.append(row)
                row = ""
            row = f"{row}, {w}" if row else w
        rows.append(row)
        for r in rows:
            lines.append(" " * (lab_w + 1) + r)
        lines.append("")
    ticks = [0, cols // 2, cols - 1]
    axis = [" "] * cols
    for x in ticks:
        axis[x] = "|"
    lines.append(f"{'time':<{lab_w}} " + "".join(axis))
    lab = [" "] * cols
    for x in ticks:
        txt = f"{x / cols * t_max:.2f}s"
        st = min(x, cols - len(txt))
        lab[st:st + len(txt)] = txt
    lines.append(" " * (lab_w + 1) + "".join(lab).rstrip())
    lines.append("moments: K kill, W reaper wake, R reap, S MMF_OOM_SKIP, 2 second kill,")
    lines.append("X exit, F free; phases: s SIGKILL pending, e exiting, A exit_aio,")
    lines.append("U exit_mmap unmap, R reaper unmapping, a attempt, z sleep, - timer,")
    lines.append("~ AIO in flight, L killer holds oom_lock (each retry), d done")
    return "\n".join(x.rstrip() for x in lines)


def _nan(x):
    return x is None or (isinstance(x, float) and math.isnan(x))


__all__ = ["summary", "latencies", "events_table", "episodes_table", "recorded_steps", "SimStep",
           "Timeline", "timeline", "perfetto_events", "write_perfetto", "ascii_timelines",
           "LATENCIES"]
